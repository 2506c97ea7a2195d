// State-of-the-world ADS (StreamAggregatedResources) over the shared stream core.
//
// Protocol rules kept here (Envoy's xDS protocol docs):
// - a request whose response_nonce is not the latest one sent for its type is stale and
//   ignored; a NACK (error_detail set) records the refused version and leaves the proxy on
//   its last good config: that version is not resent;
// - LDS/CDS with no names (or '*') is a wildcard subscription; RDS/EDS are by name; a
//   changed subscription is answered even when the version did not change;
// - a response carries the type's whole served set (for the names subscribed).
import type { XdsTypeUrl } from '../../proto/envoy.ts';
import type { DiscoveryRequest__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { Snapshot } from '../cache.ts';
import { AdsStream, WILDCARD_TYPES, newTypeState, type AdsCall, type StreamContext, type TypeStateBase } from './core.ts';

interface SotwTypeState extends TypeStateBase {
  /** true once the client named resources explicitly (then empty means none) */
  explicit: boolean;
  /** the subscription now, as a key (kept with the subscription, not recomputed per push) */
  subscription: string;
  /** the subscription the last response was built for */
  sentFor: string | undefined;
}

const subscriptionKey = (wildcard: boolean, names: readonly string[]) => (wildcard ? '*|' : '') + [...names].sort().join(',');

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
      state = { ...newTypeState(), explicit: false, subscription: '', sentFor: undefined };
      this.types.set(url, state);
    }
    this.settle(url, state, { nonce, error: req.error_detail, clientVersion: req.version_info ?? '' });
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
    const { bytes } = this.encoder.sotw(
      { url, type, subscriptionKey: state.subscription, selects: (r) => names.has(r.name) || (wildcard && !r.onlyByName) },
      nonce,
    );
    state.sentVersion = type.version;
    state.sentSet = type;
    state.sentNonce = nonce;
    state.sentFor = state.subscription;
    this.send(url, type.version, nonce, bytes);
  }
}
