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
  /** the subscription now (interned: streams that subscribe alike share one) */
  sub: Subscription;
  /** the subscription the last response was built for, as its key */
  sentFor: string | undefined;
  /**
   * RDS/EDS: what the client holds once it applies the last response, and as of its last
   * ACK: the subscribed resources of that type set (shared by every stream alike, not
   * copied per stream)
   */
  sentHeld: Held | undefined;
  ackedHeld: Held | undefined;
}

/**
 * One subscription (a type's names, or wildcard), shared by every stream that subscribes
 * alike: its selection is built once, not per stream and push, and its small id keys the
 * encoded responses (ads/encode.ts) at any subscription size.
 */
class Subscription {
  readonly idKey: string;
  constructor(
    readonly id: number,
    readonly key: string,
    readonly names: ReadonlySet<string>,
    readonly wildcard: boolean,
  ) {
    this.idKey = String(id);
  }
  readonly selects = (r: XdsResource): boolean => this.names.has(r.name) || (this.wildcard && !r.onlyByName);
}

/** A type set as held under one subscription; interned, so its "what changed since" selections are shared. */
class Held {
  /** per subscription now: the selection of what the client lacks, and its response key */
  private readonly since = new Map<number, { key: string; selects: (r: XdsResource) => boolean }>();
  constructor(
    readonly type: TypeSnapshot,
    readonly sub: Subscription,
  ) {}

  /** The subscribed resources of `sub` that this held set lacks or holds at another version. */
  lacking(sub: Subscription): { key: string; selects: (r: XdsResource) => boolean } {
    let hit = this.since.get(sub.id);
    if (!hit) {
      const { type, sub: had } = this;
      hit = {
        // the same selection for every stream with this subscription and this ACKed set
        key: `${sub.id}|since:${type.version}|${had.id}`,
        selects: (r) => sub.selects(r) && !(had.selects(r) && type.resources.get(r.name)?.hash === r.hash),
      };
      this.since.set(sub.id, hit);
    }
    return hit;
  }
}

const helds = new WeakMap<TypeSnapshot, Map<number, Held>>();
function heldOf(type: TypeSnapshot, sub: Subscription): Held {
  let bySub = helds.get(type);
  if (!bySub) {
    bySub = new Map();
    helds.set(type, bySub);
  }
  let h = bySub.get(sub.id);
  if (!h) {
    h = new Held(type, sub);
    bySub.set(sub.id, h);
  }
  return h;
}

const subscriptionKey = (wildcard: boolean, names: readonly string[]) => (wildcard ? '*|' : '') + [...names].sort().join(',');

// subscriptions seen lately: equal subscriptions, one object (responses are cached by its
// id). Ids are never reused, so forgetting them all (bounded memory) only costs sharing.
const subscriptions = new Map<string, Subscription>();
let lastSubscriptionId = 0;
function internSubscription(key: string, names: ReadonlySet<string>, wildcard: boolean): Subscription {
  let sub = subscriptions.get(key);
  if (sub === undefined) {
    if (subscriptions.size >= 4096) subscriptions.clear();
    sub = new Subscription(++lastSubscriptionId, key, names, wildcard);
    subscriptions.set(key, sub);
  }
  return sub;
}
const NONE = new Subscription(0, '', new Set(), false);

/**
 * Whether `names` (a request's resource_names) is `state`'s subscription as it stands: an
 * ACK repeats it nearly always, and this answers without building its key.
 */
function sameSubscription(url: XdsTypeUrl, state: SotwTypeState, names: readonly string[]): boolean {
  const sub = state.sub;
  let named = 0;
  let star = false;
  for (const n of names) {
    if (n === '*') star = true;
    else if (!sub.names.has(n)) return false;
    else named += 1;
  }
  if (named !== sub.names.size) return false;
  const wildcard = star || (named === 0 && !state.explicit && WILDCARD_TYPES.has(url));
  return wildcard === sub.wildcard;
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
      state = { ...newTypeState(), explicit: false, sub: NONE, sentFor: undefined, sentHeld: undefined, ackedHeld: undefined };
      this.types.set(url, state);
    }
    if (this.settle(url, state, { nonce, error: req.error_detail, clientVersion: req.version_info ?? '' }) === 'ack' && state.sentHeld) {
      state.ackedHeld = state.sentHeld;
    }
    this.updateSubscription(url, state, req.resource_names ?? []);
    this.answer(url, state);
  }

  private updateSubscription(url: XdsTypeUrl, state: SotwTypeState, names: string[]): void {
    // an ACK repeats the subscription: nothing to record then
    if (state.sentNonce !== undefined && sameSubscription(url, state, names)) return;
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
    if (key === state.sub.key && state.sentNonce !== undefined) return;
    state.wildcard = wildcard;
    state.names = new Set(named);
    state.sub = internSubscription(key, state.names, wildcard);
    this.registry.subscribed(this.ctx.streamId, url, state.wildcard ? '*' : state.names);
  }

  protected push(url: XdsTypeUrl, state: SotwTypeState, snap: Snapshot): void {
    const type = snap.types[url];
    if (state.sub.key === state.sentFor && (type.version === state.sentVersion || type.version === state.nackedVersion)) return;
    if (!state.wildcard && state.names.size === 0 && state.sentVersion === undefined && !WILDCARD_TYPES.has(url)) {
      return; // nothing asked for yet
    }
    const sub = state.sub;
    let parts: SotwParts;
    const acked = state.ackedHeld;
    if (WILDCARD_TYPES.has(url)) {
      parts = { url, type, subscriptionKey: sub.idKey, selects: sub.selects };
    } else {
      // RDS/EDS: only what the client does not hold as of its last ACK (not its last
      // response: that one may yet be NACKed); absence is not deletion for these types
      state.sentHeld = heldOf(type, sub);
      if (!acked) {
        parts = { url, type, subscriptionKey: sub.idKey, selects: sub.selects };
      } else {
        const lacking = acked.lacking(sub);
        parts = { url, type, subscriptionKey: lacking.key, selects: lacking.selects };
        // built from the ACKed set under the same subscription: only the changed can differ
        if (type.delta?.from === acked.type.version && acked.sub === sub) parts.candidates = type.delta.changed;
      }
    }
    const sent = this.encoder.sotw(parts, this.lastNonce);
    this.lastNonce = sent.nonce;
    const nonce = String(sent.nonce);
    const bytes = sent.bytes;
    state.sentVersion = type.version;
    state.sentSet = type;
    state.sentNonce = nonce;
    state.sentFor = state.sub.key;
    this.send(url, type.version, nonce, bytes);
  }
}
