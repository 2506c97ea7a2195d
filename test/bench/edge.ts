// Benchmark of the local edge (issue 6): POST /services/{group}/predict through the edge vs
// straight to one replica's /invocations, in the same run, against the real runtime
// serving the demo model wine-classifier v1 (batch 1). Edge configurations, one group each
// on the same edge process and the same runtime:
//   plain      auth off, no rate limit, no capture
//   policy     API key auth + rate limit (a limit far above the load, so every request
//              takes a token and none is refused)
//   capture    auth + rate limit + inference table (record fsync'd before answering)
// The edge runs in a child process of its own (with its xDS server) so that
// process.cpuUsage() there is the edge's CPU alone: "edge CPU µs/req" is its user+system
// time over a fixed-length autocannon run divided by the requests it answered. "c=1" rows
// are one keep-alive connection, sequential for --seconds/2 (sub-ms latencies); "c=N" rows
// are autocannon with N connections for --seconds.
// "1k rps" columns are an open-loop run at a fixed 1,000 requests/s (see fixedRate).
//   node --import tsx test/bench/edge.ts [--seconds 4] [--connections 16]
// Prints a table and writes bench-results/edge.json. Only 127.0.0.1 is loaded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { DEMO_DIR, demoEnv, spawnRuntime, waitReady, type Heldout } from '../runtime/spawn-runtime.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    child: { type: 'boolean', default: false },
    'runtime-port': { type: 'string', default: '0' },
  },
});

const GROUPS = ['plain', 'policy', 'capture'] as const;
type GroupName = (typeof GROUPS)[number];

type ToChild = { type: 'cpu' } | { type: 'stop' };
type FromChild = { type: 'ready'; port: number; keys: Record<string, string> } | { type: 'cpu'; user: number; system: number };

// ---------------------------------------------------------------------------------------
// Child: xDS control + edge with real policy objects

async function child(runtimePort: number): Promise<void> {
  const { Registry } = await import('prom-client');
  const { createXdsControl } = await import('../../xds/publisher.ts');
  const { startEdge } = await import('../../gateway/edge/server.ts');
  const { Authorizer, generateApiKey } = await import('../../gateway/authz.ts');
  const { StaticPolicySource } = await import('../../gateway/policy/port.ts');
  const { RateLimiter } = await import('../../gateway/ratelimit/limiter.ts');
  const { MemoryBucketStore } = await import('../../gateway/ratelimit/memory.ts');
  const { InferenceRecorder } = await import('../../gateway/inference-log/recorder.ts');
  const { InferenceLogWriter } = await import('../../gateway/inference-log/writer.ts');
  const { FsObjectStore } = await import('../../platform/objectstore/fs.ts');
  const { SETTINGS, dpVersion, policiesFor } = await import('../edge/helpers.ts');

  const spec = (g: GroupName) => ({ auth: g !== 'plain', qps: g === 'plain' ? null : 1_000_000, capture: g === 'capture' });
  const model = {
    groups: GROUPS.map((g) => ({ groupId: g, name: g, versions: [dpVersion({ name: 'v1', weight: 100, ports: [runtimePort], ...spec(g) })] })),
  };
  const policies = policiesFor(model, new StaticPolicySource());
  const keys: Record<string, string> = {};
  for (const g of GROUPS) {
    const { key, hash } = generateApiKey();
    policies.addKey({ keyId: `bench-${g}`, hash, groupName: g, versionName: null });
    keys[g] = key;
  }
  const authorizer = new Authorizer({ policies });

  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-edge-'));
  const writer = new InferenceLogWriter({ store: new FsObjectStore(path.join(dir, 'objects')), spoolDir: path.join(dir, 'spool') });
  await writer.start();
  const registry = new Registry();
  const rateLimiter = new RateLimiter({ policies, store: new MemoryBucketStore(), registry });
  const recorder = new InferenceRecorder({ policies, sink: writer, registry });
  const xds = createXdsControl({ loadModel: async () => model, settings: SETTINGS });
  const xdsPort = await xds.start(0, '127.0.0.1');
  const edge = await startEdge({
    port: 0,
    host: '127.0.0.1',
    xds: { address: `127.0.0.1:${xdsPort}` },
    policy: { authorizer, rateLimiter, recorder },
    metrics: registry,
  });
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ type: 'cpu', user: u.user, system: u.system } satisfies FromChild);
    } else if (msg.type === 'stop') {
      void (async () => {
        await edge.close();
        await xds.close();
        await writer.close();
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      })();
    }
  });
  process.send?.({ type: 'ready', port: edge.port, keys } satisfies FromChild);
}

