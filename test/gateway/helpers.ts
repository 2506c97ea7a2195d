// Shared fixtures for the gateway tests: a policy source with two demo versions, and grpc-js
// clients built from the same Envoy protos Envoy speaks, so tests call the server as Envoy does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import type { InferenceRecord } from '../../gateway/inference-log/record.ts';
import { Authorizer } from '../../gateway/authz.ts';
import { EnvoyCapture } from '../../gateway/capture.ts';
import { InferenceRecorder } from '../../gateway/inference-log/recorder.ts';
import { InferenceLogWriter } from '../../gateway/inference-log/writer.ts';
import { RateLimiter } from '../../gateway/ratelimit/limiter.ts';
import { MemoryBucketStore } from '../../gateway/ratelimit/memory.ts';
import { startGatewayServer } from '../../gateway/server.ts';
import { envoyServices } from '../../proto/envoy.ts';
import { StaticPolicySource, type PolicySource, type VersionPolicy } from '../../gateway/policy/port.ts';
import type { AuthorizationClient } from '../../proto/generated/envoy/service/auth/v3/Authorization.ts';
import type { RateLimitServiceClient } from '../../proto/generated/envoy/service/ratelimit/v3/RateLimitService.ts';
import type { ExternalProcessorClient } from '../../proto/generated/envoy/service/ext_proc/v3/ExternalProcessor.ts';
import type { CheckRequest } from '../../proto/generated/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse__Output } from '../../proto/generated/envoy/service/auth/v3/CheckResponse.ts';
import type { RateLimitRequest } from '../../proto/generated/envoy/service/ratelimit/v3/RateLimitRequest.ts';
import type { RateLimitResponse__Output } from '../../proto/generated/envoy/service/ratelimit/v3/RateLimitResponse.ts';
import type { AccessLogServiceClient } from '../../proto/generated/envoy/service/accesslog/v3/AccessLogService.ts';

export function version(group: string, name: string, over: Partial<VersionPolicy> = {}): VersionPolicy {
  return {
    group,
    version: name,
    authEnabled: true,
    qpsLimit: null,
    keyQpsLimit: null,
    inference: { enabled: true, sampleRate: 1, maxBodyBytes: 64 * 1024 },
    ...over,
  };
}

export function demoPolicies(): StaticPolicySource {
  const p = new StaticPolicySource();
  p.setVersion(version('wine-quality', 'v1', { qpsLimit: 10 }));
  p.setVersion(version('wine-quality', 'v2'));
  p.setVersion(version('open', 'v1', { authEnabled: false }));
  return p;
}

export interface EnvoyClients {
  auth: AuthorizationClient;
  rls: RateLimitServiceClient;
  extProc: ExternalProcessorClient;
  als: AccessLogServiceClient;
  close(): void;
}

export function envoyClients(port: number): EnvoyClients {
  const services = envoyServices();
  const addr = `127.0.0.1:${port}`;
  const creds = grpc.credentials.createInsecure();
  const auth = new services.AuthorizationClient(addr, creds);
  const rls = new services.RateLimitClient(addr, creds);
  const extProc = new services.ExternalProcessorClient(addr, creds);
  const als = new services.AccessLogClient(addr, creds);
  return {
    auth,
    rls,
    extProc,
    als,
    close() {
      for (const c of [auth, rls, extProc, als]) c.close();
    },
  };
}

export const check = (c: EnvoyClients, req: CheckRequest): Promise<CheckResponse__Output> =>
  new Promise((resolve, reject) => c.auth.Check(req, (err, res) => (err || !res ? reject(err) : resolve(res))));

export const shouldRateLimit = (c: EnvoyClients, req: RateLimitRequest): Promise<RateLimitResponse__Output> =>
  new Promise((resolve, reject) => c.rls.ShouldRateLimit(req, (err, res) => (err || !res ? reject(err) : resolve(res))));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TestGateway {
  port: number;
  clients: EnvoyClients;
  authorizer: Authorizer;
  limiter: RateLimiter;
  capture: EnvoyCapture;
  writer: InferenceLogWriter;
  store: FsObjectStore;
  registry: Registry;
  close(): Promise<void>;
}

/** The whole gateway on a free loopback port, with an fs object store and spool in a temp folder. */
export async function startTestGateway(policies: PolicySource, opts: { authorizer?: Authorizer; joinTimeoutMs?: number; limiterNow?: () => number } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-gw-'));
  const registry = new Registry();
  const store = new FsObjectStore(path.join(dir, 'objects'));
  const writer = new InferenceLogWriter({ store, spoolDir: path.join(dir, 'spool'), maxBatchAgeMs: 200 });
  await writer.start();
  const recorder = new InferenceRecorder({ policies, sink: writer, registry });
  const capture = new EnvoyCapture({ recorder, joinTimeoutMs: opts.joinTimeoutMs ?? 300 });
  const authorizer = opts.authorizer ?? new Authorizer({ policies });
  const limiter = new RateLimiter({ policies, store: new MemoryBucketStore({ now: opts.limiterNow }), registry });
  const server = await startGatewayServer({ port: 0, host: '127.0.0.1', authorizer, rateLimiter: limiter, capture });
  const clients = envoyClients(server.port);
  return {
    port: server.port,
    clients,
    authorizer,
    limiter,
    capture,
    writer,
    store,
    registry,
    async close() {
      clients.close();
      await server.close(500);
      await capture.close();
      await writer.close();
      await limiter.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every inference record in the store, with the object key it came from. */
export async function readRecords(store: ObjectStore, prefix = 'inference-logs/'): Promise<{ key: string; record: InferenceRecord }[]> {
  const out: { key: string; record: InferenceRecord }[] = [];
  for (const obj of await store.list(prefix)) {
    const { body } = await store.get(obj.key);
    for (const line of gunzipSync(body).toString('utf8').split('\n')) {
      if (line) out.push({ key: obj.key, record: JSON.parse(line) as InferenceRecord });
    }
  }
  return out;
}
