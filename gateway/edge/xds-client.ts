// The local edge as a client of Sluice's own xDS server: one ADS stream, state of the world
// (envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources),
// subscribing the way Envoy does for one listener: LDS `sluice-edge`, then the RDS names its
// connection manager gives (one route configuration per group scope), CDS for the clusters
// the routes name, EDS for those clusters. RDS and EDS responses may carry only some of the
// names subscribed (what changed): an absent name keeps what the edge has.
//
// Every response is ACKed (version_info = its version, response_nonce = its nonce) or,
// when the edge cannot use it, NACKed (version_info = the last version it accepted for that
// type, error_detail set); a NACKed response changes nothing, so the edge keeps serving
// from its last good table. A broken stream is reopened with jittered exponential back-off
// and re-subscribes to what it had; the table stays in place meanwhile.
//
// What comes out is an immutable RoutingTable (routing.ts), replaced whole on each change,
// with change events.
import { hostname } from 'node:os';
import { clientAuthOptions } from '../../platform/grpc-auth.ts';
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL, envoyServices, unpackAny, type XdsTypeUrl } from '../../proto/envoy.ts';
import type { AggregatedDiscoveryServiceClient } from '../../proto/generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
import type { DiscoveryRequest } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { DiscoveryResponse__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryResponse.ts';
import type { Listener__Output } from '../../proto/generated/envoy/config/listener/v3/Listener.ts';
import type { RouteConfiguration__Output } from '../../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import type { Cluster__Output } from '../../proto/generated/envoy/config/cluster/v3/Cluster.ts';
import type { ClusterLoadAssignment__Output } from '../../proto/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
import {
  EDGE_LISTENER,
  EMPTY_TABLE,
  RoutingConfigError,
  buildRoutingTable,
  mergeRouteConfigs,
  parseCluster,
  parseListener,
  parseLoadAssignment,
  parseRouteConfiguration,
  type EdgeCluster,
  type EdgeEndpoint,
  type EdgeListenerConfig,
  type EdgeRouteConfig,
  type RoutingTable,
} from './routing.ts';
import type { EdgeLogger } from './log.ts';
import { silentLogger } from './log.ts';

/** Where the edge's routes come from: the xDS client, or anything else that can say. */
export interface RoutingSource {
  /** the table now (EMPTY_TABLE before the first config arrives) */
  current(): RoutingTable;
  /** calls `fn` with each new table; returns the unsubscribe */
  onChange(fn: (table: RoutingTable) => void): () => void;
  close?(): Promise<void>;
}

export interface XdsClientOptions {
  /** host:port of the ADS server */
  address: string;
  /** the xDS server's token (SLUICE_GRPC_TOKEN), sent on every call */
  token?: string | null;
  nodeId?: string;
  nodeCluster?: string;
  listenerName?: string;
  log?: EdgeLogger;
  /** reconnect back-off: first delay and cap (ms) */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** jitter source, injectable for tests */
  random?: () => number;
}

export interface XdsClientStatus {
  connected: boolean;
  /** streams opened so far (1 + reconnects) */
  streams: number;
  /** accepted version per type */
  versions: Record<'listener' | 'route' | 'cluster' | 'endpoint', string>;
  /** the last NACK sent, if any */
  lastNack: { typeUrl: string; version: string; message: string; at: Date } | null;
  acks: number;
  nacks: number;
}

interface TypeState {
  /** names subscribed on this stream (sorted, comma-joined for comparison) */
  names: string[];
  /** whether a request for this type went out on the current stream */
  requested: boolean;
  /** last version accepted (survives reconnects, sent as version_info) */
  version: string;
  /** last nonce received on the current stream */
  nonce: string;
}

const TYPE_KEY: Record<XdsTypeUrl, 'listener' | 'route' | 'cluster' | 'endpoint'> = {
  [TYPE_URL.listener]: 'listener',
  [TYPE_URL.route]: 'route',
  [TYPE_URL.cluster]: 'cluster',
  [TYPE_URL.endpoint]: 'endpoint',
};

const INVALID_ARGUMENT = 3;

export const defaultNodeId = () => `sluice-edge-${hostname()}-${process.pid}`;

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;

export class XdsRoutingClient implements RoutingSource {
  private readonly opts: Required<Omit<XdsClientOptions, 'log'>> & { log: EdgeLogger };
  private client: AggregatedDiscoveryServiceClient;
  private call: AdsCall | undefined;
  private firstOnStream = true;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private readonly types = new Map<XdsTypeUrl, TypeState>();
  private readonly watchers = new Set<(t: RoutingTable) => void>();
  private readyWaiters: (() => void)[] = [];

  // accepted config
  private listener: EdgeListenerConfig | null = null;
  private routes: EdgeRouteConfig | null = null;
  /** each route configuration the listener names, as last accepted */
  private routeConfigs = new Map<string, EdgeRouteConfig>();
  private clusters = new Map<string, EdgeCluster>();
  private endpoints = new Map<string, readonly EdgeEndpoint[]>();
  private table: RoutingTable = EMPTY_TABLE;
  private haveListener = false;
  private haveRoutes = false;
  /** the CDS subscription (joined names) the last accepted CDS response answered */
  private cdsAnsweredFor: string | null = null;

  readonly stats: XdsClientStatus = {
    connected: false,
    streams: 0,
    versions: { listener: '', route: '', cluster: '', endpoint: '' },
    lastNack: null,
    acks: 0,
    nacks: 0,
  };

  constructor(options: XdsClientOptions) {
    this.opts = {
      address: options.address,
      token: options.token ?? null,
      nodeId: options.nodeId ?? defaultNodeId(),
      nodeCluster: options.nodeCluster ?? 'sluice-edge',
      listenerName: options.listenerName ?? EDGE_LISTENER,
      log: options.log ?? silentLogger,
      backoffMinMs: options.backoffMinMs ?? 100,
      backoffMaxMs: options.backoffMaxMs ?? 5000,
      random: options.random ?? Math.random,
    };
    this.backoff = this.opts.backoffMinMs;
    for (const url of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint]) {
      this.types.set(url, { names: [], requested: false, version: '', nonce: '' });
    }
    this.client = this.newClient();
  }

  private newClient(): AggregatedDiscoveryServiceClient {
    const { AdsClient } = envoyServices();
    return new AdsClient(this.opts.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.initial_reconnect_backoff_ms': this.opts.backoffMinMs,
      'grpc.max_reconnect_backoff_ms': this.opts.backoffMaxMs,
      ...clientAuthOptions(this.opts.token),
    });
  }

  /**
   * Connects again now when no stream is receiving, instead of waiting out the back-off that
   * grew while the server was away: a restarted control plane says so when it adopts this
   * edge, so that what changed meanwhile (a replica replaced on another port, a split set just
   * before the crash) reaches it at once. A new channel, since the old one may be in its own
   * connect back-off. Returns whether it reconnected (false: already receiving, or closed).
   */
  reconnectNow(): boolean {
    if (this.closed || this.stats.connected) return false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.backoff = this.opts.backoffMinMs;
    const stale = this.call;
    this.call = undefined;
    stale?.cancel();
    this.client.close();
    this.client = this.newClient();
    this.opts.log.info({ address: this.opts.address }, 'xds: reconnecting now (the control plane is back)');
    this.open();
    return true;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** Opens the stream; resolves at once (use `ready()` to wait for the first table). */
  start(): this {
    this.open();
    return this;
  }

  /**
   * Resolves once the listener, its routes, and the clusters and endpoints those routes name
   * have arrived (or after `timeoutMs`; false then).
   */
  ready(timeoutMs = 10_000): Promise<boolean> {
    if (this.warm()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      // kept referenced: a process waiting for its first routes must not exit meanwhile
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.readyWaiters.push(done);
    });
  }

  current(): RoutingTable {
    return this.table;
  }

  onChange(fn: (t: RoutingTable) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.end();
      call.cancel();
    }
    this.client.close();
    this.stats.connected = false;
  }

  // -------------------------------------------------------------------------------------
  // Stream life

  private open(): void {
    if (this.closed) return;
    const call = this.client.StreamAggregatedResources();
    this.call = call;
    this.firstOnStream = true;
    this.stats.streams++;
    for (const s of this.types.values()) {
      s.requested = false;
      s.nonce = '';
    }
    let ended = false;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      // a stream replaced by reconnectNow() ends quietly: the new one is already open
      if (this.call !== call) return;
      this.call = undefined;
      this.stats.connected = false;
      if (this.closed) return;
      const delay = Math.round(this.backoff * (0.5 + this.opts.random() / 2));
      this.backoff = Math.min(this.opts.backoffMaxMs, this.backoff * 2);
      this.opts.log.warn({ why, retryInMs: delay }, 'xds stream ended; reconnecting');
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.open();
      }, delay);
      this.reconnectTimer.unref();
    };
    call.on('data', (res: DiscoveryResponse__Output) => {
      if (this.call !== call) return;
      this.stats.connected = true;
      this.backoff = this.opts.backoffMinMs;
      try {
        this.onResponse(res);
      } catch (err) {
        // a bug here must not kill the process; the stream is restarted instead
        this.opts.log.error({ err: (err as Error).message }, 'xds response handling failed');
        call.cancel();
      }
    });
    call.on('error', (err: Error) => end(err.message));
    call.on('status', (s: grpc.StatusObject) => end(`status ${s.code}: ${s.details}`));
    call.on('end', () => end('server ended the stream'));
    // Re-subscribe to what the previous stream had (or start with the listener).
    this.subscribe(TYPE_URL.listener, [this.opts.listenerName]);
    if (this.listener) this.subscribe(TYPE_URL.route, [...this.listener.routeConfigNames]);
    if (this.routes) this.subscribe(TYPE_URL.cluster, [...this.routes.clusters]);
    if (this.clusters.size > 0) this.subscribe(TYPE_URL.endpoint, this.edsNames());
  }

  private send(req: DiscoveryRequest): void {
    const call = this.call;
    if (!call) return;
    if (this.firstOnStream) {
      req.node = { id: this.opts.nodeId, cluster: this.opts.nodeCluster, user_agent_name: 'sluice-edge' };
      this.firstOnStream = false;
    }
    call.write(req);
  }

  /** Sends a request for `url` when its names changed (or it was never asked on this stream). */
  private subscribe(url: XdsTypeUrl, names: string[]): void {
    const s = this.types.get(url) as TypeState;
    const sorted = [...new Set(names)].sort();
    const same = s.requested && sorted.join(',') === s.names.join(',');
    if (same) return;
    // A cluster/endpoint subscription with no names would be a wildcard on this server.
    if (sorted.length === 0 && !s.requested) return;
    s.names = sorted;
    s.requested = true;
    this.send({ type_url: url, resource_names: sorted, version_info: s.version, response_nonce: s.nonce });
  }

  private ack(url: XdsTypeUrl, version: string, nonce: string): void {
    const s = this.types.get(url) as TypeState;
    s.version = version;
    s.nonce = nonce;
    this.stats.acks++;
    this.stats.versions[TYPE_KEY[url]] = version;
    this.send({ type_url: url, resource_names: s.names, version_info: version, response_nonce: nonce });
  }

  private nack(url: XdsTypeUrl, version: string, nonce: string, message: string): void {
    const s = this.types.get(url) as TypeState;
    s.nonce = nonce;
    this.stats.nacks++;
    this.stats.lastNack = { typeUrl: url, version, message, at: new Date() };
    this.opts.log.warn({ typeUrl: url, version, error: message }, 'xds NACK: keeping the last good config');
    this.send({
      type_url: url,
      resource_names: s.names,
      version_info: s.version,
      response_nonce: nonce,
      error_detail: { code: INVALID_ARGUMENT, message },
    });
  }

  // -------------------------------------------------------------------------------------
  // Responses

  private onResponse(res: DiscoveryResponse__Output): void {
    const url = res.type_url as XdsTypeUrl;
    if (!this.types.has(url)) return; // a type this client never asked for
    const version = res.version_info ?? '';
    const nonce = res.nonce ?? '';
    let after: (() => void) | undefined;
    try {
      after = this.accept(url, res);
    } catch (err) {
      if (!(err instanceof RoutingConfigError) && !((err as { code?: string }).code ?? '').startsWith('ENVOY_')) throw err;
      this.nack(url, version, nonce, (err as Error).message);
      return;
    }
    this.ack(url, version, nonce);
    after?.();
    this.rebuild();
  }

  /** Parses and stores one response; throws to NACK. Returns follow-up subscriptions. */
  private accept(url: XdsTypeUrl, res: DiscoveryResponse__Output): (() => void) | undefined {
    const resources = res.resources ?? [];
    const decoded = resources.map((any) => {
      if (any.type_url !== url) throw new RoutingConfigError(`a ${any.type_url} resource in a ${url} response`);
      return unpackAny<Record<string, unknown> & { name?: string; cluster_name?: string }>(any);
    });
    switch (url) {
      case TYPE_URL.listener: {
        const mine = decoded.find((l) => l.name === this.opts.listenerName) as Listener__Output | undefined;
        // LDS is state of the world: a listener missing from the response is gone.
        const listener = mine ? parseListener(mine) : null;
        return () => {
          this.listener = listener;
          this.haveListener = true;
          const keep = new Set(listener?.routeConfigNames ?? []);
          for (const name of [...this.routeConfigs.keys()]) if (!keep.has(name)) this.routeConfigs.delete(name);
          if (!listener) {
            this.routes = null;
            this.haveRoutes = true;
          } else {
            this.mergeRoutes();
          }
          this.subscribe(TYPE_URL.route, listener ? [...listener.routeConfigNames] : []);
        };
      }
      case TYPE_URL.route: {
        const wanted = new Set(this.listener?.routeConfigNames ?? []);
        // RDS: an absent name is not a deletion (a response may carry only what changed)
        const parsed = decoded
          .filter((r) => wanted.has(r.name ?? ''))
          .map((rc) => parseRouteConfiguration(rc as RouteConfiguration__Output, this.listener?.httpFilters ?? []));
        if (parsed.length === 0) return undefined;
        return () => {
          for (const rc of parsed) this.routeConfigs.set(rc.name, rc);
          this.mergeRoutes();
        };
      }
      case TYPE_URL.cluster: {
        const wanted = new Set(this.types.get(TYPE_URL.cluster)?.names ?? []);
        const next = new Map<string, EdgeCluster>();
        for (const c of decoded) {
          const parsed = parseCluster(c as Cluster__Output);
          if (wanted.has(parsed.name)) next.set(parsed.name, parsed);
        }
        const answeredFor = [...wanted].sort().join(',');
        return () => {
          // CDS is state of the world too: what is missing is gone.
          this.clusters = next;
          this.cdsAnsweredFor = answeredFor;
          this.subscribe(TYPE_URL.endpoint, this.edsNames());
          const keep = new Set(this.edsNames());
          for (const name of [...this.endpoints.keys()]) if (!keep.has(name)) this.endpoints.delete(name);
        };
      }
      case TYPE_URL.endpoint: {
        const parsed = decoded.map((e) => [(e as ClusterLoadAssignment__Output).cluster_name ?? '', parseLoadAssignment(e as ClusterLoadAssignment__Output)] as const);
        return () => {
          const keep = new Set(this.edsNames());
          for (const [name, eps] of parsed) if (keep.has(name)) this.endpoints.set(name, eps);
        };
      }
      default:
        return undefined;
    }
  }

  /**
   * The listener's routes once every route configuration it names has arrived (before that
   * the previous routes stay, as Envoy keeps serving while a scope's routes are on the way);
   * then CDS follows the clusters they name.
   */
  private mergeRoutes(): void {
    const listener = this.listener;
    if (!listener) return;
    if (!listener.routeConfigNames.every((n) => this.routeConfigs.has(n))) return;
    const merged = mergeRouteConfigs(listener, this.routeConfigs);
    this.routes = merged;
    this.haveRoutes = true;
    this.subscribe(TYPE_URL.cluster, [...merged.clusters]);
  }

  /** Everything the routes need is here: a cluster the server said does not exist counts as here. */
  private warm(): boolean {
    if (!this.haveListener) return false;
    if (!this.listener) return true;
    if (!this.haveRoutes || !this.routes) return false;
    for (const name of this.routes.clusters) {
      const c = this.clusters.get(name);
      if (!c) {
        if (this.cdsAnsweredFor === null || !this.cdsAnsweredFor.split(',').includes(name)) return false;
        continue;
      }
      if (!this.endpoints.has(c.edsName)) return false;
    }
    return true;
  }

  private edsNames(): string[] {
    return [...this.clusters.values()].map((c) => c.edsName);
  }

  private rebuild(): void {
    const next = buildRoutingTable({
      listener: this.listener,
      routes: this.routes,
      clusters: this.clusters,
      endpoints: this.endpoints,
      versions: { ...this.stats.versions },
    });
    this.table = next;
    if (this.readyWaiters.length > 0 && this.warm()) {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w();
    }
    for (const fn of [...this.watchers]) {
      try {
        fn(next);
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, 'routing table watcher failed');
      }
    }
  }
}

/** A fixed table (tests, tools, a proxy without a control plane). */
export class StaticRoutingSource implements RoutingSource {
  private table: RoutingTable;
  private readonly watchers = new Set<(t: RoutingTable) => void>();
  constructor(table: RoutingTable = EMPTY_TABLE) {
    this.table = table;
  }
  set(table: RoutingTable): void {
    this.table = table;
    for (const fn of [...this.watchers]) fn(table);
  }
  current(): RoutingTable {
    return this.table;
  }
  onChange(fn: (t: RoutingTable) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }
}
