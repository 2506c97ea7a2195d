// The ADS server: envoy.service.discovery.v3.AggregatedDiscoveryService, both
// StreamAggregatedResources (state of the world, ads/sotw.ts) and DeltaAggregatedResources
// (incremental, ads/delta.ts) over one stream core (ads/core.ts) that serves each proxy its
// make-before-break plan (ordering.ts) of the snapshot cache, with ACK/NACK bookkeeping in
// the ProxyStatusRegistry.
//
// Responses are encoded once and shared by the streams that get the same bytes (ads/encode.ts):
// the ADS methods' response serializer here passes a Buffer through as it is.
//
// Anything a client sends that does not fit (bad type URL, unknown names, garbage) is
// ignored or ends that stream only; other streams never notice.
import * as grpc from '@grpc/grpc-js';
import { NO_GRPC_AUTH, assertExposable, serverAuthOptions, serverCredentials, type GrpcAuth } from '../platform/grpc-auth.ts';
import { envoyServices } from '../proto/envoy.ts';
import type { AggregatedDiscoveryServiceDefinition } from '../proto/generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
import type { DiscoveryRequest__Output } from '../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { DeltaDiscoveryRequest__Output } from '../proto/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.ts';
import type { SnapshotCache } from './cache.ts';
import { ProxyStatusRegistry } from './status.ts';
import { HoldDeadlines, type AdsStream, type StreamContext, type StreamOptions, type TypeStateBase, type XdsLogger } from './ads/core.ts';
import { ResponseEncoder } from './ads/encode.ts';
import { decodePlainRequest } from './ads/request.ts';
import { SotwStream } from './ads/sotw.ts';
import { DeltaStream } from './ads/delta.ts';

export type { XdsLogger } from './ads/core.ts';
const silent: XdsLogger = { info() {}, warn() {}, debug() {} };

export interface XdsServerOptions {
  cache: SnapshotCache;
  registry?: ProxyStatusRegistry;
  logger?: XdsLogger;
  now?: () => Date;
  /** identifier sent as control_plane.identifier in every response */
  controlPlaneId?: string;
  /**
   * How long one proxy's make-before-break holds (a route waiting for its clusters' ACK, a
   * removed cluster waiting for the route ACK) may last before it is served the target as
   * it is (default 10 s).
   */
  holdTimeoutMs?: number;
}

const CONTROL_PLANE = 'sluice';

/** The ADS handlers as this server implements them: requests decoded, responses pre-encoded. */
export interface AdsHandlers extends grpc.UntypedServiceImplementation {
  StreamAggregatedResources: grpc.handleBidiStreamingCall<DiscoveryRequest__Output, Buffer>;
  DeltaAggregatedResources: grpc.handleBidiStreamingCall<DeltaDiscoveryRequest__Output, Buffer>;
}

/** A method whose response serializer passes pre-encoded bytes through (and encodes anything else). */
function passBytesThrough<M extends { responseSerialize: (value: never) => Buffer }>(method: M) {
  const serialize = method.responseSerialize as (value: unknown) => Buffer;
  return { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serialize(value)) };
}

/** A SotW method whose plain ACKs are read without the full decoder (ads/request.ts). */
function plainAcksFast<M extends { requestDeserialize: (bytes: Buffer) => DiscoveryRequest__Output }>(method: M): M {
  const deserialize = method.requestDeserialize;
  return { ...method, requestDeserialize: (bytes: Buffer) => decodePlainRequest(bytes) ?? deserialize(bytes) };
}

let adsDefinition: grpc.ServiceDefinition | undefined;
/** The ADS service definition served here: envoyServices().ads, its responses taken as bytes, SotW ACKs read fast. */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  if (adsDefinition) return adsDefinition;
  const ads: AggregatedDiscoveryServiceDefinition = envoyServices().ads;
  adsDefinition = {
    StreamAggregatedResources: plainAcksFast(passBytesThrough(ads.StreamAggregatedResources)),
    DeltaAggregatedResources: passBytesThrough(ads.DeltaAggregatedResources),
  };
  return adsDefinition;
}
let streamCounter = 0;
/** What the server needs of a stream of either kind. */
type AnyStream = Pick<AdsStream<TypeStateBase>, 'close' | 'shutdown' | 'isClosed'>;

export class XdsServer {
  readonly registry: ProxyStatusRegistry;
  private readonly ctxOptions: StreamOptions;
  private readonly streams = new Set<AnyStream>();
  private server: grpc.Server | undefined;

  constructor(options: XdsServerOptions) {
    this.registry = options.registry ?? new ProxyStatusRegistry();
    const holdTimeoutMs = options.holdTimeoutMs ?? 10_000;
    const controlPlaneId = options.controlPlaneId ?? CONTROL_PLANE;
    this.ctxOptions = {
      cache: options.cache,
      registry: this.registry,
      logger: options.logger ?? silent,
      now: options.now ?? (() => new Date()),
      controlPlaneId,
      holdTimeoutMs,
      encoder: new ResponseEncoder(controlPlaneId),
      deadlines: new HoldDeadlines(holdTimeoutMs),
    };
  }

  /** Open ADS streams (both kinds), including those that have not named their node yet. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Encodings made and reused by the streams (for benchmarks and tests). */
  get encodeStats(): Readonly<{ encoded: number; reused: number }> {
    return this.ctxOptions.encoder.stats;
  }

  /** The ADS handlers, to add to a grpc.Server of one's own with `adsServiceDefinition()`. */
  handlers(): AdsHandlers {
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
    stream: AnyStream,
    call: grpc.ServerDuplexStream<Req, Buffer>,
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
    server.addService(adsServiceDefinition(), this.handlers());
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
