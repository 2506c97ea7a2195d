// Benchmark of start time and memory, under tsx (how every process ran before the build) and
// from the build (dist/, how `npm start` and its replicas run now), in the same run:
//   replica      the model runtime serving wine-classifier v1: spawn → /ready answers 200,
//                and its resident memory (VmRSS) then; median of --rounds
//   npm start    the control plane on a fresh data dir with the demo: spawn → "[sluice]
//                ready" (database migrated, demo created, two replicas up, edge routing),
//                the control plane's VmRSS, and that of its two replicas
//   node --import tsx test/bench/startup.ts [--rounds 5]
// Prints a table and writes bench-results/startup.json. Ports from SLUICE_BENCH_PORT (44060).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { demoEnv, spawnRuntime, waitReady } from '../runtime/spawn-runtime.ts';
import { report, round, type BenchRow } from './_report.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const basePort = Number(process.env.SLUICE_BENCH_PORT ?? 44060);

const rssMiB = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function replica(built: boolean): Promise<{ ms: number; rss: number }> {
  const t0 = performance.now();
  const rt = await spawnRuntime(demoEnv('1'), { built });
  await waitReady(rt.url, 60_000);
  const ms = performance.now() - t0;
  const rss = rssMiB(rt.proc.pid!);
  await rt.stop();
  return { ms, rss };
}

async function controlPlane(built: boolean): Promise<{ ms: number; rss: number; replicasRss: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-start-'));
  const env = {
    ...process.env,
    SLUICE_DATA_DIR: dataDir,
    DATABASE_URL: '',
    REDIS_URL: '',
    SLUICE_OBJECT_STORE: '',
    SLUICE_PORT: String(basePort),
    SLUICE_EDGE_PORT: String(basePort + 1),
    SLUICE_XDS_PORT: String(basePort + 2),
    SLUICE_GATEWAY_PORT: String(basePort + 3),
  };
  const argv = built ? ['--enable-source-maps', 'dist/control/main.js'] : ['--import', 'tsx', 'control/main.ts'];
  const t0 = performance.now();
  const proc = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => proc.once('exit', r));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (out.includes('[sluice] ready')) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
      proc.once('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`control plane exited with ${code}:\n${out}`));
      });
    });
    const ms = performance.now() - t0;
    const rss = rssMiB(proc.pid!);
    let replicasRss = 0;
    for (const f of readdirSync(path.join(dataDir, 'runtime'), { recursive: true }).map(String)) {
      if (!f.endsWith('.json') || !f.includes('state')) continue;
      const pid = (JSON.parse(readFileSync(path.join(dataDir, 'runtime', f), 'utf8')) as { pid?: number }).pid;
      if (pid) replicasRss += rssMiB(pid);
    }
    return { ms, rss, replicasRss };
  } finally {
    proc.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// @ts-expect-error -- a plain .mjs script without type declarations
const { buildIfStale } = (await import('../../scripts/build.mjs')) as { buildIfStale(): Promise<unknown> };
await buildIfStale();

const rows: BenchRow[] = [];
for (const built of [false, true]) {
  const samples: { ms: number; rss: number }[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await replica(built));
  rows.push({
    process: 'replica (runtime, wine v1)',
    mode: built ? 'build' : 'tsx',
    'start → ready ms (median)': round(median(samples.map((s) => s.ms)), 0),
    'RSS MiB (median)': round(median(samples.map((s) => s.rss)), 1),
    'replicas RSS MiB': '-',
  });
}
for (const built of [false, true]) {
  const r = await controlPlane(built);
  rows.push({
    process: 'npm start (fresh data dir, demo)',
    mode: built ? 'build' : 'tsx',
    'start → ready ms (median)': round(r.ms, 0),
    'RSS MiB (median)': round(r.rss, 1),
    'replicas RSS MiB': round(r.replicasRss, 1),
  });
}
report('startup', rows, { rounds, note: 'one machine, shared with other work: times include waiting for CPU' });
