// State-of-the-world ADS (StreamAggregatedResources) over the shared stream core.
//
// Protocol rules kept here (Envoy's xDS protocol docs):
// - a request whose response_nonce is not the latest one sent for its type is stale and
//   ignored; a NACK (error_detail set) records the refused version and leaves the proxy on
//   its last good config: that version is not resent;
// - LDS/CDS with no names (or '*') is a wildcard subscription; RDS/EDS are by name; a
//   changed subscription is answered even when the version did not change;
// - a response carries the type's whole served set (for the names subscribed).
import * as grpc from '@grpc/grpc-js';
import type { XdsTypeUrl } from '../../proto/envoy.ts';
import type { AggregatedDiscoveryServiceHandlers } from '../../proto/generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
import type { DiscoveryRequest__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { DiscoveryResponse } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryResponse.ts';
import type { Snapshot } from '../cache.ts';
import { AdsStream, WILDCARD_TYPES, newTypeState, type StreamContext, type TypeStateBase } from './core.ts';

export type AdsSotwCall = Parameters<AggregatedDiscoveryServiceHandlers['StreamAggregatedResources']>[0];

interface SotwTypeState extends TypeStateBase {
  /** true once the client named resources explicitly (then empty means none) */
  explicit: boolean;
  /** the subscription the last response was built for */
  sentFor: string | undefined;
}

const subscriptionKey = (t: SotwTypeState) => (t.wildcard ? '*|' : '') + [...t.names].sort().join(',');

export class SotwStream extends AdsStream<SotwTypeState> {
  constructor(
    ctx: StreamContext,
    private readonly call: AdsSotwCall,
  ) {
    super(ctx, 'sotw', call.getPeer());
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
      state = { ...newTypeState(), explicit: false, sentFor: undefined };
      this.types.set(url, state);
    }
    this.settle(url, state, { nonce, error: req.error_detail, clientVersion: req.version_info ?? '' });
    this.updateSubscription(url, state, req.resource_names ?? []);
    // the request's own type first (a new subscription is answered), then whatever an ACK
    // may have released on the other types
    const snap = this.served();
    if (!snap) return;
    this.push(url, state, snap);
    this.pushChanges();
  }

  private updateSubscription(url: XdsTypeUrl, state: SotwTypeState, names: string[]): void {
    const named = names.filter((n) => n !== '*');
    if (names.includes('*')) {
      state.wildcard = true;
    } else if (named.length === 0 && !state.explicit && WILDCARD_TYPES.has(url)) {
      state.wildcard = true;
    } else {
      state.wildcard = false;
    }
    if (named.length > 0) state.explicit = true;
    state.names = new Set(named);
    this.registry.subscribed(this.ctx.streamId, url, state.wildcard ? '*' : state.names);
  }

  protected push(url: XdsTypeUrl, state: SotwTypeState, snap: Snapshot): void {
    const type = snap.types[url];
    const sameSubscription = subscriptionKey(state) === state.sentFor;
    if (sameSubscription && (type.version === state.sentVersion || type.version === state.nackedVersion)) return;
    if (!state.wildcard && state.names.size === 0 && state.sentVersion === undefined && !WILDCARD_TYPES.has(url)) {
      return; // nothing asked for yet
    }
    const resources = [...type.resources.values()].filter(
      (r) => state.names.has(r.name) || (state.wildcard && !r.onlyByName),
    );
    const nonce = this.nextNonce();
    const response: DiscoveryResponse = {
      version_info: type.version,
      resources: resources.map((r) => r.resource),
      type_url: url,
      nonce,
      control_plane: { identifier: this.ctx.options.controlPlaneId },
    };
    state.sentVersion = type.version;
    state.sentSet = type;
    state.sentNonce = nonce;
    state.sentFor = subscriptionKey(state);
    this.registry.sent(this.ctx.streamId, url, type.version, nonce, this.now());
    this.call.write(response);
  }

  protected fail(code: grpc.status, details: string): void {
    if (this.isClosed) return;
    this.close();
    this.call.emit('error', { code, details });
  }

  shutdown(): void {
    this.fail(grpc.status.UNAVAILABLE, 'xDS server shutting down');
  }
}
