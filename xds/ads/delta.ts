// Incremental ADS (DeltaAggregatedResources) over the shared stream core: per-resource
// versions (the resource's content hash), only what changed is sent, removals named.
//
// Protocol rules kept here (Envoy's xDS protocol docs):
// - subscriptions count on every request, ACKs and stale nonces included;
// - a wildcard stream learns of resources that left the served set; a name asked for that
//   does not exist is reported removed once, so the client does not wait for it;
// - initial_resource_versions on a new stream tell what the client already holds.
import type { XdsTypeUrl } from '../../proto/envoy.ts';
import type { DeltaDiscoveryRequest__Output } from '../../proto/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.ts';
import type { Snapshot } from '../cache.ts';
import type { XdsResource } from '../translate.ts';
import { AdsStream, WILDCARD_TYPES, newTypeState, type AdsCall, type StreamContext, type TypeStateBase } from './core.ts';

interface DeltaTypeState extends TypeStateBase {
  /** what the client holds, name → version (resource hash) */
  known: Map<string, string>;
  /** names reported as absent, so they are not reported again until they exist */
  reportedMissing: Set<string>;
  /** a wildcard stream's first request is answered even when there is nothing */
  mustAnswer: boolean;
  /** bumped on every subscription change */
  subscriptionEpoch: number;
  /** the type set `known` was last brought up to, under which subscription */
  knownAt: { version: string; epoch: number } | undefined;
}

export class DeltaStream extends AdsStream<DeltaTypeState> {
  constructor(ctx: StreamContext, call: AdsCall) {
    super(ctx, 'delta', call);
  }

  onRequest(req: DeltaDiscoveryRequest__Output): void {
    const url = this.admit(req.node, req.type_url, 'DeltaDiscoveryRequest');
    if (!url) return;
    let state = this.types.get(url);
    const first = !state;
    if (!state) {
      state = {
        ...newTypeState(),
        known: new Map(Object.entries(req.initial_resource_versions ?? {})),
        reportedMissing: new Set(),
        mustAnswer: false,
        subscriptionEpoch: 0,
        knownAt: undefined,
      };
      this.types.set(url, state);
    }
    this.settle(url, state, { nonce: req.response_nonce ?? '', error: req.error_detail, clientVersion: '' });
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    if (first && subscribe.length === 0 && WILDCARD_TYPES.has(url)) state.wildcard = true;
    for (const n of subscribe) {
      if (n === '*') state.wildcard = true;
      else state.names.add(n);
    }
    for (const n of unsubscribe) {
      if (n === '*') state.wildcard = false;
      else {
        state.names.delete(n);
        state.reportedMissing.delete(n);
        if (!state.wildcard) state.known.delete(n);
      }
    }
    if (first && state.wildcard) state.mustAnswer = true;
    if (first || subscribe.length > 0 || unsubscribe.length > 0) {
      state.subscriptionEpoch += 1;
      this.registry.subscribed(this.ctx.streamId, url, state.wildcard ? '*' : state.names);
    }
    this.answer(url, state);
  }

  protected push(url: XdsTypeUrl, state: DeltaTypeState, snap: Snapshot): void {
    const type = snap.types[url];
    const changed: { name: string; resource: XdsResource }[] = [];
    const removed: string[] = [];
    const at = state.knownAt;
    // built from the set this client was brought up to, same subscription: only the delta's
    // names can differ (O(what changed), not O(subscribed))
    const fromKnown = at !== undefined && at.epoch === state.subscriptionEpoch && type.delta?.from === at.version;
    const wants = (name: string) => {
      if (state.names.has(name)) return true;
      if (!state.wildcard) return false;
      const r = type.resources.get(name);
      return r ? !r.onlyByName : state.known.has(name);
    };
    const wanted = fromKnown ? new Set([...type.delta!.changed, ...type.delta!.removed].filter(wants)) : new Set(state.names);
    if (state.wildcard && !fromKnown) {
      for (const [name, r] of type.resources) if (!r.onlyByName) wanted.add(name);
    }
    for (const name of [...wanted].sort()) {
      const r = type.resources.get(name);
      if (r) {
        state.reportedMissing.delete(name);
        if (state.known.get(name) !== r.hash) {
          changed.push({ name, resource: r });
          state.known.set(name, r.hash);
        }
      } else if (state.known.has(name)) {
        removed.push(name);
        state.known.delete(name);
        // (a name held by wildcard alone is not a by-name subscription waiting on it)
        if (state.names.has(name)) state.reportedMissing.add(name);
      } else if (!state.reportedMissing.has(name)) {
        removed.push(name);
        state.reportedMissing.add(name);
      }
    }
    if (state.wildcard && !fromKnown) {
      for (const name of [...state.known.keys()].sort()) {
        if (!wanted.has(name)) {
          removed.push(name);
          state.known.delete(name);
        }
      }
    }
    state.knownAt = { version: type.version, epoch: state.subscriptionEpoch };
    const mustAnswer = state.mustAnswer;
    state.mustAnswer = false;
    if (changed.length === 0 && removed.length === 0 && !mustAnswer) {
      // the client already holds this set (e.g. a resource-identical version)
      if (state.sentSet !== undefined && state.sentVersion !== type.version && state.ackedSet === state.sentSet) {
        state.sentSet = type;
        state.ackedSet = type;
        state.sentVersion = type.version;
      }
      return;
    }
    const nonce = this.nextNonce();
    const bytes = this.encoder.delta({ url, systemVersion: type.version, removed, nonce }, changed);
    state.sentNonce = nonce;
    state.sentVersion = type.version;
    state.sentSet = type;
    this.send(url, type.version, nonce, bytes);
  }
}
