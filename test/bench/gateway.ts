// Benchmark: per-call cost of the edge policies on the /predict hot path — the authorizer
// with a cached API key, the rate limiter in-process and through Redis, and the inference
// recorder writing to the fsync'd spool — as CPU µs per call (process.cpuUsage) and wall
// latency, plus the ext_authz gRPC round trip as Envoy would see it; and the whole plugin
// chain Envoy runs per request (ext_authz Check + ShouldRateLimit + one ext_proc stream in
// observability mode with both bodies + one entry on a long-lived access-log stream, batched
// as Envoy's access logger batches them) driven
// by a real grpc-js client at a fixed rate, with the services alone in a child process whose
// CPU per request (/proc schedstat, all threads) is the figure — under tsx and compiled. Run:
//   node --import tsx test/bench/gateway.ts [--n 20000] [--redis redis://127.0.0.1:6379] [--rate 500] [--seconds 4]
// Prints a table and writes bench-results/gateway.json.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
import { encode, envoyPackage } from '../../proto/envoy.ts';
import * as grpc from '@grpc/grpc-js';
import { report, round, summarize, type BenchRow } from './_report.ts';
import { check, envoyClients, shouldRateLimit } from '../gateway/helpers.ts';
import { CAPTURE_KEY, CAPTURE_METADATA_NAMESPACE } from '../../xds/contract.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '4' },
    // only the chain rows (build, with and without RLS), not the per-call rows
    'chain-only': { type: 'boolean', default: false },
    // the chain rows N times each, round-robin; each reports its median (and least) cpu µs/request
    repeat: { type: 'string', default: '1' },
    // --profile-chain: the chain server (build, with RLS) under --cpu-prof; profile in bench-results/profiles/
    'profile-chain': { type: 'boolean', default: false },
    // with --profile-chain: which chain variant to profile (default: the chain before the capture filter, with RLS)
    'profile-variant': { type: 'string', default: 'chain' },
  },
});
const N = Number(values.n);
const loadStart = os.loadavg();

/**
 * Envoy's gRPC access logger buffers entries and sends them as one StreamAccessLogsMessage
 * once the buffered entries' encoded size reaches buffer_size_bytes (default 16 KiB) or every
 * buffer_flush_interval (default 1 s); the pushed config sets neither. The bench flushes the
 * same way, by the entries' encoded size: a bodiless entry like the bench's is ~100-160
 * bytes (~100 a message), one carrying the captured bodies (base64) ~560 (~30 a message).
 * (The "a message per request" row sends one per request, the worst case, as earlier
 * rounds of this bench did.)
 */
const ALS_BUFFER_BYTES = 16 * 1024;
const ALS_FLUSH_MS = 1000;
const ENVOY_ENTRY_TYPE = 'envoy.data.accesslog.v3.HTTPAccessLogEntry';


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

