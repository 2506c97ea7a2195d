// Metrics history as the `metrics` query reads it: the port (embedded rollups or Prometheus),
// the request checks they share (window, step, point budget), and the embedded reader that
// turns MetricRollup rows into the contract's series: points aligned to calendar steps, `t`
// the start of the step, v null where nothing was seen. Units: QPS and BYTES_* per second
// (averaged over the step), latencies in ms, CPU in cores, MEMORY in bytes, ERROR_RATE 0–1,
// GPU_UTILIZATION in percent, GPU_MEMORY in bytes. A group is the sum of its versions.

import { badInput } from '../../platform/errors.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { decodeBuckets, mergeBuckets, quantile, type Buckets } from './histogram.ts';
import type { RollupRow } from './rollup.ts';

export const METRIC_NAMES = [
  'QPS', 'THROTTLED_QPS', 'CONCURRENCY', 'BYTES_IN', 'BYTES_OUT', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99',
  'ERROR_RATE', 'CPU', 'MEMORY', 'GPU_UTILIZATION', 'GPU_MEMORY', 'INSTANCES_RUNNING', 'INSTANCES_EXPECTED',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface MetricPoint {
  t: Date;
  v: number | null;
}

export interface MetricSeries {
  name: MetricName;
  versionId: string | null;
  instance: string | null;
  points: MetricPoint[];
  /** why the series is empty when it cannot have data (no GPU on this machine, ...) */
  reason?: string | null;
}

export interface MetricsTarget {
  groupId: string;
  groupName: string;
  versions: { id: string; name: string }[];
  /** null: the whole group */
  versionId: string | null;
  instance: string | null;
}

export interface MetricsRequest {
  names: MetricName[];
  fromMs: number;
  toMs: number;
  stepSec: 60 | 300;
}

export interface MetricsReader {
  readonly kind: 'embedded' | 'prometheus';
  query(target: MetricsTarget, request: MetricsRequest): Promise<MetricSeries[]>;
}

/** More points than this in one series is refused (15 days at one minute fits). */
export const MAX_POINTS = 22_000;

/**
 * More points than this in one GraphQL operation (all its series and aliases together) is
 * refused: each point is an object GraphQL completes one by one, and ten aliases of a 15-day
 * one-minute query for every metric — 3.2 million points — ran the control plane out of
 * memory. Measured with four callers looping on the largest allowed operation (npm run bench
 * -- trust; .tmp probe of the event loop): at 65,000 points the loop stalled up to 400 ms, at
 * 25,000 its p99 delay was 74 ms. A refusal says this limit and each series' points, and
 * the dashboard then asks a long window's metrics in operations that fit
 * (web/src/components/Monitoring.svelte).
 */
export const MAX_POINTS_PER_OPERATION = 25_000;

/** How many steps a window has (what stepStarts would return, without building it). */
export function stepCount(fromMs: number, toMs: number, stepSec: number): number {
  const ms = stepSec * 1000;
  return (Math.floor(toMs / ms) * ms - Math.floor(fromMs / ms) * ms) / ms + 1;
}

/** The aligned step starts of the window; refuses windows that would not fit in memory. */
export function stepStarts(fromMs: number, toMs: number, stepSec: number): number[] {
  const ms = stepSec * 1000;
  const first = Math.floor(fromMs / ms) * ms;
  const last = Math.floor(toMs / ms) * ms;
  const count = stepCount(fromMs, toMs, stepSec);
  if (count > MAX_POINTS) {
    throw badInput(`that window has ${count} steps of ${stepSec} s; at most ${MAX_POINTS} points per series: use FIVE_MINUTES or a shorter window`, {
      reason: 'TOO_MANY_POINTS',
    });
  }
  const out: number[] = [];
  for (let t = first; t <= last; t += ms) out.push(t);
  return out;
}

/** Rows of one step (already filtered to the target), summed the way each metric needs. */
export interface StepAggregate {
  requests: number;
  throttled: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  buckets: Buckets | null;
  // gauges: the sum over rows of each row's average
  concurrency: number | null;
  cpu: number | null;
  memory: number | null;
  running: number | null;
  expected: number | null;
  gpuUtil: number | null;
  gpuMemory: number | null;
  /** seconds of the step the counters cover (less than the step while it is still open) */
  coveredSec: number;
}

export function aggregate(rows: RollupRow[], stepSec: number): StepAggregate | null {
  if (rows.length === 0) return null;
  const a: StepAggregate = {
    requests: 0, throttled: 0, errors: 0, bytesIn: 0, bytesOut: 0, buckets: null,
    concurrency: null, cpu: null, memory: null, running: null, expected: null, gpuUtil: null, gpuMemory: null, coveredSec: 0,
  };
  const add = (cur: number | null, v: number) => (cur ?? 0) + v;
  for (const r of rows) {
    a.requests += r.requests;
    a.throttled += r.throttled;
    a.errors += r.errors;
    a.bytesIn += r.bytesIn;
    a.bytesOut += r.bytesOut;
    const b = decodeBuckets(r.latencyBuckets);
    if (b) a.buckets = mergeBuckets(a.buckets, b);
    if (r.samples > 0) {
      a.concurrency = add(a.concurrency, r.concurrencySum / r.samples);
      a.cpu = add(a.cpu, r.cpuSum / r.samples);
      a.memory = add(a.memory, r.memorySum / r.samples);
      a.running = add(a.running, r.runningSum / r.samples);
      a.expected = add(a.expected, r.expectedSum / r.samples);
    }
    if (r.gpuSamples > 0) {
      a.gpuUtil = add(a.gpuUtil, r.gpuUtilSum / r.gpuSamples);
      a.gpuMemory = add(a.gpuMemory, r.gpuMemorySum / r.gpuSamples);
    }
    const covered = Math.min(stepSec, Math.max(1, (r.updatedAt.getTime() - r.t.getTime()) / 1000));
    a.coveredSec = Math.max(a.coveredSec, covered);
  }
  return a;
}

export function valueOf(name: MetricName, a: StepAggregate | null): number | null {
  if (!a) return null;
  const perSec = (n: number) => n / a.coveredSec;
  const ms = (q: number) => {
    const s = quantile(a.buckets, q);
    return s === null ? null : s * 1000;
  };
  switch (name) {
    case 'QPS': return perSec(a.requests);
    case 'THROTTLED_QPS': return perSec(a.throttled);
    case 'BYTES_IN': return perSec(a.bytesIn);
    case 'BYTES_OUT': return perSec(a.bytesOut);
    case 'LATENCY_P50': return ms(0.5);
    case 'LATENCY_P95': return ms(0.95);
    case 'LATENCY_P99': return ms(0.99);
    case 'ERROR_RATE': return a.requests > 0 ? a.errors / a.requests : null;
    case 'CONCURRENCY': return a.concurrency;
    case 'CPU': return a.cpu;
    case 'MEMORY': return a.memory;
    case 'GPU_UTILIZATION': return a.gpuUtil;
    case 'GPU_MEMORY': return a.gpuMemory;
    case 'INSTANCES_RUNNING': return a.running;
    case 'INSTANCES_EXPECTED': return a.expected;
  }
}

/** Why GPU series are empty where no GPU can be measured; null when one can. */
export type GpuStatus = () => string | null;

export class EmbeddedMetricsReader implements MetricsReader {
  readonly kind = 'embedded' as const;

  constructor(private readonly prisma: PrismaClient, private readonly gpuStatus: GpuStatus = () => null) {}

  async query(target: MetricsTarget, req: MetricsRequest): Promise<MetricSeries[]> {
    const starts = stepStarts(req.fromMs, req.toMs, req.stepSec);
    const rows = (await this.prisma.metricRollup.findMany({
      where: {
        groupId: target.groupId,
        step: req.stepSec,
        instance: target.instance ?? '',
        ...(target.versionId ? { versionId: target.versionId } : {}),
        t: { gte: new Date(starts[0] as number), lte: new Date(starts.at(-1) as number) },
      },
    })) as RollupRow[];
    const byT = new Map<number, RollupRow[]>();
    for (const r of rows) {
      const t = r.t.getTime();
      const list = byT.get(t);
      if (list) list.push(r);
      else byT.set(t, [r]);
    }
    const aggs = starts.map((t) => aggregate(byT.get(t) ?? [], req.stepSec));
    const gpuReason = this.gpuStatus();
    return req.names.map((name) => {
      const gpu = name === 'GPU_UTILIZATION' || name === 'GPU_MEMORY';
      const points = starts.map((t, i) => ({ t: new Date(t), v: gpu && gpuReason ? null : valueOf(name, aggs[i] ?? null) }));
      return { name, versionId: target.versionId, instance: target.instance, points, reason: gpu ? gpuReason : null };
    });
  }
}
