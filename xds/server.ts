// The ADS server: envoy.service.discovery.v3.AggregatedDiscoveryService, both
// StreamAggregatedResources (state of the world) and DeltaAggregatedResources
// (incremental), fed by the snapshot cache, with ACK/NACK bookkeeping in the
// ProxyStatusRegistry.
//
// Protocol rules kept here (Envoy's xDS protocol docs):
// - a stream names its node in its first request; later requests may omit it;
// - a request whose response_nonce is not the latest one sent for its type is stale and
//   ignored (SotW); a NACK (error_detail set) records the refused version and leaves the
//   proxy on its last good config: nothing is resent until the snapshot changes;
// - LDS/CDS with no names (or '*') is a wildcard subscription; RDS/EDS are by name;
// - a change is pushed clusters → endpoints → listeners → routes;
// - a type whose snapshot version did not change is not resent.
// Anything a client sends that does not fit (bad type URL, unknown names, garbage) is
// ignored or ends that stream only; other streams never notice.
import * as grpc from '@grpc/grpc-js';
import { NO_GRPC_AUTH, assertExposable, serverAuthOptions, serverCredentials, type GrpcAuth } from '../platform/grpc-auth.ts';
import { TYPE_URL, envoyServices, isXdsTypeUrl, type PackedAny, type XdsTypeUrl } from '../proto/envoy.ts';
import type { AggregatedDiscoveryServiceHandlers } from '../proto/generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
import type { DiscoveryRequest__Output } from '../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { DiscoveryResponse } from '../proto/generated/envoy/service/discovery/v3/DiscoveryResponse.ts';
import type { DeltaDiscoveryRequest__Output } from '../proto/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.ts';
import type { DeltaDiscoveryResponse } from '../proto/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse.ts';
import type { Node__Output } from '../proto/generated/envoy/config/core/v3/Node.ts';
import { PUSH_ORDER, type Snapshot, type SnapshotCache } from './cache.ts';
import { ProxyStatusRegistry } from './status.ts';

export interface XdsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
const silent: XdsLogger = { info() {}, warn() {}, debug() {} };

export interface XdsServerOptions {
  cache: SnapshotCache;
  registry?: ProxyStatusRegistry;
  logger?: XdsLogger;
  now?: () => Date;
  /** identifier sent as control_plane.identifier in every response */
  controlPlaneId?: string;
}

const WILDCARD_TYPES: ReadonlySet<XdsTypeUrl> = new Set([TYPE_URL.listener, TYPE_URL.cluster]);
const CONTROL_PLANE = 'sluice';

type AdsSotwCall = Parameters<AggregatedDiscoveryServiceHandlers['StreamAggregatedResources']>[0];
type AdsDeltaCall = Parameters<AggregatedDiscoveryServiceHandlers['DeltaAggregatedResources']>[0];

let streamCounter = 0;

interface StreamContext {
  streamId: string;
  options: Required<Omit<XdsServerOptions, 'registry'>> & { registry: ProxyStatusRegistry };
}

/** Common part of both stream kinds: node identity, the cache watch, teardown. */
abstract class AdsStream {
  protected nodeId: string | undefined;
  protected nonceCounter = 0;
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly protocol: 'sotw' | 'delta',
    protected readonly peer: string,
  ) {}

  protected get registry() {
    return this.ctx.options.registry;
  }
  protected get log() {
    return this.ctx.options.logger;
  }
  protected now() {
    return this.ctx.options.now();
  }
  protected nextNonce(): string {
    this.nonceCounter += 1;
    return String(this.nonceCounter);
  }

  /**
   * The checks every request of either protocol passes first: the stream knows its node (else
   * it ends), and the type is one this server serves (else the request is ignored, which is
   * not an error for the stream's other types). Returns the type URL to act on, or null.
   */
  protected admit(node: Node__Output | undefined, typeUrl: string | undefined, requestName: string): XdsTypeUrl | null {
    if (!this.identify(node)) {
      this.fail(grpc.status.INVALID_ARGUMENT, `the first ${requestName} must carry node.id`);
      return null;
    }
    const url = typeUrl ?? '';
    if (!isXdsTypeUrl(url)) {
      this.log.debug({ streamId: this.ctx.streamId, typeUrl: url, protocol: this.protocol }, 'xds request for an unserved type ignored');
      return null;
    }
    return url;
  }

  /** Binds the stream to its node on the first request; false if the stream must end. */
  protected identify(node: Node__Output | undefined): boolean {
    if (this.nodeId !== undefined) return true;
    const id = node?.id;
    if (!id) return false;
    this.nodeId = id;
    this.registry.connected({
      streamId: this.ctx.streamId,
      nodeId: id,
      cluster: node?.cluster ?? '',
      userAgent: [node?.user_agent_name, node?.user_agent_version].filter(Boolean).join(' '),
      protocol: this.protocol,
      peer: this.peer,
      connectedAt: this.now(),
    });
    this.unwatch = this.ctx.options.cache.watch(id, (s) => this.safely(() => this.onSnapshot(s)));
    this.log.info({ streamId: this.ctx.streamId, nodeId: id, protocol: this.protocol }, 'xds stream opened');
    return true;
  }

  protected snapshot(): Snapshot | undefined {
    return this.nodeId === undefined ? undefined : this.ctx.options.cache.getSnapshot(this.nodeId);
  }

  protected safely(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.log.warn({ streamId: this.ctx.streamId, err: (err as Error).message }, 'xds stream failed');
      this.fail(grpc.status.INTERNAL, 'internal error');
    }
  }

  protected abstract onSnapshot(s: Snapshot): void;
  protected abstract fail(code: grpc.status, details: string): void;
  /** Ends the call from the server side (shutdown). */
  abstract shutdown(): void;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.registry.disconnected(this.ctx.streamId);
    if (this.nodeId !== undefined) {
      this.log.info({ streamId: this.ctx.streamId, nodeId: this.nodeId }, 'xds stream closed');
    }
  }

  get isClosed() {
    return this.closed;
  }
}

