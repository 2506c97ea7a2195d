// Benchmark of the local edge (issues 6 and 11): POST /services/{group}/predict through the
// edge vs straight to one replica's /invocations, and vs nginx (Debian's nginx-light) as a
// plain keep-alive reverse proxy to the same replica, in the same run, against the real
// runtime serving the demo model wine-classifier v1 (batch 1). Edge configurations, one
// group each on the same edge process and the same runtime:
//   plain      auth off, no rate limit, no capture
//   policy     API key auth + rate limit (a limit far above the load, so every request
//              takes a token and none is refused)
//   capture    auth + rate limit + inference table (SLUICE_CAPTURE_SYNC default: answered
//              once the record is written to the spool, fdatasync in the background)
// A "node floor" row is a bare node:http server + one undici dispatch per request in the
// edge's process (no routing, policy, validation, metrics or envelope): the least any proxy
// built on this stack costs, so the edge's own share is its row minus this one.
// Each of those runs twice, once per mode: "tsx" (the sources under tsx, as every process
// ran before the build) and "build" (the same modules compiled by esbuild with the options
// of scripts/build.mjs, and the runtime replica from dist/, as `npm start` runs them now).
// The edge runs in a child process of its own (with its xDS server); "CPU µs/req" is the
// proxy's own CPU time (user+system, every thread, from /proc/<pid>/task/*/schedstat) over
// the measured run divided by the requests it answered — for the edge rows the edge
// process, for the nginx row its master and worker.
// "c=1" rows are one keep-alive connection, sequential (sub-ms latencies); "c=N" rows are
// autocannon with N connections; "1k rps" columns are an open-loop run at a fixed 1,000
// requests/s (see fixedRate), latency counted from the scheduled send time.
//   node --import tsx test/bench/edge.ts [--seconds 4] [--connections 16] [--modes tsx,build]
// Prints a table and writes bench-results/edge.json. Only 127.0.0.1 is loaded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { DEMO_DIR, demoEnv, spawnRuntime, waitReady, type Heldout } from '../runtime/spawn-runtime.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';
import { freePort } from '../fixtures/ports.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    child: { type: 'boolean', default: false },
    'runtime-port': { type: 'string', default: '0' },
    modes: { type: 'string', default: 'tsx,build' },
    // --profile <plain|policy|capture>: no table; one 1,000 rps run on that group with the
    // edge under --cpu-prof, and its top functions by self time (profile in bench-results/)
    profile: { type: 'string' },
    // --open-only nginx,plain,policy,capture: no table; only the 1,000 rps open-loop runs of
    // those targets, each --repeat times in turn (a quick, repeatable CPU-per-request figure)
    'open-only': { type: 'string' },
    repeat: { type: 'string', default: '3' },
    // with --open-only: also a closed-loop autocannon run at --connections per target and repeat
    closed: { type: 'boolean', default: false },
  },
});

const GROUPS = ['plain', 'policy', 'capture'] as const;
type GroupName = (typeof GROUPS)[number];
type Mode = 'tsx' | 'build';

/**
 * CPU time (user+system, µs) of processes, every thread, from the scheduler's own
 * nanosecond account (/proc/<pid>/task/<tid>/schedstat, first field). Threads are long-lived
 * in both node and nginx, so the sum over live threads is the process's CPU.
 */
function cpuMicrosOf(pids: number[]): number {
  let ns = 0;
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }
  return ns / 1000;
}

