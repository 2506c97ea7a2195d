// The embedded metrics scraper: every interval (default 15 s) it reads the edge's Prometheus
// series (requests, throttles, bytes, latency histogram, in-flight), each running replica's
// /metrics (its own requests and latency), the orchestrator's per-instance CPU and memory
// (Instance rows) and, where a GPU is present, nvidia-smi; turns counters into increments
// (a counter that went down was reset by a restart: its new value is the increment), folds
// everything into the one- and five-minute rollups, writes them, publishes the new points
// for `metricsUpdated`, and deletes rows older than the retention.

import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { PubSub } from '../../platform/pubsub/port.ts';
import type { Buckets } from './histogram.ts';
import type { GpuProbe } from './gpu.ts';
import { parsePrometheusText, type Sample } from './prom-text.ts';
import { aggregate, METRIC_NAMES, valueOf, type MetricSeries } from './reader.ts';
import { RollupAccumulator, type CounterField, type GaugeSample, type RollupRow, type SeriesKey } from './rollup.ts';

export const metricsTopic = (groupId: string) => `metrics:${groupId}`;

/** What metricsUpdated subscribers receive (dates as ISO strings: it may cross Redis). */
export interface MetricsNotice {
  groupId: string;
  series: (Omit<MetricSeries, 'points'> & { points: { t: string; v: number | null }[] })[];
}

export interface ScraperOptions {
  prisma: PrismaClient;
  pubsub: PubSub;
  /** Prometheus text of each edge: the in-process registry, or an HTTP GET of its /metrics */
  edges: (() => Promise<string>)[];
  /** GET a replica's /metrics (default: fetch with a 2 s limit) */
  fetchText?: (url: string) => Promise<string>;
  gpu?: GpuProbe | null;
  intervalMs?: number;
  retentionMs?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 15_000;
export const DEFAULT_RETENTION_MS = 15 * 86_400_000;

interface Prev {
  value: number;
  at: number;
}

interface VersionInfo {
  id: string;
  groupId: string;
  status: string;
  replicas: number;
  instances: { name: string; state: string; host: string | null; port: number | null; pid: number | null; cpuMillicores: number | null; memoryBytes: bigint | null; startedAt: Date | null }[];
}

const defaultFetch = async (url: string): Promise<string> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
};

/** Cumulative Prometheus buckets ({le} samples) → per-bucket counts, ascending. */
function toBuckets(samples: Sample[]): Buckets {
  const pairs = samples
    .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value] as const)
    .filter(([le]) => !Number.isNaN(le))
    .sort((a, b) => a[0] - b[0]);
  const le = pairs.map((p) => p[0]);
  const c = pairs.map((p, i) => Math.max(0, p[1] - (i > 0 ? (pairs[i - 1] as readonly [number, number])[1] : 0)));
  return { le, c };
}

export class MetricsScraper {
  private readonly acc: RollupAccumulator;
  private readonly prev = new Map<string, Prev>();
  private readonly prevBuckets = new Map<string, { b: Buckets; at: number }>();
  /** when each source (edge, replica) was last read: a series new on a known source started at zero since */
  private readonly sourceSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastRetention = 0;
  /** when this scraper first ran: a replica started after it counted from zero since its start */
  private firstScrapeAt: number | null = null;
  private stopped = false;
  readonly intervalMs: number;
  private readonly now: () => number;
  /** cost of the last scrape, for the benchmark and diagnostics */
  lastScrape: { ms: number; series: number; rowsWritten: number } = { ms: 0, series: 0, rowsWritten: 0 };

  constructor(private readonly options: ScraperOptions) {
    this.acc = new RollupAccumulator(options.prisma);
    this.intervalMs = options.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Scrapes on wall-clock multiples of the interval: with an interval that divides a minute,
   * a scrape falls on every step boundary, so no increment is spread across two steps.
   */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      if (!this.running) {
        this.running = this.scrapeOnce()
          .catch((error: unknown) => this.options.onError?.(error))
          .finally(() => {
            this.running = null;
          });
      }
      schedule();
    };
    const schedule = () => {
      if (this.stopped) return;
      const now = Date.now();
      const next = Math.floor(now / this.intervalMs) * this.intervalMs + this.intervalMs;
      this.timer = setTimeout(tick, next - now);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
    await this.running;
  }

  /** A counter's increment since the last scrape, spread over that interval. */
  private counter(source: string, key: string, value: number, at: number, series: SeriesKey, field: CounterField): void {
    const seen = this.sourceSeen.get(source);
    const p = this.prev.get(key) ?? (seen !== undefined ? { value: 0, at: seen } : undefined);
    this.prev.set(key, { value, at });
    if (!p) return; // the first reading of a source is the baseline
    const delta = value >= p.value ? value - p.value : value; // reset: the new value is what accrued since
    this.acc.addCounter(series, field, delta, p.at, at);
  }

