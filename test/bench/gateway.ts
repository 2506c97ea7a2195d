// Benchmark: per-call cost of the edge policies on the /predict hot path — the authorizer
// with a cached API key, the rate limiter in-process and through Redis, and the inference
// recorder writing to the fsync'd spool — as CPU µs per call (process.cpuUsage) and wall
// latency, plus the ext_authz gRPC round trip as Envoy would see it. Run:
//   node --import tsx test/bench/gateway.ts [--n 20000] [--redis redis://127.0.0.1:6379]
// Prints a table and writes bench-results/gateway.json.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { Authorizer, generateApiKey } from '../../gateway/authz.ts';
import { EnvoyCapture } from '../../gateway/capture.ts';
import { InferenceRecorder } from '../../gateway/inference-log/recorder.ts';
import { InferenceLogWriter } from '../../gateway/inference-log/writer.ts';
import { StaticPolicySource, type VersionPolicy } from '../../gateway/policy/port.ts';
import { RateLimiter } from '../../gateway/ratelimit/limiter.ts';
import { MemoryBucketStore } from '../../gateway/ratelimit/memory.ts';
import { RedisBucketStore } from '../../gateway/ratelimit/redis.ts';
import { startGatewayServer } from '../../gateway/server.ts';
import { envoyPackage } from '../../proto/envoy.ts';
import * as grpc from '@grpc/grpc-js';
import { report, round, summarize, type BenchRow } from './_report.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } } });
const N = Number(values.n);

const policy = (over: Partial<VersionPolicy>): VersionPolicy => ({
  group: 'wine-quality',
  version: 'v1',
  authEnabled: true,
  qpsLimit: 1e9, // never throttles: we measure the check, not the refusal
  keyQpsLimit: null,
  inference: { enabled: true, sampleRate: 1, maxBodyBytes: 64 * 1024 },
  ...over,
});

interface Measured {
  calls: number;
  cpuUsPerCall: number;
  wallUsPerCall: number;
  p50Us: number;
  p99Us: number;
}

/** Runs `fn` n times with `concurrency` in flight; CPU and wall time per call, latency percentiles. */
async function measure(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<Measured> {
  for (let i = 0; i < Math.min(500, n); i++) await fn(i); // warm-up (JIT, caches, connections)
  const lat: number[] = new Array(n);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const s = performance.now();
      await fn(i);
      lat[i] = (performance.now() - s) * 1000;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const s = summarize(lat);
  return { calls: n, cpuUsPerCall: (cpu.user + cpu.system) / n, wallUsPerCall: wall / n, p50Us: s.p50, p99Us: s.p99 };
}

const row = (name: string, concurrency: number, m: Measured): BenchRow => ({
  name,
  concurrency,
  calls: m.calls,
  'cpu µs/call': round(m.cpuUsPerCall, 2),
  'wall µs/call': round(m.wallUsPerCall, 2),
  'p50 µs': round(m.p50Us, 1),
  'p99 µs': round(m.p99Us, 1),
  'calls/s': Math.round(1e6 / m.wallUsPerCall),
});

const rows: BenchRow[] = [];
const policies = new StaticPolicySource();
policies.setVersion(policy({}));
policies.setVersion(policy({ group: 'open', authEnabled: false }));
const { key, hash } = generateApiKey();
policies.addKey({ keyId: 'k1', hash, groupName: 'wine-quality', versionName: null });

// 1. Authorizer, API key (lookup cached for 1 s) and auth-off.
const authorizer = new Authorizer({ policies });
rows.push(row('authz: API key (cached)', 1, await measure(N, 1, () => authorizer.check({ group: 'wine-quality', version: 'v1', authorization: `Bearer ${key}` }))));
rows.push(row('authz: auth off', 1, await measure(N, 1, () => authorizer.check({ group: 'open', authorization: undefined }))));

// 2. Rate limiter, in-process.
const memLimiter = new RateLimiter({ policies, store: new MemoryBucketStore(), registry: new Registry() });
rows.push(row('ratelimit: in-process', 1, await measure(N * 2, 1, () => memLimiter.check({ group: 'wine-quality', version: 'v1' }))));

// 3. Rate limiter, Redis (one round trip + Lua per call).
const prefix = `sluice:bench:${randomBytes(4).toString('hex')}:`;
const redisStore = new RedisBucketStore(values.redis, { keyPrefix: prefix });
const redisLimiter = new RateLimiter({ policies, store: redisStore });
const rn = Math.min(N, 5000);
rows.push(row('ratelimit: Redis', 1, await measure(rn, 1, () => redisLimiter.check({ group: 'wine-quality', version: 'v1' }))));
rows.push(row('ratelimit: Redis', 32, await measure(rn * 2, 32, () => redisLimiter.check({ group: 'wine-quality', version: 'v1' }))));
await redisLimiter.close();
const admin = new Redis(values.redis);
const left = await admin.keys(`${prefix}*`);
if (left.length) await admin.del(...left);
admin.disconnect();

// 4. Inference recorder → spool (fsync'd group commits) → fs object store.
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-gw-'));
const writer = new InferenceLogWriter({ store: new FsObjectStore(path.join(dir, 'objects')), spoolDir: path.join(dir, 'spool') });
await writer.start();
const recorder = new InferenceRecorder({ policies, sink: writer });
const body = JSON.stringify({ client_request_id: 'c', dataframe_split: { columns: Array.from({ length: 13 }, (_, i) => `f${i}`), data: [Array.from({ length: 13 }, (_, i) => i * 1.5)] } });
const exchange = (i: number) => ({ requestId: `r${i}-${Math.random()}`, group: 'wine-quality', version: 'v1', startedAt: Date.now(), latencyMs: 2.5, statusCode: 200, requestBody: body, responseBody: '{"predictions":[1]}' });
const recN = Math.min(N, 2000);
rows.push(row('recorder: record (await fsync)', 1, await measure(Math.min(recN, 500), 1, (i) => recorder.record(exchange(i)))));
rows.push(row('recorder: record (await fsync)', 64, await measure(recN * 2, 64, (i) => recorder.record(exchange(i)))));
const flushed = await writer.flush(30_000);
await writer.close();

// 5. ext_authz over gRPC, as Envoy calls it (loopback round trip).
const capture = new EnvoyCapture({ recorder });
const server = await startGatewayServer({ port: 0, host: '127.0.0.1', authorizer, rateLimiter: memLimiter, capture });
const protos = envoyPackage();
const client = new protos.envoy.service.auth.v3.Authorization(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
const checkReq = { attributes: { request: { http: { headers: { authorization: key, 'x-request-id': 'r' } } }, context_extensions: { group: 'wine-quality', version: 'v1' } } };
const grpcCheck = () => new Promise<void>((res, rej) => client.Check(checkReq, (err) => (err ? rej(err) : res())));
const gn = Math.min(N, 3000);
rows.push(row('ext_authz gRPC Check (client+server)', 1, await measure(gn, 1, grpcCheck)));
rows.push(row('ext_authz gRPC Check (client+server)', 16, await measure(gn * 2, 16, grpcCheck)));
client.close();
await server.close(500);
await capture.close();
rmSync(dir, { recursive: true, force: true });

report('gateway', rows, {
  machine: `${process.platform} ${process.arch}, ${(await import('node:os')).cpus().length} cores shared with other work`,
  cpu: 'cpu µs/call = process.cpuUsage (user+system) over the run / calls; the gRPC rows include the grpc-js client in the same process',
  recorder: `records fsync'd in group commits; writer flushed cleanly: ${flushed}`,
});
process.exit(0);
