// State-of-the-world ADS (StreamAggregatedResources) over the shared stream core.
//
// Protocol rules kept here (Envoy's xDS protocol docs):
// - a request whose response_nonce is not the latest one sent for its type is stale and
//   ignored; a NACK (error_detail set) records the refused version and leaves the proxy on
//   its last good config: that version is not resent;
// - LDS/CDS with no names (or '*') is a wildcard subscription; RDS/EDS are by name; a
//   changed subscription is answered even when the version did not change;
// - an LDS/CDS response carries the type's whole served set (a listener or cluster missing
//   from it is deleted); an RDS/EDS response carries only the subscribed resources the
//   client does not hold as of its last ACK (absence is not deletion for these types), so a
//   change to one group's routes sends that group's route configurations only.
import type { XdsTypeUrl } from '../../proto/envoy.ts';
import type { DiscoveryRequest__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { Snapshot, TypeSnapshot } from '../cache.ts';
import type { XdsResource } from '../translate.ts';
import type { SotwParts } from './encode.ts';
import { AdsStream, WILDCARD_TYPES, newTypeState, type AdsCall, type StreamContext, type TypeStateBase } from './core.ts';

interface SotwTypeState extends TypeStateBase {
  /** true once the client named resources explicitly (then empty means none) */
  explicit: boolean;
  /** the subscription now, as a key (kept with the subscription, not recomputed per push) */
  subscription: string;
  /** the subscription the last response was built for */
  sentFor: string | undefined;
  /** the subscription as a small id (subscriptions are interned: keys stay short at any size) */
  subscriptionId: number;
  /**
   * RDS/EDS: what the client holds once it applies the last response, and as of its last
   * ACK: the subscribed resources of that type set (shared, not copied per stream)
   */
  sentHeld: Held | undefined;
  ackedHeld: Held | undefined;
}

interface Held {
  type: TypeSnapshot;
  subscriptionId: number;
  subscribed: (r: XdsResource) => boolean;
}

const subscriptionKey = (wildcard: boolean, names: readonly string[]) => (wildcard ? '*|' : '') + [...names].sort().join(',');

// subscriptions seen lately, as ids: equal subscriptions, equal ids (responses are cached by
// them). Ids are never reused, so forgetting them all (bounded memory) only costs sharing.
const subscriptionIds = new Map<string, number>();
let lastSubscriptionId = 0;
function internSubscription(key: string): number {
  let id = subscriptionIds.get(key);
  if (id === undefined) {
    if (subscriptionIds.size >= 4096) subscriptionIds.clear();
    id = ++lastSubscriptionId;
    subscriptionIds.set(key, id);
  }
  return id;
}

export class SotwStream extends AdsStream<SotwTypeState> {
  constructor(ctx: StreamContext, call: AdsCall) {
    super(ctx, 'sotw', call);
  }

  onRequest(req: DiscoveryRequest__Output): void {
    const url = this.admit(req.node, req.type_url, 'DiscoveryRequest');
    if (!url) return;
    let state = this.types.get(url);
    const nonce = req.response_nonce ?? '';
    if (state && nonce !== '' && nonce !== state.sentNonce) {
      this.log.debug({ streamId: this.ctx.streamId, typeUrl: url, nonce }, 'stale nonce ignored');
      return;
    }
    if (!state) {
      state = { ...newTypeState(), explicit: false, subscription: '', subscriptionId: 0, sentFor: undefined, sentHeld: undefined, ackedHeld: undefined };
      this.types.set(url, state);
    }
    if (this.settle(url, state, { nonce, error: req.error_detail, clientVersion: req.version_info ?? '' }) === 'ack' && state.sentHeld) {
      state.ackedHeld = state.sentHeld;
    }
    this.updateSubscription(url, state, req.resource_names ?? []);
    this.answer(url, state);
  }

  private updateSubscription(url: XdsTypeUrl, state: SotwTypeState, names: string[]): void {
    const named = names.filter((n) => n !== '*');
    let wildcard: boolean;
    if (names.includes('*')) {
      wildcard = true;
    } else if (named.length === 0 && !state.explicit && WILDCARD_TYPES.has(url)) {
      wildcard = true;
    } else {
      wildcard = false;
    }
    if (named.length > 0) state.explicit = true;
    const key = subscriptionKey(wildcard, named);
    // an ACK repeats the subscription: nothing to record then
    if (key === state.subscription && state.sentNonce !== undefined) return;
    state.wildcard = wildcard;
    state.names = new Set(named);
    state.subscription = key;
    state.subscriptionId = internSubscription(key);
    this.registry.subscribed(this.ctx.streamId, url, state.wildcard ? '*' : state.names);
  }

  protected push(url: XdsTypeUrl, state: SotwTypeState, snap: Snapshot): void {
    const type = snap.types[url];
    const sameSubscription = state.subscription === state.sentFor;
    if (sameSubscription && (type.version === state.sentVersion || type.version === state.nackedVersion)) return;
    if (!state.wildcard && state.names.size === 0 && state.sentVersion === undefined && !WILDCARD_TYPES.has(url)) {
      return; // nothing asked for yet
    }
    const nonce = this.nextNonce();
    const { names, wildcard } = state;
    const subscribed = (r: XdsResource) => names.has(r.name) || (wildcard && !r.onlyByName);
    let parts: SotwParts = { url, type, subscriptionKey: String(state.subscriptionId), selects: subscribed };
    if (!WILDCARD_TYPES.has(url)) {
      // RDS/EDS: only what the client does not hold as of its last ACK (not its last
      // response: that one may yet be NACKed); absence is not deletion for these types
      state.sentHeld = { type, subscriptionId: state.subscriptionId, subscribed };
      const acked = state.ackedHeld;
      if (acked) {
        const had = (r: XdsResource) => acked.subscribed(r) && acked.type.resources.get(r.name)?.hash === r.hash;
        parts = {
          url,
          type,
          // the same selection for every stream with this subscription and this ACKed set
          subscriptionKey: `${state.subscriptionId}|since:${acked.type.version}|${acked.subscriptionId}`,
          selects: (r) => subscribed(r) && !had(r),
          // built from the ACKed set under the same subscription: only the changed can differ
          ...(type.delta?.from === acked.type.version && acked.subscriptionId === state.subscriptionId
            ? { candidates: type.delta.changed }
            : {}),
        };
      }
    }
    const { bytes } = this.encoder.sotw(parts, nonce);
    state.sentVersion = type.version;
    state.sentSet = type;
    state.sentNonce = nonce;
    state.sentFor = state.subscription;
    this.send(url, type.version, nonce, bytes);
  }
}