const body = JSON.stringify({ client_request_id: 'c', dataframe_split: { columns: Array.from({ length: 13 }, (_, i) => `f${i}`), data: [Array.from({ length: 13 }, (_, i) => i * 1.5)] } });
let flushed: boolean | string = 'not run (--chain-only)';
if (!values['chain-only'] && !values['profile-chain']) {
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

  // 4. Inference recorder → spool (default mode: written, fdatasync in the background) → fs object store.
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-gw-'));
  const writer = new InferenceLogWriter({ store: new FsObjectStore(path.join(dir, 'objects')), spoolDir: path.join(dir, 'spool') });
  await writer.start();
  const recorder = new InferenceRecorder({ policies, sink: writer });

  const exchange = (i: number) => ({ requestId: `r${i}-${Math.random()}`, group: 'wine-quality', version: 'v1', startedAt: Date.now(), latencyMs: 2.5, statusCode: 200, requestBody: body, responseBody: '{"predictions":[1]}' });
  const recN = Math.min(N, 2000);
  rows.push(row('recorder: record (spool, background fdatasync)', 1, await measure(Math.min(recN, 500), 1, (i) => recorder.record(exchange(i)))));
  rows.push(row('recorder: record (spool, background fdatasync)', 64, await measure(recN * 2, 64, (i) => recorder.record(exchange(i)))));
  flushed = await writer.flush(30_000);
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

}
// 6. The whole chain per request, as Envoy drives it, server CPU only.
const chainRows: BenchRow[] = [];
if (values['profile-chain']) {
  const profDir = path.resolve('bench-results', 'profiles');
  rmSync(profDir, { recursive: true, force: true });
  const variant = values['profile-variant'] as ChainVariant;
  chainRows.push(await chain('build', Number(values.rate), Number(values.seconds), variant === 'chain', ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${profDir}`], variant));
  console.log(`profile in ${profDir}`);
} else {
  if (!values['chain-only']) chainRows.push(await chain('tsx', Number(values.rate), Number(values.seconds), true));
  const rate = Number(values.rate);
  const secs = Number(values.seconds);
  const runs: (() => Promise<BenchRow>)[] = [
    () => chain('build', rate, secs, true),
    // with SLUICE_ENVOY_RATE_LIMIT=local (the default) Envoy limits by itself: no RLS call
    () => chain('build', rate, secs, false),
    // the default chain now: capture rides in the access-log entry (the Lua capture filter's
    // dynamic metadata), no ext_proc stream
    () => chain('build', rate, secs, false, [], 'als-capture'),
    // each lever alone: capture by ext_proc stream vs by access-log entry; ext_authz over
    // grpc-js vs over node:http (Envoy's http_service mode)
    () => chain('build', rate, secs, false, [], 'ext-proc-only'),
    () => chain('build', rate, secs, false, [], 'als-capture-only'),
    () => chain('build', rate, secs, false, [], 'authz-grpc'),
    () => chain('build', rate, secs, false, [], 'authz-http'),
    // the access log as earlier rounds sent it (one message per request), for comparison
    ...(values['chain-only'] ? [] : [() => chain('build', rate, secs, false, [], 'chain', true)]),
    // grpc-js's own floor: what one unary call costs the server with nothing to do
    () => chain('build', rate, secs, false, [], 'empty-unary'),
  ];
  // --repeat N: every row N times, round-robin (so a burst of other load on a shared machine
  // hits all rows alike); each row reports the median and the least of its runs
  const repeat = Math.max(1, Number(values.repeat));
  const results: BenchRow[][] = runs.map(() => []);
  for (let r = 0; r < repeat; r++) for (const [i, run] of runs.entries()) results[i]!.push(await run());
  for (const list of results) {
    const cpus = list.map((x) => Number(x['cpu µs/call'])).sort((a, b) => a - b);
    chainRows.push({
      ...list[0]!,
      'cpu µs/call': round(cpus[Math.floor((cpus.length - 1) / 2)]!, 1),
      ...(repeat > 1 ? { 'cpu µs/call (least)': round(cpus[0]!, 1), runs: repeat } : {}),
    });
  }
}
console.table(chainRows);

report('gateway', [...rows, ...chainRows], {
  machine: `${process.platform} ${process.arch}, ${(await import('node:os')).cpus().length} cores shared with other work`,
  cpu: 'cpu µs/call = process.cpuUsage (user+system) over the run / calls; the gRPC rows include the grpc-js client in the same process; chain rows: the server process alone (/proc schedstat)',
  saturation: 'a chain row whose p50 runs to tens of ms or seconds had the bench client falling behind (it shares the machine): its requests reach the server in bursts, which reads as less server CPU per request; compare rows whose p50 stays at a few ms (--rate 200 on a busy 2-core machine)',
  loadavg: `${loadStart.map((x) => x.toFixed(2)).join(' ')} at start, ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at end (1/5/15 min)`,
  recorder: `records written to the spool (fdatasync in the background every ≤ 50 ms); writer flushed cleanly: ${flushed}`,
});
process.exit(0);

/** CPU time (µs) of a process, every thread, from /proc/<pid>/task/<tid>/schedstat (ns). */
function cpuMicrosOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone
    }
  }
  return ns / 1000;
}

/**
 * What one bench request costs the server:
 * - chain: ext_authz Check (+ RLS when asked) + an ext_proc stream with both bodies + an ALS entry (the pushed config before the capture filter)
 * - als-capture: ext_authz Check (+ RLS when asked) + an ALS entry carrying both bodies in its dynamic metadata (the pushed config now)
 * - ext-proc-only / als-capture-only: the capture alone, each way
 * - authz-grpc / authz-http: the ext_authz check alone, over grpc-js and over node:http
 * - empty-unary: one grpc-js unary call to a handler that answers at once
 */
type ChainVariant = 'chain' | 'als-capture' | 'ext-proc-only' | 'als-capture-only' | 'authz-grpc' | 'authz-http' | 'empty-unary';

// (a function: the top-level runs above call chain() before a const here would be initialised)
function leverRowName(variant: Exclude<ChainVariant, 'chain' | 'als-capture' | 'empty-unary'>): string {
  switch (variant) {
    case 'ext-proc-only':
      return 'capture alone: one ext_proc stream (observability) with both bodies + its ALS entry (batched)';
    case 'als-capture-only':
      return 'capture alone: one ALS entry carrying both bodies in dynamic metadata (batched)';
    case 'authz-grpc':
      return 'authz alone: ext_authz Check over grpc-js';
    case 'authz-http':
      return 'authz alone: the same check over node:http (ext_authz http_service mode, keep-alive)';
  }
}

async function chain(
  mode: 'tsx' | 'build',
  rate: number,
  seconds: number,
  withRls: boolean,
  nodeFlags: string[] = [],
  variant: ChainVariant = 'chain',
  alsPerRequest = false,
): Promise<BenchRow> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const src = path.join(here, '_gateway-chain-server.ts');
  let argv: string[];
  if (mode === 'tsx') argv = ['--import', 'tsx', src];
  else {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { bundleScript } = (await import('../../scripts/build.mjs')) as { bundleScript(src: string, out: string): Promise<string> };
    const out = path.join(here, '.gateway-chain-server.build.mjs');
    await bundleScript(path.relative(path.resolve(here, '../..'), src), out);
    argv = ['--enable-source-maps', out];
  }
  const proc = spawn(process.execPath, [...nodeFlags, ...argv], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, SLUICE_BENCH_CHAIN_VARIANT: variant },
  });
  const ready = await new Promise<{ port: number; key: string; httpPort?: number }>((resolve, reject) => {
    proc.once('message', (m: { port: number; key: string; httpPort?: number }) => resolve(m));
    proc.once('exit', (code) => reject(new Error(`chain server exited with ${code}`)));
  });
  const c = envoyClients(ready.port);
  const als = c.als.StreamAccessLogs(() => undefined);
  let first = true;
  let n = 0;
  const hdrs = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([k, v]) => ({ key: k, value: v })) });
  const reqBody = Buffer.from(body);
  const resBody = Buffer.from('{"predictions":[1]}');
  const reqBody64 = reqBody.toString('base64');
  const resBody64 = resBody.toString('base64');
  type AlsMessage = Parameters<typeof als.write>[0];
  type AlsEntry = NonNullable<NonNullable<AlsMessage['http_logs']>['log_entry']>[number];
  let alsBuffer: AlsEntry[] = [];
  let alsBufferBytes = 0;
  let alsMessages = 0;
  let alsEntries = 0;
  const flushAls = () => {
    if (alsBuffer.length === 0) return;
    alsMessages++;
    alsEntries += alsBuffer.length;
    alsBufferBytes = 0;
    als.write({ identifier: first ? { node: { id: 'bench-envoy', cluster: 'edge' }, log_name: 'sluice' } : undefined, http_logs: { log_entry: alsBuffer } });
    first = false;
    alsBuffer = [];
  };
  const alsTimer = setInterval(flushAls, ALS_FLUSH_MS);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const httpCheck = (rid: string) =>
    new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: ready.httpPort, path: '/services/wine-quality/predict', method: 'POST', agent, headers: { authorization: `Bearer ${ready.key}`, 'x-request-id': rid, 'content-length': '0' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(String(res.headers['x-sluice-key-id'] ?? '')) : reject(new Error(`authz ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end();
    });
  // the access-log entry of one request; with the capture filter, its bodies in dynamic metadata
  const alsEntry = (rid: string, withBodies: boolean): AlsEntry => ({
    common_properties: {
      upstream_cluster: 'sluice/wine-quality/v1',
      start_time: { seconds: String(Math.floor(Date.now() / 1000)) },
      ...(withBodies
        ? {
            metadata: {
              filter_metadata: {
                [CAPTURE_METADATA_NAMESPACE]: {
                  fields: {
                    [CAPTURE_KEY.sampled]: { boolValue: true },
                    [CAPTURE_KEY.group]: { stringValue: 'wine-quality' },
                    [CAPTURE_KEY.version]: { stringValue: 'v1' },
                    [CAPTURE_KEY.request]: { stringValue: reqBody64 },
                    [CAPTURE_KEY.response]: { stringValue: resBody64 },
                  },
                },
              },
            },
          }
        : {}),
    },
    request: { request_id: rid, path: '/services/wine-quality/predict' },
    response: { response_code: { value: 200 } },
  });
  const logOne = (rid: string, withBodies: boolean) => {
    const entry = alsEntry(rid, withBodies);
    alsBuffer.push(entry);
    alsBufferBytes += encode(ENVOY_ENTRY_TYPE, entry).length;
    if (alsPerRequest || alsBufferBytes >= ALS_BUFFER_BYTES) flushAls();
  };
  const one = async (): Promise<void> => {
    const rid = `chain-${mode}-${n++}`;
    if (variant === 'empty-unary') {
      // the floor: one unary call to a handler that answers at once
      await check(c, { attributes: { request: { http: { headers: { 'x-request-id': rid } } } } });
      return;
    }
    if (variant === 'authz-http') {
      await httpCheck(rid);
      return;
    }
    if (variant === 'als-capture-only') {
      logOne(rid, true);
      return;
    }
    let keyId = '';
    if (variant !== 'ext-proc-only') {
      const auth = await check(c, {
        attributes: { request: { http: { headers: { authorization: `Bearer ${ready.key}`, 'x-request-id': rid } } }, context_extensions: { group: 'wine-quality', version: 'v1' } },
      });
      if (auth.http_response !== 'ok_response') throw new Error('chain: authz refused');
      keyId = auth.ok_response?.headers?.find((h) => h.header?.key === 'x-sluice-key-id')?.header?.value ?? '';
    }
    if (variant === 'authz-grpc') return;
    if (withRls) {
      const rl = await shouldRateLimit(c, {
        domain: 'sluice',
        descriptors: [{ entries: [{ key: 'group', value: 'wine-quality' }, { key: 'version', value: 'v1' }, { key: 'key', value: keyId }] }],
      });
      if (rl.overall_code !== 'OK') throw new Error('chain: throttled');
    }
    if (variant === 'als-capture') {
      logOne(rid, true);
      return;
    }
    // observability mode: Envoy sends and never waits for an answer
    const call = c.extProc.Process();
    call.on('data', () => undefined);
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ observability_mode: true, request_headers: { headers: hdrs({ ':method': 'POST', ':path': '/services/wine-quality/predict', 'content-type': 'application/json', 'x-request-id': rid }) } });
    call.write({ observability_mode: true, request_body: { body: reqBody, end_of_stream: true } });
    call.write({ observability_mode: true, response_headers: { headers: hdrs({ ':status': '200', 'content-type': 'application/json', 'x-sluice-version': 'v1' }) } });
    call.write({ observability_mode: true, response_body: { body: resBody, end_of_stream: true } });
    call.end();
    logOne(rid, false);
    await ended;
  };
  // warm-up, then a fixed-rate run (1 ms schedule) with the server's CPU around it
  for (let i = 0; i < 300; i++) await one();
  const lat: number[] = [];
  let failures = 0;
  const cpu0 = cpuMicrosOf(proc.pid!);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  const perTick = rate / 1000;
  let owed = 0;
  for (let tick = 0; tick < seconds * 1000; tick++) {
    const due = start + tick;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    owed += perTick;
    for (; owed >= 1; owed--) inflight.push(one().then(() => void lat.push(performance.now() - due), () => void failures++));
  }
  await Promise.all(inflight);
  const cpu = cpuMicrosOf(proc.pid!) - cpu0;
  clearInterval(alsTimer);
  flushAls();
  als.end();
  agent.destroy();
  c.close();
  const exited = new Promise((r) => proc.once('exit', r));
  proc.send({ type: 'stop' });
  await exited;
  const s = summarize(lat);
  return {
    name:
      variant === 'empty-unary'
        ? `floor: one grpc-js unary call to an empty handler, ${mode}`
        : variant === 'chain' || variant === 'als-capture'
          ? `chain${variant === 'chain' ? ' (before)' : ' (now)'}: authz + ${withRls ? 'RLS' : '(local limit, no RLS)'} + ${variant === 'chain' ? 'ext_proc (observability) + ALS' : 'ALS entry carrying the bodies (capture filter)'} ${alsPerRequest ? '(a message per request)' : `(batched as Envoy: 16 KiB or ${ALS_FLUSH_MS} ms, ~${Math.round(alsEntries / Math.max(1, alsMessages))} entries a message)`}, ${mode}`
          : `${leverRowName(variant)}, ${mode}`,
    concurrency: `${rate}/s`,
    calls: lat.length,
    'cpu µs/call': round(cpu / Math.max(1, lat.length), 1),
    'wall µs/call': '-',
    'p50 µs': round(s.p50 * 1000, 0),
    'p99 µs': round(s.p99 * 1000, 0),
    'calls/s': failures > 0 ? `${failures} failed` : rate,
  };
}
