// Benchmark of release protection at the local edge (issue 15), in one run:
//  1. mirroring: the edge's CPU per answered request with a 100% shadow copy to a second
//     version vs no mirror, against node:http fake runtimes. The copy must cost less than a
//     second request ("shadow cost / request cost" < 1).
//  2. QUEUE mode at the limit: an open-loop load 10% over a version's QPS limit; latency
//     p50/p99 and 429s in QUEUE mode (depth 100, wait 2 s) vs REJECT at the same load.
// The edge and its xDS server run in a child process so that process.cpuUsage() there is
// the edge's CPU alone. Capture (inference table) is off on every version, so both rows
// measure forwarding, not record writing.
//   node --import tsx test/bench/traffic.ts [--seconds 4] [--connections 16] [--qps 200]
// Prints a table and writes bench-results/traffic.json. Only 127.0.0.1 is loaded.
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { report, round, type BenchRow } from './_report.ts';
import type { DataPlaneModel } from '../../xds/model.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    qps: { type: 'string', default: '200' },
    child: { type: 'boolean', default: false },
  },
});

type FromChild = { type: 'ready'; port: number } | { type: 'cpu'; micros: number };
const BODY = JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } });

function version(name: string, weight: number, port: number, qps: number | null = null): DataPlaneModel['groups'][number]['versions'][number] {
  return {
    versionId: `id-${name}`,
    name,
    weight,
    authEnabled: false,
    qpsLimit: qps,
    inferenceTable: { enabled: false, sampleRate: 1, maxBodyBytes: 65536 },
    endpoints: [{ instance: `${name}-0`, host: '127.0.0.1', port, healthy: true }],
  };
}

function modelFor(p1: number, p2: number, qps: number): DataPlaneModel {
  return {
    groups: [
      { groupId: 'g-off', name: 'mirror-off', versions: [version('v1', 100, p1), version('v2', 0, p2)] },
      { groupId: 'g-on', name: 'mirror-on', versions: [version('v1', 100, p1), version('v2', 0, p2)], mirror: { version: 'v2', percent: 100 } },
      { groupId: 'g-q', name: 'queue', versions: [version('v1', 100, p1, qps)] },
      { groupId: 'g-r', name: 'reject', versions: [version('v1', 100, p1, qps)] },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Child: xDS + edge

async function child(): Promise<void> {
  const { Registry } = await import('prom-client');
  const { createXdsControl } = await import('../../xds/publisher.ts');
  const { startEdge } = await import('../../gateway/edge/server.ts');
  const { StaticPolicySource } = await import('../../gateway/policy/port.ts');
  const { RateLimiter } = await import('../../gateway/ratelimit/limiter.ts');
  const { MemoryBucketStore } = await import('../../gateway/ratelimit/memory.ts');
  const model = JSON.parse(process.env.BENCH_MODEL ?? '{}') as DataPlaneModel;
  const policies = new StaticPolicySource();
  for (const g of model.groups) {
    for (const v of g.versions) {
      policies.setVersion({
        group: g.name,
        version: v.name,
        authEnabled: false,
        qpsLimit: v.qpsLimit,
        keyQpsLimit: null,
        inference: { enabled: false, sampleRate: 1, maxBodyBytes: 65536 },
        ...(g.name === 'queue' ? { throttleMode: 'QUEUE' as const, queueDepth: 100, queueMaxWaitMs: 2000 } : {}),
      });
    }
  }
  const xds = createXdsControl({
    loadModel: async () => model,
    settings: { listenerPort: 10000, gatewayCluster: 'gw', gatewayHost: '127.0.0.1', gatewayPort: 18081, stickyHeader: null },
    debounceMs: 1,
  });
  const xdsPort = await xds.start(0, '127.0.0.1');
  const registry = new Registry();
  const rateLimiter = new RateLimiter({ policies, store: new MemoryBucketStore(), registry });
  const edge = await startEdge({ port: 0, host: '127.0.0.1', xds: { address: `127.0.0.1:${xdsPort}` }, policy: { rateLimiter }, metrics: registry, limits: { shadowInFlight: 256 } });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ type: 'cpu', micros: u.user + u.system } satisfies FromChild);
    } else if (m.type === 'stop') void edge.close().then(() => xds.close()).then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', port: edge.port } satisfies FromChild);
}

// ---------------------------------------------------------------------------------------
// Parent

async function runtime(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = '{"predictions":[0]}';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

function ask(c: ChildProcess, type: string): Promise<FromChild> {
  return new Promise((resolve) => {
    c.once('message', (m: FromChild) => resolve(m));
    c.send({ type });
  });
}

async function load(port: number, group: string, opts: { seconds: number; connections: number; rate?: number }) {
  return autocannon({
    url: `http://127.0.0.1:${port}/services/${group}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
}

async function parent(): Promise<void> {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const qps = Number(values.qps);
  const [r1, r2] = await Promise.all([runtime(), runtime()]);
  const c = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_MODEL: JSON.stringify(modelFor(r1.port, r2.port, qps)) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = (await new Promise<FromChild>((r) => c.once('message', r))) as Extract<FromChild, { type: 'ready' }>;
  const port = ready.port;
  // warm up both paths (JIT, sockets)
  await load(port, 'mirror-off', { seconds: 1, connections });
  await load(port, 'mirror-on', { seconds: 1, connections });

  const rows: BenchRow[] = [];
  const cpuPerReq: Record<string, number> = {};
  for (const group of ['mirror-off', 'mirror-on', 'mirror-off', 'mirror-on']) {
    const before = (await ask(c, 'cpu')) as Extract<FromChild, { type: 'cpu' }>;
    const r = await load(port, group, { seconds, connections });
    const after = (await ask(c, 'cpu')) as Extract<FromChild, { type: 'cpu' }>;
    const answered = r['2xx'];
    const us = (after.micros - before.micros) / Math.max(1, answered);
    cpuPerReq[group] = Math.min(cpuPerReq[group] ?? Infinity, us);
    rows.push({ case: group, 'req/s': round(r.requests.average, 0), 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, 'edge CPU µs/req': round(us, 1), non2xx: r.non2xx });
  }
  const shadowCost = (cpuPerReq['mirror-on'] ?? 0) - (cpuPerReq['mirror-off'] ?? 0);
  const ratio = shadowCost / (cpuPerReq['mirror-off'] ?? 1);

  const rate = Math.round(qps * 1.1);
  for (const group of ['reject', 'queue']) {
    // let the bucket refill between runs
    await new Promise((r) => setTimeout(r, 1500));
    const r = await load(port, group, { seconds, connections: 64, rate });
    rows.push({ case: `${group} @ ${rate} rps (limit ${qps})`, 'req/s': round(r.requests.average, 0), 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, 'edge CPU µs/req': '', non2xx: r.non2xx });
  }
  report('traffic', rows, {
    shadowCostMicrosPerRequest: round(shadowCost, 1),
    shadowCostOverRequestCost: round(ratio, 3),
    shadowCheaperThanSecondRequest: ratio < 1,
    seconds,
    connections,
  });
  console.log(`shadow copy: +${round(shadowCost, 1)} µs edge CPU per request = ${round(ratio, 3)} × a request (< 1 means cheaper than a second request)`);
  c.send({ type: 'stop' });
  await new Promise((r) => c.once('exit', r));
  r1.server.close();
  r2.server.close();
  r1.server.closeAllConnections();
  r2.server.closeAllConnections();
}

if (values.child) await child();
else await parent();
