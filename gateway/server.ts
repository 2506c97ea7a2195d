// The gRPC server Envoy calls on SLUICE_GATEWAY_PORT: ext_authz, rate limit, ext_proc and
// access log, each a thin adapter over the in-process policy it is handed; and
// createGatewayPolicies, which builds those policies once for both the gRPC server and the
// local edge.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { ObjectStore } from '../platform/objectstore/port.ts';
import { Authorizer, createAuthorizationService, type JwtSettings } from './authz.ts';
import { EnvoyCapture } from './capture.ts';
import { InferenceRecorder } from './inference-log/recorder.ts';
import type { SpoolSync } from './inference-log/spool.ts';
import { InferenceLogWriter, type InferenceLogEvent } from './inference-log/writer.ts';
import type { PolicySource } from './policy/port.ts';
import { envoyServices } from '../proto/envoy.ts';
import { NO_GRPC_AUTH, assertExposable, serverAuthOptions, serverCredentials, type GrpcAuth } from '../platform/grpc-auth.ts';
import type { RateLimitStoreEvent } from './ratelimit/failopen.ts';
import { createRateLimiter } from './ratelimit/index.ts';
import type { RateLimiter } from './ratelimit/limiter.ts';
import { createRateLimitService } from './ratelimit/service.ts';

export interface GatewayServerOptions {
  port: number;
  host?: string;
  authorizer: Authorizer;
  rateLimiter: RateLimiter;
  capture: EnvoyCapture;
  /** token / mTLS every caller must present (required when host is not loopback) */
  auth?: GrpcAuth;
}

export interface GatewayServer {
  port: number;
  /** Stops accepting calls, waits up to graceMs for running ones, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The plugin services' gRPC server options. Channelz (grpc-js's per-call and per-socket
 * bookkeeping for its introspection service) is off: nothing here serves or reads it, and
 * Envoy calls these services once or twice per request.
 */
export const GATEWAY_GRPC_OPTIONS: grpc.ServerOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.enable_channelz': 0 };

export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const services = envoyServices();
  const auth = options.auth ?? NO_GRPC_AUTH;
  const host = options.host ?? '127.0.0.1';
  // ext_authz probes keys, rate limit spends budgets, ALS/ext_proc write records: loopback, or authenticated
  assertExposable('the gateway gRPC server', host, auth);
  const server = new grpc.Server({ ...GATEWAY_GRPC_OPTIONS, ...serverAuthOptions(auth) });
  server.addService(services.authorization, createAuthorizationService(options.authorizer));
  server.addService(services.rateLimit, createRateLimitService(options.rateLimiter));
  server.addService(services.externalProcessor, options.capture.processor);
  server.addService(services.accessLog, options.capture.accessLog);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, serverCredentials(auth), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

export interface GatewayPoliciesOptions {
  policies: PolicySource;
  /** Where inference logs go (openObjectStore(SLUICE_OBJECT_STORE)). */
  store: ObjectStore;
  /** SLUICE_DATA_DIR; the spool lives in `${dataDir}/spool/inference` unless spoolDir says otherwise. */
  dataDir: string;
  /** the inference-log spool of this process (a stand-alone edge has its own per process) */
  spoolDir?: string;
  /** REDIS_URL: set = rate-limit buckets shared through Redis. */
  redisUrl?: string | undefined;
  /** Prefix of the Redis bucket keys (default `sluice:rl:`). */
  redisKeyPrefix?: string;
  /** JWT issuer settings; unset = only API keys. */
  jwt?: JwtSettings | undefined;
  /** The /metrics registry: sluice_throttled_total, sluice_inference_records_total. */
  registry?: Registry;
  /** SLUICE_CAPTURE_SYNC (see inference-log/spool.ts); default 'background' */
  captureSync?: SpoolSync;
  /** Operational events (Redis or object store down/back, spool unwritable) for the Event table. */
  onEvent?: (event: RateLimitStoreEvent | InferenceLogEvent) => void;
}

/** The in-process policies, built once per process and shared by the gRPC server and the local edge. */
export interface GatewayPolicies {
  authorizer: Authorizer;
  rateLimiter: RateLimiter;
  recorder: InferenceRecorder;
  writer: InferenceLogWriter;
  capture: EnvoyCapture;
  /** Flushes pending joins and records, seals the spool, closes Redis. */
  close(): Promise<void>;
}

export async function createGatewayPolicies(o: GatewayPoliciesOptions): Promise<GatewayPolicies> {
  const writer = new InferenceLogWriter({
    store: o.store,
    spoolDir: o.spoolDir ?? path.join(o.dataDir, 'spool', 'inference'),
    onEvent: o.onEvent,
    sync: o.captureSync ?? 'background',
    ...(o.registry ? { registry: o.registry } : {}),
  });
  await writer.start();
  const recorder = new InferenceRecorder({ policies: o.policies, sink: writer, registry: o.registry });
  const capture = new EnvoyCapture({ recorder });
  const rateLimiter = createRateLimiter({ policies: o.policies, redisUrl: o.redisUrl, redisKeyPrefix: o.redisKeyPrefix, registry: o.registry, onStoreEvent: o.onEvent });
  const authorizer = new Authorizer({ policies: o.policies, jwt: o.jwt });
  return {
    authorizer,
    rateLimiter,
    recorder,
    writer,
    capture,
    async close() {
      await capture.close();
      await writer.close();
      await rateLimiter.close();
    },
  };
}
