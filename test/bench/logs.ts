// `npm run bench -- logs`: the Operations stores.
//  - log ingest: 1,000,000 lines appended in tail-sized batches, lines/s, against writing the
//    same bytes with bare appendFileSync (the floor);
//  - log search over those 1,000,000 lines (worst cases scan everything), against a bare
//    Buffer.indexOf over the same bytes already in memory;
//  - metrics: scrape + rollup cost per replica per interval (SQLite), and the `metrics` query
//    for 7 days at five-minute steps for a group of two versions, every metric name.
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { LogStore } from '../../control/logs/store.ts';
import { LogSearcher } from '../../control/logs/search.ts';
import type { LogLine } from '../../control/orchestrator/port.ts';
import { MetricsScraper } from '../../control/monitoring/scraper.ts';
import { EmbeddedMetricsReader, METRIC_NAMES } from '../../control/monitoring/reader.ts';
import { createEdgeMetrics } from '../../gateway/edge/metrics.ts';
import { createRuntimeMetrics } from '../../runtime/metrics.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { freshDatabase } from '../fixtures/db.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 1_000_000);
const BATCH = 1000;
const rows: BenchRow[] = [];
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-logs-'));

async function time(fn: () => Promise<unknown> | unknown, rounds: number): Promise<number[]> {
  await fn();
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

try {
  // ---------------------------------------------------------------- ingest
  const start = Date.UTC(2026, 11, 1);
  const makeBatch = (b: number): LogLine[] =>
    Array.from({ length: BATCH }, (_, k) => {
      const n = b * BATCH + k;
      return {
        time: new Date(start + n * 10),
        instance: `shop-v1-${n % 4}`,
        stream: n % 50 === 0 ? 'stderr' : 'stdout',
        line: `${n % 50 === 0 ? 'WARN' : 'INFO'} POST /invocations request_id=${(n * 2654435761) % 4294967296} rows=${n % 7} took_ms=${(n % 97) / 10}`,
      };
    });
  const store = new LogStore({ root: join(dir, 'store'), capBytes: 1024 * 1024 * 1024 });
  let ingestMs = 0;
  for (let b = 0; b < LINES / BATCH; b++) {
    const batch = makeBatch(b);
    const t0 = performance.now();
    store.append('bench-version', batch);
    ingestMs += performance.now() - t0;
  }
  const stats = store.stats('bench-version');
  // floor: the same bytes with one appendFileSync per batch
  let floorMs = 0;
  const floorFile = join(dir, 'floor.log');
  for (let b = 0; b < LINES / BATCH; b++) {
    const text = makeBatch(b).map((l) => `${l.time.getTime()}\t${l.instance}\t${l.stream === 'stderr' ? 'e' : 'o'}\t${l.line}\n`).join('');
    const t0 = performance.now();
    appendFileSync(floorFile, text);
    floorMs += performance.now() - t0;
  }
  rows.push({ case: `ingest ${LINES} lines (${round(stats.bytes / 2 ** 20, 1)} MiB, ${stats.segments} segments)`, 'lines/s': Math.round(LINES / (ingestMs / 1000)), 'floor lines/s (bare appendFileSync)': Math.round(LINES / (floorMs / 1000)), ratio: round(floorMs / ingestMs) });

  // ---------------------------------------------------------------- search
  const searcher = new LogSearcher({ timeoutMs: 30_000 });
  const all = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };
  const segmentFiles = readdirSync(join(dir, 'store', 'bench-version')).filter((f) => f.endsWith('.log'));
  const inMemory = segmentFiles.map((f) => readFileSync(join(dir, 'store', 'bench-version', f)));
  const needle = Buffer.from('no-such-text');
  const [floor] = [summarize(await time(() => inMemory.forEach((b) => b.indexOf(needle)), 5))];
  const cases: [string, Parameters<LogSearcher['search']>[2]][] = [
    ['newest 100, no filter', { ...all, limit: 100 }],
    ['substring, 100 matches (WARN)', { ...all, query: 'WARN', limit: 100 }],
    ['substring, no match (full scan)', { ...all, query: 'no-such-text', limit: 100 }],
    ['instance filter, 100', { ...all, instance: 'shop-v1-3', limit: 100 }],
    ['regex with a literal, no match (full scan)', { ...all, query: 'rows=9\\d', regex: true, limit: 100 }],
    ['regex without a literal, no match (full scan)', { ...all, query: '^[A-Z]{4} \\S+ /\\d', regex: true, limit: 100 }],
    ['regex, 100 matches', { ...all, query: 'took_ms=9\\.[0-6]$', regex: true, limit: 100 }],
    ['1-minute window mid-history', { fromMs: start + 5_000_000, toMs: start + 5_060_000, limit: 1000 }],
  ];
  for (const [name, input] of cases) {
    let found = 0;
    // CPU of the whole process (the search worker is a thread of it): steadier than wall time
    // on a shared machine
    const cpu: number[] = [];
    const s = summarize(
      await time(async () => {
        const c0 = process.cpuUsage();
        found = (await searcher.search(store, 'bench-version', input)).lines.length;
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }, 5),
    );
    const c = summarize(cpu.slice(1));
    rows.push({ case: `search ${LINES} lines: ${name}`, 'p50 ms': round(s.p50, 1), 'p99 ms': round(s.p99, 1), 'cpu p50 ms': round(c.p50, 1), found, 'floor ms (indexOf in memory)': round(floor.p50, 1), 'x floor': round(s.p50 / floor.p50) });
  }
  await searcher.close();

  // ---------------------------------------------------------------- metrics
  const db = await freshDatabase('sqlite');
  try {
    const project = await db.prisma.project.create({ data: { name: 'bench' } });
    const REPLICAS = 4;
    const group = await db.prisma.serviceGroup.create({
      data: {
        name: 'shop', projectId: project.id,
        versions: {
          create: ['v1', 'v2'].map((name) => ({
            name, modelSource: 'REGISTRY' as const, status: 'RUNNING' as const, replicas: REPLICAS,
            instances: { create: Array.from({ length: REPLICAS }, (_, i) => ({ name: `shop-${name}-${i}`, state: 'RUNNING' as const, host: '127.0.0.1', port: 50_000 + i + (name === 'v2' ? 100 : 0), cpuMillicores: 300, memoryBytes: 200_000_000n })) },
          })),
        },
      },
      include: { versions: true },
    });
    const registry = new Registry();
    const edge = createEdgeMetrics(registry);
    const runtime = createRuntimeMetrics({ model: 'm', version: '1' });
    let clock = Date.now() - 3_600_000;
    const scraper = new MetricsScraper({ prisma: db.prisma, pubsub: createMemoryPubSub(), edges: [() => registry.metrics()], fetchText: () => runtime.registry.metrics(), now: () => clock });
    const scrapeMs: number[] = [];
    for (let i = 0; i < 60; i++) {
      for (const v of ['v1', 'v2']) {
        const series = edge.tally.series('shop', v);
        series.counted(200, 80);
        for (let k = 0; k < 20; k++) series.answered(200, 0.001 * (k + 1), 0, 0);
      }
      runtime.observe(200, 0.002, 1);
      const t0 = performance.now();
      await scraper.scrapeOnce();
      scrapeMs.push(performance.now() - t0);
      clock += 15_000;
    }
    const sc = summarize(scrapeMs.slice(5));
    rows.push({ case: `scrape + rollup, ${2 * REPLICAS} replicas + the edge, SQLite`, 'p50 ms': round(sc.p50, 1), 'p99 ms': round(sc.p99, 1), 'ms per replica per interval': round(sc.p50 / (2 * REPLICAS), 2) });

    // 7 days of five-minute rows for both versions (replacing what the scrapes above wrote)
    await db.prisma.metricRollup.deleteMany({});
    const now = Date.now();
    const from = Math.floor((now - 7 * 86_400_000) / 300_000) * 300_000;
    const buckets = JSON.stringify({ le: [0.001, 0.0025, 0.005, 0.01, null], c: [10, 40, 30, 15, 5] });
    for (const v of group.versions) {
      const data = [];
      for (let t = from; t <= now; t += 300_000) {
        data.push({ step: 300, t: new Date(t), groupId: group.id, versionId: v.id, instance: '', requests: 3000, throttled: 100, errors: 3, bytesIn: 1e6, bytesOut: 2e6, latencyBuckets: buckets, concurrencySum: 20, cpuSum: 12, memorySum: 8e9, runningSum: 80, expectedSum: 80, samples: 20 });
      }
      for (let i = 0; i < data.length; i += 500) await db.prisma.metricRollup.createMany({ data: data.slice(i, i + 500) });
    }
    const reader = new EmbeddedMetricsReader(db.prisma);
    const target = { groupId: group.id, groupName: 'shop', versions: group.versions.map((v) => ({ id: v.id, name: v.name })), versionId: null, instance: null };
    let points = 0;
    const q = summarize(await time(async () => {
      const series = await reader.query(target, { names: [...METRIC_NAMES], fromMs: now - 7 * 86_400_000, toMs: now, stepSec: 300 });
      points = series.reduce((s, x) => s + x.points.length, 0);
    }, 10));
    rows.push({ case: `metrics query: group of 2 versions, 7 days at 5 min, all ${METRIC_NAMES.length} names`, 'p50 ms': round(q.p50, 1), 'p99 ms': round(q.p99, 1), found: points });
  } finally {
    await db.drop();
  }
  report('logs', rows, { lines: LINES, batch: BATCH });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
