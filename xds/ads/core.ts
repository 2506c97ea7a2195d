// The part of an ADS stream both protocols share (state of the world in sotw.ts, delta in
// delta.ts): the node binding, the cache watch, ACK/NACK bookkeeping, and make-before-break
// ordering. Each stream serves its proxy the plan of xds/ordering.ts, not the cache's
// snapshot directly: on every snapshot change and on every ACK that can lift a hold, it
// re-plans and pushes the types whose served set changed, clusters → endpoints →
// listeners → routes.
//
// Holds are per stream, so a slow, silent or NACKing proxy never delays the others; a
// stream whose holds outlast `holdTimeoutMs` is served the target as it is (one shared
// timer for every stream, see HoldDeadlines).
//
// Responses are written as bytes encoded once for every stream that gets the same thing
// (encode.ts); the server's ADS method passes them through as they are.
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL, isXdsTypeUrl, type XdsTypeUrl } from '../../proto/envoy.ts';
import type { Node__Output } from '../../proto/generated/envoy/config/core/v3/Node.ts';
import { PUSH_ORDER, type Snapshot, type SnapshotCache, type TypeSnapshot } from '../cache.ts';
import { plan, type Plan } from '../ordering.ts';
import type { ProxyStatusRegistry } from '../status.ts';
import type { ResponseEncoder } from './encode.ts';

export interface XdsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface StreamOptions {
  cache: SnapshotCache;
  registry: ProxyStatusRegistry;
  logger: XdsLogger;
  now: () => Date;
  controlPlaneId: string;
  /** how long one proxy's make-before-break holds may last before they are lifted */
  holdTimeoutMs: number;
  /** shared by every stream: responses encoded once */
  encoder: ResponseEncoder;
  /** shared by every stream: when each stream's holds expire */
  deadlines: HoldDeadlines;
}

/** What a stream needs of its gRPC call: responses go out pre-encoded. */
export interface AdsCall {
  write(bytes: Buffer): boolean;
  emit(event: 'error', err: { code: grpc.status; details: string }): boolean;
  getPeer(): string;
}

/**
 * Every stream's hold deadline on one timer. All holds last the same `holdTimeoutMs`, so
 * the order they start in is the order they expire in: a Map (insertion-ordered) is the
 * queue, adding and cancelling are O(1), and one timer waits for the head.
 */
export class HoldDeadlines {
  private readonly queue = new Map<object, { at: number; fire: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly timeoutMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Calls `fire` after the timeout unless cancelled first; a key already waiting keeps its time. */
  start(key: object, fire: () => void): void {
    if (this.queue.has(key)) return;
    this.queue.set(key, { at: this.clock() + this.timeoutMs, fire });
    this.arm();
  }

  cancel(key: object): void {
    this.queue.delete(key);
    if (this.queue.size === 0) this.disarm();
  }

  get size(): number {
    return this.queue.size;
  }

  private arm(): void {
    const head = this.queue.values().next();
    if (head.done) return this.disarm();
    if (this.timer && this.timerAt <= head.value.at) return;
    this.disarm();
    this.timerAt = head.value.at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, head.value.at - this.clock()));
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock();
    for (const [key, d] of this.queue) {
      if (d.at > now) break;
      this.queue.delete(key);
      d.fire();
    }
    this.arm();
  }
}

export interface StreamContext {
  streamId: string;
  options: StreamOptions;
}

/** LDS and CDS with no names are wildcard subscriptions; RDS and EDS are by name. */
export const WILDCARD_TYPES: ReadonlySet<XdsTypeUrl> = new Set([TYPE_URL.listener, TYPE_URL.cluster]);

/** What both protocols keep per type. */
export interface TypeStateBase {
  wildcard: boolean;
  names: Set<string>;
  sentNonce: string | undefined;
  sentVersion: string | undefined;
  /** the served set the latest response brought the client to, and the one it ACKed */
  sentSet: TypeSnapshot | undefined;
  ackedSet: TypeSnapshot | undefined;
  /** the version of the latest NACKed response: not resent until the plan changes */
  nackedVersion: string | undefined;
}

export const newTypeState = (): TypeStateBase => ({
  wildcard: false,
  names: new Set(),
  sentNonce: undefined,
  sentVersion: undefined,
  sentSet: undefined,
  ackedSet: undefined,
  nackedVersion: undefined,
});

export interface Settlement {
  nonce: string;
  error?: { message?: string; code?: number } | null;
  clientVersion: string;
}