interface Nginx {
  port: number;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

const NGINX = '/usr/sbin/nginx';

/**
 * Debian's nginx as the plain reverse proxy a user would put in front of the replica: one
 * worker, daemon off, keep-alive to the upstream (the same 64 connections the edge keeps),
 * access log off, everything under a temp prefix. null when nginx is not installed
 * (apt-get install -y nginx-light).
 */
async function startNginx(runtimePort: number): Promise<Nginx | null> {
  if (!existsSync(NGINX)) return null;
  const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-bench-nginx-'));
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 100000;
  upstream runtime { server 127.0.0.1:${runtimePort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://runtime;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  writeFileSync(path.join(prefix, 'nginx.conf'), conf);
  const proc = spawn(NGINX, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
    if (up) break;
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`nginx did not start (see ${prefix}/error.log)`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const pids = () => {
    const children = spawnSync('pgrep', ['-P', String(proc.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
    return [proc.pid!, ...children];
  };
  return {
    port,
    async cpuMicros() {
      return cpuMicrosOf(pids());
    },
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGQUIT');
      await exited;
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

type ToChild = { type: 'cpu' } | { type: 'stop' };
type FromChild = { type: 'ready'; port: number; floorPort: number; keys: Record<string, string> } | { type: 'cpu'; user: number; system: number };

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
  const floor = await startFloorProxy(runtimePort);
  process.on('message', (msg: ToChild) => {
    if (msg.type === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ type: 'cpu', user: u.user, system: u.system } satisfies FromChild);
    } else if (msg.type === 'stop') {
      void (async () => {
        await edge.close();
        await floor.close();
        await xds.close();
        await writer.close();
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      })();
    }
  });
  process.send?.({ type: 'ready', port: edge.port, floorPort: floor.port, keys } satisfies FromChild);
}

/**
 * The floor under any Node proxy with this stack: node:http's server and one undici Pool
 * dispatch per request to the runtime, with no routing, policy, validation, metrics or
 * envelope. What the edge costs above this row is the edge's own work.
 */
async function startFloorProxy(runtimePort: number): Promise<{ port: number; close(): Promise<void> }> {
  const { createServer: createHttpServer } = await import('node:http');
  const { Pool } = await import('undici');
  const pool = new Pool(`http://127.0.0.1:${runtimePort}`, { connections: 64, pipelining: 1 });
  const server = createHttpServer({ noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out: Buffer[] = [];
      let status = 0;
      pool.dispatch(
        { path: '/invocations', method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) },
        {
          onConnect() {},
          onHeaders(code: number) {
            status = code;
            return true;
          },
          onData(chunk: Buffer) {
            out.push(chunk);
            return true;
          },
          onComplete() {
            const body = Buffer.concat(out);
            res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
            res.end(body);
          },
          onError() {
            res.writeHead(502).end();
          },
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Parent: load generator

interface EdgeChild {
  proc: ChildProcess;
  port: number;
  /** the bare node:http + undici proxy beside the edge (startFloorProxy) */
  floorPort: number;
  keys: Record<string, string>;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

/** The edge child under tsx (the sources) or compiled like dist/ (scripts/build.mjs's options). */
async function startChild(runtimePort: number, mode: Mode, nodeFlags: string[] = []): Promise<EdgeChild> {
  const file = fileURLToPath(import.meta.url);
  let argv: string[];
  if (mode === 'tsx') argv = ['--import', 'tsx', file];
  else {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { bundleScript } = (await import('../../scripts/build.mjs')) as { bundleScript(src: string, out: string): Promise<string> };
    const out = path.join(path.dirname(file), '.edge.build.mjs');
    await bundleScript(path.relative(path.resolve(path.dirname(file), '../..'), file), out);
    argv = ['--enable-source-maps', out];
  }
  const proc = spawn(process.execPath, [...nodeFlags, ...argv, '--child', '--runtime-port', String(runtimePort)], {
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
      floorPort: ready.floorPort,
      keys: ready.keys,
      async cpuMicros() {
        return cpuMicrosOf([proc.pid!]);
      },
      async stop() {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.send({ type: 'stop' } satisfies ToChild);
        await exited;
      },
    };
  });
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

interface Target {
  name: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  cpu: () => Promise<number>;
}

async function parent(): Promise<void> {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const modes = values.modes.split(',').filter((m): m is Mode => m === 'tsx' || m === 'build');
  const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
  const body = JSON.stringify({ client_request_id: 'bench', dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } });
  if (modes.includes('build')) {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { buildIfStale } = (await import('../../scripts/build.mjs')) as { buildIfStale(): Promise<unknown> };
    await buildIfStale();
  }

  const rows: BenchRow[] = [];
  const summary: Record<string, Record<string, number>> = {};
  for (const mode of modes) {
    const runtime = await spawnRuntime(demoEnv('1'), { built: mode === 'build' });
    await waitReady(runtime.url);
    const runtimePort = Number(new URL(runtime.url).port);
    const edge = await startChild(runtimePort, mode);
    const nginx = await startNginx(runtimePort);
    const none = async () => 0;
    try {
      const targets: Target[] = [
        { name: 'direct /invocations', port: runtimePort, path: '/invocations', headers: {}, cpu: none },
        ...(nginx ? [{ name: 'nginx (proxy_pass)', port: nginx.port, path: '/invocations', headers: {}, cpu: () => nginx.cpuMicros() }] : []),
        { name: 'node floor (http+undici)', port: edge.floorPort, path: '/invocations', headers: {}, cpu: () => edge.cpuMicros() },
        ...GROUPS.map((g) => ({
          name: `edge ${g}`,
          port: edge.port,
          path: `/services/${g}/predict`,
          headers: (g === 'plain' ? {} : { authorization: `Bearer ${edge.keys[g]}` }) as Record<string, string>,
          cpu: () => edge.cpuMicros(),
        })),
      ];
      // JIT-warm every path before any of them is measured
      for (const t of targets) await cannon(t, body, 1, connections, none);
      const direct = { seq: { rps: 0, p50: 0, p99: 0 }, many: { rps: 0, p50: 0, p99: 0 }, open: { p50: 0, p99: 0 } };
      for (const t of targets) {
        const isDirect = t.path === '/invocations' && t.port === runtimePort;
        const seq = await sequential(t, body, Math.max(2, Math.round(seconds / 2)));
        const many = await cannon(t, body, seconds, connections, t.cpu);
        if (many.non2xx > 0 || many.errors > 0) throw new Error(`${t.name}: ${many.non2xx} non-2xx, ${many.errors} errors`);
        if (isDirect) {
          direct.seq = seq;
          direct.many = many;
        }
        const open = await fixedRate(t, body, 1000, seconds, t.cpu);
        if (open.failures > 0) throw new Error(`${t.name}: ${open.failures} failures at 1,000 rps`);
        if (isDirect) direct.open = open;
        const cpuOpen = isDirect ? Number.NaN : open.cpuMicros / open.answered;
        const added = isDirect ? 0 : (open.p99 - direct.open.p99) * 1000;
        (summary[mode] ??= {})[t.name] = round(cpuOpen, 0);
        (summary[`${mode} p99 added µs`] ??= {})[t.name] = round(added, 0);
        rows.push({
          mode,
          target: t.name,
          'c=1 p50 µs': round(seq.p50 * 1000, 0),
          'c=1 overhead µs': isDirect ? 0 : round((seq.p50 - direct.seq.p50) * 1000, 0),
          [`c=${connections} req/s`]: round(many.rps, 0),
          [`c=${connections} p99 ms`]: many.p99,
          [`CPU µs/req c=${connections}`]: isDirect ? '-' : round(many.cpuMicros / many.total, 0),
          '1k rps p50 µs': round(open.p50 * 1000, 0),
          '1k rps p99 µs': round(open.p99 * 1000, 0),
          '1k rps p99 added µs': round(added, 0),
          'CPU µs/req @1k rps': isDirect ? '-' : round(cpuOpen, 0),
        });
      }
    } finally {
      await edge.stop();
      await nginx?.stop();
      await runtime.stop();
    }
  }
  report('edge', rows, {
    seconds,
    connections,
    batch: 1,
    model: 'wine-classifier v1 (the runtime, one replica; from dist/ in build mode)',
    cpu: 'proxy process CPU (user+system, all threads, /proc schedstat) per answered request over the measured run (warm-up excluded)',
    cpuPerRequestAt1k: summary,
    note: 'one machine: load generator, proxies and runtime share its cores (2 cores shared with other work when these figures were taken), so latency figures are noisy; CPU per request is the steadier measure',
  });
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples: number[];
}

/** One open-loop run with the edge under --cpu-prof; prints the top functions by self time. */
async function profile(group: GroupName, mode: Mode): Promise<void> {
  const seconds = Number(values.seconds);
  const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
  const body = JSON.stringify({ client_request_id: 'bench', dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } });
  const dir = path.resolve('bench-results', 'profiles');
  rmSync(dir, { recursive: true, force: true });
  const runtime = await spawnRuntime(demoEnv('1'), { built: mode === 'build' });
  await waitReady(runtime.url);
  const edge = await startChild(Number(new URL(runtime.url).port), mode, ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${dir}`]);
  const t: Target = {
    name: group,
    port: edge.port,
    path: `/services/${group}/predict`,
    headers: group === 'plain' ? {} : { authorization: `Bearer ${edge.keys[group]}` },
    cpu: () => edge.cpuMicros(),
  };
  try {
    await cannon(t, body, 1, 16, async () => 0);
    const open = await fixedRate(t, body, 1000, seconds, t.cpu);
    console.log(`${mode} ${group}: ${round(open.cpuMicros / open.answered, 0)} µs CPU/req at 1,000 rps, p99 ${round(open.p99 * 1000, 0)} µs`);
  } finally {
    await edge.stop();
    await runtime.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const prof = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const id of prof.samples) {
    const n = byId.get(id);
    if (!n) continue;
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules|work)\//, '')}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = prof.samples.length;
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
  for (const [k, v] of top) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  console.log(`profile: ${path.join(dir, file)}`);
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** --open-only: the open-loop runs alone, interleaved and repeated, to see the noise. */
async function openOnly(names: string[], mode: Mode): Promise<void> {
  const seconds = Number(values.seconds);
  const repeat = Number(values.repeat);
  const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
  const body = JSON.stringify({ client_request_id: 'bench', dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } });
  if (mode === 'build') {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { buildIfStale } = (await import('../../scripts/build.mjs')) as { buildIfStale(): Promise<unknown> };
    await buildIfStale();
  }
  const runtime = await spawnRuntime(demoEnv('1'), { built: mode === 'build' });
  await waitReady(runtime.url);
  const runtimePort = Number(new URL(runtime.url).port);
  // node flags for the edge child (e.g. --perf-basic-prof, to look at it with perf record)
  const edge = await startChild(runtimePort, mode, (process.env.SLUICE_BENCH_EDGE_FLAGS ?? '').split(' ').filter(Boolean));
  console.log(`edge pid ${edge.proc.pid}`);
  const nginx = names.includes('nginx') ? await startNginx(runtimePort) : null;
  const none = async () => 0;
  try {
    const targets: Target[] = [
      { name: 'direct', port: runtimePort, path: '/invocations', headers: {}, cpu: none },
      ...(nginx ? [{ name: 'nginx', port: nginx.port, path: '/invocations', headers: {}, cpu: () => nginx.cpuMicros() }] : []),
      ...(names.includes('floor') ? [{ name: 'floor', port: edge.floorPort, path: '/invocations', headers: {}, cpu: () => edge.cpuMicros() }] : []),
      ...GROUPS.filter((g) => names.includes(g)).map((g) => ({
        name: g,
        port: edge.port,
        path: `/services/${g}/predict`,
        headers: (g === 'plain' ? {} : { authorization: `Bearer ${edge.keys[g]}` }) as Record<string, string>,
        cpu: () => edge.cpuMicros(),
      })),
    ];
    for (const t of targets) await cannon(t, body, 1, 16, none);
    const seen: Record<string, number[]> = {};
    for (let r = 0; r < repeat; r++) {
      let directP99 = 0;
      for (const t of targets) {
        const open = await fixedRate(t, body, 1000, seconds, t.cpu);
        if (t.name === 'direct') directP99 = open.p99;
        const cpu = t.name === 'direct' ? 0 : open.cpuMicros / open.answered;
        (seen[t.name] ??= []).push(round(cpu, 0));
        console.log(`${mode} ${t.name.padEnd(8)} CPU ${String(round(cpu, 0)).padStart(4)} µs/req  p99 ${round(open.p99 * 1000, 0)} µs (added ${round((open.p99 - directP99) * 1000, 0)})  failures ${open.failures}  load ${loadavg()}`);
        if (values.closed && t.name !== 'direct') {
          const connections = Number(values.connections);
          const many = await cannon(t, body, seconds, connections, t.cpu);
          const cpuMany = many.cpuMicros / many.total;
          (seen[`${t.name} c=${connections}`] ??= []).push(round(cpuMany, 0));
          console.log(`${mode} ${t.name.padEnd(8)} c=${connections} CPU ${String(round(cpuMany, 0)).padStart(4)} µs/req  ${round(many.rps, 0)} req/s  non-2xx ${many.non2xx}  load ${loadavg()}`);
        }
      }
    }
    for (const [name, xs] of Object.entries(seen)) if (name !== 'direct') console.log(`${mode} ${name}: ${xs.join(' / ')} µs/req`);
  } finally {
    await edge.stop();
    await nginx?.stop();
    await runtime.stop();
  }
}

if (values.child) await child(Number(values['runtime-port']));
else if (values['open-only']) await openOnly(values['open-only'].split(','), (values.modes.split(',')[0] as Mode) ?? 'build');
else if (values.profile) await profile(values.profile as GroupName, (values.modes.split(',')[0] as Mode) ?? 'build');
else await parent();