// ---------------------------------------------------------------------------------------
// Parent: load generator

interface EdgeChild {
  proc: ChildProcess;
  port: number;
  keys: Record<string, string>;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

function startChild(runtimePort: number): Promise<EdgeChild> {
  const file = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, ['--import', 'tsx', file, '--child', '--runtime-port', String(runtimePort)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type: FromChild['type']) =>
    new Promise<FromChild>((resolve, reject) => {
      const onMsg = (m: FromChild) => {
        if (m.type !== type) return;
        proc.off('message', onMsg);
        resolve(m);
      };
      proc.on('message', onMsg);
      proc.once('exit', (code) => reject(new Error(`edge child exited with ${code}`)));
    });
  return next('ready').then((ready) => {
    if (ready.type !== 'ready') throw new Error('unexpected');
    return {
      proc,
      port: ready.port,
      keys: ready.keys,
      async cpuMicros() {
        const p = next('cpu');
        proc.send({ type: 'cpu' } satisfies ToChild);
        const m = await p;
        return m.type === 'cpu' ? m.user + m.system : 0;
      },
      async stop() {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.send({ type: 'stop' } satisfies ToChild);
        await exited;
      },
    };
  });
}

interface Target {
  name: string;
  port: number;
  path: string;
  headers: Record<string, string>;
}

/** One keep-alive connection, sequential: rps and per-call latency (ms). */
async function sequential(t: Target, body: string, seconds: number): Promise<{ rps: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const call = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: t.port, path: t.path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...t.headers } },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`${t.name}: HTTP ${res.statusCode}`));
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  for (let i = 0; i < 300; i++) await call();
  const samples: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  agent.destroy();
  const { p50, p99 } = summarize(samples);
  return { rps: samples.length / ((performance.now() - start) / 1000), p50, p99 };
}

/**
 * autocannon for `seconds` over `connections` (after a 1 s warm-up), with the edge's CPU
 * time around the measured run. (autocannon's `amount` mode ends on a whole-second tick,
 * which makes req/s meaningless for short runs; a fixed duration does not.)
 */
async function cannon(t: Target, body: string, seconds: number, connections: number, cpu: () => Promise<number>) {
  const opts = { url: `http://127.0.0.1:${t.port}${t.path}`, method: 'POST' as const, headers: { 'content-type': 'application/json', ...t.headers }, body, connections };
  await autocannon({ ...opts, duration: 1 });
  const cpu0 = await cpu();
  const r = await autocannon({ ...opts, duration: seconds });
  const cpu1 = await cpu();
  return { rps: r.requests.total / seconds, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total, non2xx: r.non2xx, errors: r.errors, cpuMicros: cpu1 - cpu0 };
}

/**
 * Open loop at a fixed rate (issue 6's "p99 added at 1,000 rps"): requests are sent on a
 * 1 ms schedule whatever the answers do, and each latency is counted from its scheduled
 * time, so a stall shows up in the tail instead of slowing the load (no coordinated
 * omission). Keep-alive pool of up to 64 sockets.
 */