// ---------------------------------------------------------------------------------------
// State of the world

interface SotwTypeState {
  wildcard: boolean;
  names: Set<string>;
  /** true once the client named resources explicitly (then empty means none) */
  explicit: boolean;
  sentVersion: string | undefined;
  sentNonce: string | undefined;
  /** the subscription the last response was built for */
  sentFor: string | undefined;
}

const subscriptionKey = (t: SotwTypeState) => (t.wildcard ? '*|' : '') + [...t.names].sort().join(',');

class SotwStream extends AdsStream {
  private readonly types = new Map<XdsTypeUrl, SotwTypeState>();

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
      state = { wildcard: false, names: new Set(), explicit: false, sentVersion: undefined, sentNonce: undefined, sentFor: undefined };
      this.types.set(url, state);
    }
    let nacked = false;
    if (nonce !== '' && nonce === state.sentNonce && state.sentVersion !== undefined) {
      if (req.error_detail) {
        nacked = true;
        this.registry.nacked(this.ctx.streamId, url, {
          version: state.sentVersion,
          nonce,
          clientVersion: req.version_info ?? '',
          message: req.error_detail.message ?? '',
          code: req.error_detail.code ?? 0,
          at: this.now(),
        });
        this.log.warn(
          { streamId: this.ctx.streamId, nodeId: this.nodeId, typeUrl: url, version: state.sentVersion, error: req.error_detail.message },
          'xds NACK',
        );
      } else {
        this.registry.acked(this.ctx.streamId, url, state.sentVersion, this.now());
      }
    }
    this.updateSubscription(url, state, req.resource_names ?? []);
    const snap = this.snapshot();
    if (!snap) return;
    const changed = subscriptionKey(state) !== state.sentFor;
    const newer = state.sentVersion !== snap.types[url].version;
    if (changed || (!nacked && newer)) this.send(url, state, snap);
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

  protected onSnapshot(snap: Snapshot): void {
    for (const url of PUSH_ORDER) {
      const state = this.types.get(url);
      if (!state || state.sentVersion === snap.types[url].version) continue;
      this.send(url, state, snap);
    }
  }

  private send(url: XdsTypeUrl, state: SotwTypeState, snap: Snapshot): void {
    const type = snap.types[url];
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

// ---------------------------------------------------------------------------------------
// Delta (incremental)

interface DeltaTypeState {
  wildcard: boolean;
  names: Set<string>;
  /** what the client holds, name → version (resource hash) */
  known: Map<string, string>;
  /** names reported as absent, so they are not reported again until they exist */
  reportedMissing: Set<string>;
  sentNonce: string | undefined;
  sentVersion: string | undefined;
  answered: boolean;
}

class DeltaStream extends AdsStream {
  private readonly types = new Map<XdsTypeUrl, DeltaTypeState>();

  constructor(
    ctx: StreamContext,
    private readonly call: AdsDeltaCall,
  ) {
    super(ctx, 'delta', call.getPeer());
  }

  onRequest(req: DeltaDiscoveryRequest__Output): void {
    const url = this.admit(req.node, req.type_url, 'DeltaDiscoveryRequest');
    if (!url) return;
    let state = this.types.get(url);
    const first = !state;
    if (!state) {
      state = {
        wildcard: false,
        names: new Set(),
        known: new Map(Object.entries(req.initial_resource_versions ?? {})),
        reportedMissing: new Set(),
        sentNonce: undefined,
        sentVersion: undefined,
        answered: false,
      };
      this.types.set(url, state);
    }
    const nonce = req.response_nonce ?? '';
    if (nonce !== '' && nonce === state.sentNonce && state.sentVersion !== undefined) {
      if (req.error_detail) {
        this.registry.nacked(this.ctx.streamId, url, {
          version: state.sentVersion,
          nonce,
          clientVersion: '',
          message: req.error_detail.message ?? '',
          code: req.error_detail.code ?? 0,
          at: this.now(),
        });
        this.log.warn({ streamId: this.ctx.streamId, nodeId: this.nodeId, typeUrl: url }, 'xds delta NACK');
      } else {
        this.registry.acked(this.ctx.streamId, url, state.sentVersion, this.now());
      }
    }
    // subscriptions count even on ACKs and stale nonces (delta xDS rules)
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
    this.registry.subscribed(this.ctx.streamId, url, state.wildcard ? '*' : state.names);
    const snap = this.snapshot();
    if (snap) this.push(url, state, snap, first);
  }

  protected onSnapshot(snap: Snapshot): void {
    for (const url of PUSH_ORDER) {
      const state = this.types.get(url);
      if (state) this.push(url, state, snap, false);
    }
  }

  private push(url: XdsTypeUrl, state: DeltaTypeState, snap: Snapshot, first: boolean): void {
    const type = snap.types[url];
    const changed: { name: string; version: string; resource: PackedAny }[] = [];
    const removed: string[] = [];
    const wanted = new Set(state.names);
    if (state.wildcard) {
      for (const [name, r] of type.resources) if (!r.onlyByName) wanted.add(name);
    }
    for (const name of [...wanted].sort()) {
      const r = type.resources.get(name);
      if (r) {
        state.reportedMissing.delete(name);
        if (state.known.get(name) !== r.hash) {
          changed.push({ name, version: r.hash, resource: r.resource });
          state.known.set(name, r.hash);
        }
      } else if (state.known.has(name)) {
        removed.push(name);
        state.known.delete(name);
        state.reportedMissing.add(name);
      } else if (!state.reportedMissing.has(name)) {
        // tells the client the name does not exist, so it does not wait for it
        removed.push(name);
        state.reportedMissing.add(name);
      }
    }
    // a wildcard client also learns of resources that left the snapshot
    if (state.wildcard) {
      for (const name of [...state.known.keys()].sort()) {
        if (!wanted.has(name)) {
          removed.push(name);
          state.known.delete(name);
        }
      }
    }
    const mustAnswer = first && !state.answered && state.wildcard;
    if (changed.length === 0 && removed.length === 0 && !mustAnswer) return;
    const nonce = this.nextNonce();
    const response: DeltaDiscoveryResponse = {
      system_version_info: type.version,
      resources: changed.map((c) => ({ name: c.name, version: c.version, resource: c.resource })),
      type_url: url,
      removed_resources: removed,
      nonce,
      control_plane: { identifier: this.ctx.options.controlPlaneId },
    };
    state.sentNonce = nonce;
    state.sentVersion = type.version;
    state.answered = true;
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

// ---------------------------------------------------------------------------------------

export class XdsServer {
  readonly registry: ProxyStatusRegistry;
  private readonly ctxOptions: StreamContext['options'];
  private readonly streams = new Set<AdsStream>();
  private server: grpc.Server | undefined;

  constructor(options: XdsServerOptions) {
    this.registry = options.registry ?? new ProxyStatusRegistry();
    this.ctxOptions = {
      cache: options.cache,
      registry: this.registry,
      logger: options.logger ?? silent,
      now: options.now ?? (() => new Date()),
      controlPlaneId: options.controlPlaneId ?? CONTROL_PLANE,
    };
  }

  /** Open ADS streams (both kinds), including those that have not named their node yet. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** The ADS handlers, to add to a grpc.Server of one's own. */
  handlers(): AggregatedDiscoveryServiceHandlers {
    return {
      StreamAggregatedResources: (call) => {
        const stream = new SotwStream(this.context(), call);
        this.attach(stream, call, (req: DiscoveryRequest__Output) => stream.onRequest(req));
      },
      DeltaAggregatedResources: (call) => {
        const stream = new DeltaStream(this.context(), call);
        this.attach(stream, call, (req: DeltaDiscoveryRequest__Output) => stream.onRequest(req));
      },
    };
  }

  private context(): StreamContext {
    streamCounter += 1;
    return { streamId: `ads-${process.pid}-${streamCounter}`, options: this.ctxOptions };
  }

  private attach<Req>(
    stream: AdsStream,
    call: grpc.ServerDuplexStream<Req, unknown>,
    onRequest: (req: Req) => void,
  ): void {
    this.streams.add(stream);
    const done = () => {
      stream.close();
      this.streams.delete(stream);
    };
    call.on('data', (req: Req) => {
      if (stream.isClosed) return;
      try {
        onRequest(req);
      } catch (err) {
        this.ctxOptions.logger.warn({ err: (err as Error).message }, 'xds request failed');
        done();
        call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error' });
      }
    });
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
    call.on('close', done);
  }

  /** Starts a gRPC server with ADS on host:port (port 0 = any); resolves to the bound port. */
  async listen(port: number, host = '127.0.0.1', auth: GrpcAuth = NO_GRPC_AUTH): Promise<number> {
    if (this.server) throw new Error('xDS server already listening');
    // every cluster and endpoint is readable here, and proxy status writable: loopback, or authenticated
    assertExposable('the xDS server', host, auth);
    const server = new grpc.Server({
      ...serverAuthOptions(auth),
      // find proxies that vanished without closing their stream
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    });
    server.addService(envoyServices().ads, this.handlers());
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, serverCredentials(auth), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.server = server;
    return bound;
  }

  /** Ends every stream and stops the server (forcefully after `graceMs`). */
  async close(graceMs = 1000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of [...this.streams]) s.shutdown();
    this.streams.clear();
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