  private histogram(source: string, key: string, b: Buckets, at: number, series: SeriesKey): void {
    const seen = this.sourceSeen.get(source);
    const p = this.prevBuckets.get(key) ?? (seen !== undefined ? { b: { le: [], c: [] }, at: seen } : undefined);
    this.prevBuckets.set(key, { b, at });
    if (!p) return;
    const total = (x: Buckets) => x.c.reduce((s, n) => s + n, 0);
    const prevByLe = new Map(p.b.le.map((le, i) => [le, p.b.c[i] ?? 0]));
    const reset = total(b) < total(p.b);
    const delta = { le: b.le, c: b.c.map((n, i) => (reset ? n : Math.max(0, n - (prevByLe.get(b.le[i] as number) ?? 0)))) };
    this.acc.addBuckets(series, delta, p.at, at);
  }

  async scrapeOnce(): Promise<void> {
    const started = performance.now();
    const at = this.now();
    this.firstScrapeAt ??= at;
    const { prisma } = this.options;
    const versions = (await prisma.serviceVersion.findMany({
      select: {
        id: true, name: true, groupId: true, status: true, replicas: true, group: { select: { name: true } },
        instances: { select: { name: true, state: true, host: true, port: true, pid: true, cpuMillicores: true, memoryBytes: true, startedAt: true } },
      },
    })) as (VersionInfo & { name: string; group: { name: string } })[];
    const byName = new Map(versions.map((v) => [`${v.group.name}\u0000${v.name}`, v]));
    let series = 0;
    const touchedGroups = new Set<string>();
    const concurrency = new Map<string, number>();

    // 1. the edges: per-version traffic
    const edgeTexts = await Promise.all(this.options.edges.map((read) => read().catch(() => null)));
    edgeTexts.forEach((text, e) => {
      if (text === null) return;
      const perVersion = new Map<string, { counters: Map<CounterField, number>; buckets: Sample[]; inflight: number }>();
      for (const s of parsePrometheusText(text)) {
        const v = byName.get(`${s.labels.group ?? ''}\u0000${s.labels.version ?? ''}`);
        if (!v) continue;
        let entry = perVersion.get(v.id);
        if (!entry) {
          entry = { counters: new Map(), buckets: [], inflight: 0 };
          perVersion.set(v.id, entry);
        }
        const add = (f: CounterField, n: number) => entry.counters.set(f, (entry.counters.get(f) ?? 0) + n);
        switch (s.name) {
          case 'sluice_requests_total':
            add('requests', s.value);
            if (Number(s.labels.code) >= 500) add('errors', s.value);
            break;
          case 'sluice_throttled_total': add('throttled', s.value); break;
          case 'sluice_request_bytes_total': add('bytesIn', s.value); break;
          case 'sluice_response_bytes_total': add('bytesOut', s.value); break;
          case 'sluice_request_duration_seconds_bucket': entry.buckets.push(s); break;
          case 'sluice_inflight_requests': entry.inflight += s.value; break;
        }
      }
      for (const [versionId, entry] of perVersion) {
        const v = versions.find((x) => x.id === versionId) as VersionInfo;
        const key: SeriesKey = { groupId: v.groupId, versionId, instance: '' };
        for (const f of ['requests', 'errors', 'throttled', 'bytesIn', 'bytesOut'] as const) {
          this.counter(`edge${e}`, `edge${e}|${versionId}|${f}`, entry.counters.get(f) ?? 0, at, key, f);
        }
        if (entry.buckets.length > 0) this.histogram(`edge${e}`, `edge${e}|${versionId}`, toBuckets(entry.buckets), at, key);
        concurrency.set(versionId, (concurrency.get(versionId) ?? 0) + entry.inflight);
        series++;
      }
      this.sourceSeen.set(`edge${e}`, at);
    });

    // 2. the replicas' own /metrics, and 3. the orchestrator's CPU and memory per instance
    const fetchText = this.options.fetchText ?? defaultFetch;
    const live = versions.filter((v) => ['RUNNING', 'STARTING', 'FAILED', 'STOPPING'].includes(v.status) || v.instances.length > 0 || concurrency.has(v.id));
    const gpuReadings = this.options.gpu
      ? await this.options.gpu.read(live.flatMap((v) => v.instances.map((i) => i.pid).filter((p): p is number => p !== null))).catch(() => new Map())
      : new Map();
    await Promise.all(
      live.flatMap((v) =>
        v.instances.map(async (i) => {
          const key: SeriesKey = { groupId: v.groupId, versionId: v.id, instance: i.name };
          if (i.state === 'RUNNING' && i.host && i.port) {
            const text = await fetchText(`http://${i.host}:${i.port}/metrics`).catch(() => null);
            if (text !== null) {
              let requests = 0;
              let errors = 0;
              const buckets: Sample[] = [];
              for (const s of parsePrometheusText(text)) {
                if (s.name === 'sluice_runtime_requests_total') {
                  requests += s.value;
                  if (Number(s.labels.status) >= 500) errors += s.value;
                } else if (s.name === 'sluice_runtime_request_duration_seconds_bucket') buckets.push(s);
              }
              const source = `rt|${v.id}|${i.name}`;
              // a replica (re)started while we watch began at zero: its first reading is all new
              const startedMs = i.startedAt?.getTime() ?? null;
              if (!this.sourceSeen.has(source) && startedMs !== null && this.firstScrapeAt !== null && startedMs > this.firstScrapeAt && startedMs < at) {
                this.sourceSeen.set(source, startedMs);
              }
              this.counter(source, `${source}|requests`, requests, at, key, 'requests');
              this.counter(source, `${source}|errors`, errors, at, key, 'errors');
              if (buckets.length > 0) {
                // buckets of every status label, merged per bound
                const merged = new Map<string, number>();
                for (const s of buckets) merged.set(s.labels.le ?? '', (merged.get(s.labels.le ?? '') ?? 0) + s.value);
                this.histogram(source, source, toBuckets([...merged].map(([le, value]) => ({ name: '', labels: { le }, value }))), at, key);
              }
              this.sourceSeen.set(source, at);
            }
          }
          const gpu = i.pid !== null ? gpuReadings.get(i.pid) : undefined;
          const sample: GaugeSample = {
            cpu: (i.cpuMillicores ?? 0) / 1000,
            memory: Number(i.memoryBytes ?? 0),
            running: i.state === 'RUNNING' ? 1 : 0,
            expected: 1,
            ...(gpu ? { gpuUtil: gpu.utilPercent, gpuMemory: gpu.memoryBytes } : {}),
          };
          this.acc.addSample(key, sample, at);
          series++;
        }),
      ),
    );
    for (const v of live) {
      const gpus = v.instances.map((i) => (i.pid !== null ? gpuReadings.get(i.pid) : undefined)).filter((g) => g !== undefined);
      this.acc.addSample(
        { groupId: v.groupId, versionId: v.id, instance: '' },
        {
          concurrency: concurrency.get(v.id) ?? 0,
          cpu: v.instances.reduce((s, i) => s + (i.cpuMillicores ?? 0) / 1000, 0),
          memory: v.instances.reduce((s, i) => s + Number(i.memoryBytes ?? 0), 0),
          running: v.instances.filter((i) => i.state === 'RUNNING').length,
          expected: ['RUNNING', 'STARTING'].includes(v.status) ? v.replicas : 0,
          ...(gpus.length > 0
            ? { gpuUtil: Math.max(...gpus.map((g) => g.utilPercent)), gpuMemory: gpus.reduce((s, g) => s + g.memoryBytes, 0) }
            : {}),
        },
        at,
      );
      touchedGroups.add(v.groupId);
    }

    const minuteRows = this.acc.dirtyMinuteRows();
    const rowsWritten = await this.acc.flush(at - 2 * Math.max(this.intervalMs, 60_000));
    await this.publish(minuteRows, touchedGroups);
    if (at - this.lastRetention > 3_600_000) {
      this.lastRetention = at;
      await prisma.metricRollup.deleteMany({ where: { t: { lt: new Date(at - (this.options.retentionMs ?? DEFAULT_RETENTION_MS)) } } });
    }
    this.lastScrape = { ms: performance.now() - started, series, rowsWritten };
  }

  /** The latest one-minute point of every version (and of the group) touched by this scrape. */
  private async publish(rows: RollupRow[], groups: Set<string>): Promise<void> {
    const version = rows.filter((r) => r.instance === '');
    for (const groupId of groups) {
      const mine = version.filter((r) => r.groupId === groupId);
      if (mine.length === 0) continue;
      const latestT = Math.max(...mine.map((r) => r.t.getTime()));
      const latest = mine.filter((r) => r.t.getTime() === latestT);
      const t = new Date(latestT).toISOString();
      const seriesFor = (versionId: string | null, rs: RollupRow[]) => {
        const a = aggregate(rs, 60);
        return METRIC_NAMES.map((name) => ({ name, versionId, instance: null, points: [{ t, v: valueOf(name, a) }] }));
      };
      const notice: MetricsNotice = {
        groupId,
        series: [...seriesFor(null, latest), ...latest.flatMap((r) => seriesFor(r.versionId, [r]))],
      };
      await this.options.pubsub.publish(metricsTopic(groupId), notice);
    }
  }
}