async function fixedRate(t: Target, body: string, rate: number, seconds: number, cpu: () => Promise<number>) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const samples: number[] = [];
  let failures = 0;
  const send = (scheduled: number) =>
    new Promise<void>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: t.port, path: t.path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...t.headers } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) samples.push(performance.now() - scheduled);
            else failures++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failures++;
        resolve();
      });
      req.end(body);
    });
  const tickMs = 1;
  const perTick = (rate * tickMs) / 1000;
  const cpu0 = await cpu();
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let tick = 0; tick * tickMs < seconds * 1000; tick++) {
    const due = start + tick * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let i = 0; i < perTick; i++) inflight.push(send(due));
  }
  await Promise.all(inflight);
  const cpu1 = await cpu();
  agent.destroy();
  const { p50, p99 } = summarize(samples);
  return { p50, p99, answered: samples.length, failures, cpuMicros: cpu1 - cpu0 };
}

async function parent(): Promise<void> {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
  const body = JSON.stringify({ client_request_id: 'bench', dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } });

  const runtime = await spawnRuntime(demoEnv('1'));
  await waitReady(runtime.url);
  const runtimePort = Number(new URL(runtime.url).port);
  const edge = await startChild(runtimePort);
  const rows: BenchRow[] = [];
  try {
    const targets: Target[] = [
      { name: 'direct /invocations', port: runtimePort, path: '/invocations', headers: {} },
      ...GROUPS.map((g) => ({
        name: `edge ${g}`,
        port: edge.port,
        path: `/services/${g}/predict`,
        headers: (g === 'plain' ? {} : { authorization: `Bearer ${edge.keys[g]}` }) as Record<string, string>,
      })),
    ];
    // JIT-warm every path of the edge before any of them is measured
    for (const t of targets) await cannon(t, body, 1, connections, async () => 0);
    const direct = { seq: { rps: 0, p50: 0, p99: 0 }, many: { rps: 0, p50: 0, p99: 0 }, open: { p50: 0, p99: 0 } };
    for (const t of targets) {
      const seq = await sequential(t, body, Math.max(2, Math.round(seconds / 2)));
      const many = await cannon(t, body, seconds, connections, () => edge.cpuMicros());
      if (many.non2xx > 0 || many.errors > 0) throw new Error(`${t.name}: ${many.non2xx} non-2xx, ${many.errors} errors`);
      const isDirect = t.path === '/invocations';
      if (isDirect) {
        direct.seq = seq;
        direct.many = many;
      }
      const cpuPerReq = isDirect ? Number.NaN : many.cpuMicros / many.total;
      const open = await fixedRate(t, body, 1000, seconds, () => edge.cpuMicros());
      if (open.failures > 0) throw new Error(`${t.name}: ${open.failures} failures at 1,000 rps`);
      if (isDirect) direct.open = open;
      rows.push({
        target: t.name,
        'c=1 req/s': round(seq.rps, 0),
        'c=1 p50 µs': round(seq.p50 * 1000, 0),
        'c=1 p99 µs': round(seq.p99 * 1000, 0),
        'c=1 overhead µs': isDirect ? 0 : round((seq.p50 - direct.seq.p50) * 1000, 0),
        [`c=${connections} req/s`]: round(many.rps, 0),
        [`c=${connections} p50 ms`]: many.p50,
        [`c=${connections} p99 ms`]: many.p99,
        'req/s vs direct': isDirect ? 1 : round(many.rps / direct.many.rps, 2),
        'edge CPU µs/req': isDirect ? '-' : round(cpuPerReq, 0),
        '1k rps p50 µs': round(open.p50 * 1000, 0),
        '1k rps p99 µs': round(open.p99 * 1000, 0),
        '1k rps p99 added µs': isDirect ? 0 : round((open.p99 - direct.open.p99) * 1000, 0),
        'edge CPU µs/req @1k rps': isDirect ? '-' : round(open.cpuMicros / open.answered, 0),
      });
    }
  } finally {
    await edge.stop();
    await runtime.stop();
  }
  report('edge', rows, {
    seconds,
    connections,
    batch: 1,
    model: 'wine-classifier v1 (runtime/server.ts, one replica)',
    cpu: 'edge process user+system µs per answered request over the measured autocannon run (warm-up excluded)',
    note: 'one machine: load generator, edge and runtime share its cores, so c=N figures are bounded by the slowest of them',
  });
}

if (values.child) await child(Number(values['runtime-port']));
else await parent();