export abstract class AdsStream<S extends TypeStateBase> {
  protected nodeId: string | undefined;
  protected readonly types = new Map<XdsTypeUrl, S>();
  /** the last nonce sent on this stream, any type (0: none); a stream's nonces only increase */
  protected lastNonce = 0;
  private unwatch: (() => void) | undefined;
  private closed = false;
  private current: { target: Snapshot; plan: Plan } | undefined;
  private holdingSince: number | undefined;
  private expired = false;
  protected readonly peer: string;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly protocol: 'sotw' | 'delta',
    protected readonly call: AdsCall,
  ) {
    this.peer = call.getPeer();
  }

  protected get registry() {
    return this.ctx.options.registry;
  }
  protected get log() {
    return this.ctx.options.logger;
  }
  protected get encoder() {
    return this.ctx.options.encoder;
  }
  protected now() {
    return this.ctx.options.now();
  }
  protected nextNonce(): string {
    this.lastNonce = this.encoder.mintNonce();
    return String(this.lastNonce);
  }

  /**
   * The checks every request passes first: the stream knows its node (else it ends), and the
   * type is one this server serves (else the request is ignored, which is not an error for
   * the stream's other types). Returns the type URL to act on, or null.
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

  private identify(node: Node__Output | undefined): boolean {
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
    this.unwatch = this.ctx.options.cache.watch(id, () => this.safely(() => this.pushChanges()));
    this.log.info({ streamId: this.ctx.streamId, nodeId: id, protocol: this.protocol }, 'xds stream opened');
    return true;
  }

  /**
   * Records the ACK or NACK a request carries for the latest response of its type (a
   * request for an older nonce settles nothing). Returns what it was.
   */
  protected settle(url: XdsTypeUrl, state: S, s: Settlement): 'ack' | 'nack' | 'none' {
    if (s.nonce === '' || s.nonce !== state.sentNonce || state.sentVersion === undefined) return 'none';
    if (s.error) {
      state.nackedVersion = state.sentVersion;
      this.registry.nacked(this.ctx.streamId, url, {
        version: state.sentVersion,
        nonce: s.nonce,
        clientVersion: s.clientVersion,
        message: s.error.message ?? '',
        code: s.error.code ?? 0,
        at: this.now(),
      });
      this.log.warn(
        { streamId: this.ctx.streamId, nodeId: this.nodeId, typeUrl: url, version: state.sentVersion, error: s.error.message, protocol: this.protocol },
        'xds NACK',
      );
      return 'nack';
    }
    state.ackedSet = state.sentSet;
    state.nackedVersion = undefined;
    this.registry.acked(this.ctx.streamId, url, state.sentVersion, this.now());
    return 'ack';
  }

  /** What this proxy is to be served now (re-planned when the target changed or a hold can lift). */
  protected served(): Snapshot | undefined {
    if (this.nodeId === undefined) return undefined;
    const target = this.ctx.options.cache.getSnapshot(this.nodeId);
    if (!target) return undefined;
    const cur = this.current;
    if (cur && cur.target === target && cur.plan.heldRoutes.length === 0 && cur.plan.keptClusters.length === 0) {
      return cur.plan.snapshot;
    }
    const eds = this.types.get(TYPE_URL.endpoint);
    const cds = this.types.get(TYPE_URL.cluster);
    const sent: Partial<Record<XdsTypeUrl, TypeSnapshot>> = {};
    const acked: Partial<Record<XdsTypeUrl, TypeSnapshot>> = {};
    for (const [url, st] of this.types) {
      if (st.sentSet) sent[url] = st.sentSet;
      if (st.ackedSet) acked[url] = st.ackedSet;
    }
    const p = plan(target, {
      sent,
      acked,
      clustersByWildcard: cds?.wildcard === true,
      wantsEndpoints: eds ? this.wantsEndpoints : null,
      expired: this.expired,
    });
    this.current = { target, plan: p };
    this.trackHolds(p);
    return p.snapshot;
  }

  private trackHolds(p: Plan): void {
    const holding = p.heldRoutes.length > 0 || p.keptClusters.length > 0;
    if (!holding) {
      if (this.holdingSince !== undefined) this.ctx.options.deadlines.cancel(this);
      this.holdingSince = undefined;
      this.expired = false;
      return;
    }
    if (this.holdingSince !== undefined) return;
    this.holdingSince = Date.now();
    this.log.debug({ streamId: this.ctx.streamId, heldRoutes: p.heldRoutes, keptClusters: p.keptClusters.length }, 'xds updates held');
    this.ctx.options.deadlines.start(this, () => {
      this.log.warn({ streamId: this.ctx.streamId, nodeId: this.nodeId }, 'xds holds expired; serving the target as it is');
      this.expired = true;
      this.current = undefined;
      this.safely(() => this.pushChanges());
    });
  }

  /** Whether this stream's EDS subscription takes cluster `name`'s endpoints (one closure per stream, not per plan). */
  private readonly wantsEndpoints = (name: string): boolean => {
    const eds = this.types.get(TYPE_URL.endpoint);
    return eds !== undefined && (eds.wildcard || eds.names.has(name));
  };

  /** True while this stream's last plan holds something back (an ACK may lift it). */
  protected get holding(): boolean {
    return this.holdingSince !== undefined;
  }

  /** Re-plans and pushes every type whose served set changed, in make-before-break order. */
  protected pushChanges(): void {
    const snap = this.served();
    if (!snap) return;
    for (const url of PUSH_ORDER) {
      const state = this.types.get(url);
      if (state) this.push(url, state, snap);
    }
  }

  /**
   * The end of every request, both protocols: the request's own type first (a new
   * subscription is answered), then whatever an ACK may have released on the other types.
   */
  protected answer(url: XdsTypeUrl, state: S): void {
    const snap = this.served();
    if (!snap) return;
    this.push(url, state, snap);
    this.pushChanges();
  }

  /** Sends the type's part of `snap` if the client lacks it; a no-op otherwise. */
  protected abstract push(url: XdsTypeUrl, state: S, snap: Snapshot): void;

  /** Records a response in the registry and writes its bytes. */
  protected send(url: XdsTypeUrl, version: string, nonce: string, bytes: Buffer): void {
    this.registry.sent(this.ctx.streamId, url, version, nonce, this.now());
    this.call.write(bytes);
  }

  protected fail(code: grpc.status, details: string): void {
    if (this.closed) return;
    this.close();
    this.call.emit('error', { code, details });
  }

  /** Ends the call from the server side (shutdown). */
  shutdown(): void {
    this.fail(grpc.status.UNAVAILABLE, 'xDS server shutting down');
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.ctx.options.deadlines.cancel(this);
    this.registry.disconnected(this.ctx.streamId);
    if (this.nodeId !== undefined) {
      this.log.info({ streamId: this.ctx.streamId, nodeId: this.nodeId }, 'xds stream closed');
    }
  }

  get isClosed() {
    return this.closed;
  }
}
