// The rollup accumulator: what the scraper observed, folded into one-minute and five-minute
// rows (MetricRollup) kept in memory while their step is open and written to the database
// after every scrape. Counter increments are spread over the interval they happened in (so a
// step gets the share of an increment that fell inside it); gauges add one sample per scrape.
// A row first touched after a restart starts from what the database already holds.

import type { PrismaClient } from '../../platform/db/prisma.ts';
import { decodeBuckets, encodeBuckets, mergeBuckets, type Buckets } from './histogram.ts';

export const STEPS = [60, 300] as const;

export type CounterField = 'requests' | 'throttled' | 'errors' | 'bytesIn' | 'bytesOut';
export interface GaugeSample {
  concurrency?: number;
  cpu?: number;
  memory?: number;
  running?: number;
  expected?: number;
  gpuUtil?: number;
  gpuMemory?: number;
}

export interface RollupRow {
  step: number;
  t: Date;
  groupId: string;
  versionId: string;
  instance: string;
  requests: number;
  throttled: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  latencyBuckets: string | null;
  concurrencySum: number;
  cpuSum: number;
  memorySum: number;
  gpuUtilSum: number;
  gpuMemorySum: number;
  gpuSamples: number;
  runningSum: number;
  expectedSum: number;
  samples: number;
  updatedAt: Date;
}

interface OpenRow {
  row: RollupRow;
  buckets: Buckets | null;
  loaded: boolean;
  dirty: boolean;
}

export interface SeriesKey {
  groupId: string;
  versionId: string;
  /** '' for the version as a whole */
  instance: string;
}

const emptyRow = (step: number, t: number, k: SeriesKey, now: number): RollupRow => ({
  step,
  t: new Date(t),
  groupId: k.groupId,
  versionId: k.versionId,
  instance: k.instance,
  requests: 0,
  throttled: 0,
  errors: 0,
  bytesIn: 0,
  bytesOut: 0,
  latencyBuckets: null,
  concurrencySum: 0,
  cpuSum: 0,
  memorySum: 0,
  gpuUtilSum: 0,
  gpuMemorySum: 0,
  gpuSamples: 0,
  runningSum: 0,
  expectedSum: 0,
  samples: 0,
  updatedAt: new Date(now),
});

export class RollupAccumulator {
  private readonly open = new Map<string, OpenRow>();

  constructor(private readonly prisma: PrismaClient) {}

  private rowFor(step: number, t: number, k: SeriesKey, now: number): OpenRow {
    const key = `${step}|${k.versionId}|${k.instance}|${t}`;
    let r = this.open.get(key);
    if (!r) {
      r = { row: emptyRow(step, t, k, now), buckets: null, loaded: false, dirty: false };
      this.open.set(key, r);
    }
    r.dirty = true;
    r.row.updatedAt = new Date(Math.max(r.row.updatedAt.getTime(), now));
    return r;
  }

  /** The parts of [fromMs, toMs] in each step bucket, as fractions of the whole. */
  private *shares(step: number, fromMs: number, toMs: number): Generator<[number, number]> {
    const ms = step * 1000;
    if (toMs <= fromMs) {
      yield [Math.floor(toMs / ms) * ms, 1];
      return;
    }
    for (let t = Math.floor(fromMs / ms) * ms; t < toMs; t += ms) {
      const a = Math.max(t, fromMs);
      const b = Math.min(t + ms, toMs);
      if (b > a) yield [t, (b - a) / (toMs - fromMs)];
    }
  }

  /** A counter went up by `delta` between two scrapes. */
  addCounter(k: SeriesKey, field: CounterField, delta: number, fromMs: number, toMs: number): void {
    for (const step of STEPS) for (const [t, f] of this.shares(step, fromMs, toMs)) this.rowFor(step, t, k, toMs).row[field] += delta * f;
  }

  /** Histogram observations (per bucket) that arrived between two scrapes. */
  addBuckets(k: SeriesKey, delta: Buckets, fromMs: number, toMs: number): void {
    if (delta.c.every((n) => n === 0)) return;
    for (const step of STEPS) {
      for (const [t, f] of this.shares(step, fromMs, toMs)) {
        const r = this.rowFor(step, t, k, toMs);
        r.buckets = mergeBuckets(r.buckets, { le: delta.le, c: delta.c.map((n) => n * f) });
      }
    }
  }

  /** One scrape's gauge readings for a series. */
  addSample(k: SeriesKey, g: GaugeSample, atMs: number): void {
    for (const step of STEPS) {
      const ms = step * 1000;
      const r = this.rowFor(step, Math.floor(atMs / ms) * ms, k, atMs).row;
      r.samples += 1;
      r.concurrencySum += g.concurrency ?? 0;
      r.cpuSum += g.cpu ?? 0;
      r.memorySum += g.memory ?? 0;
      r.runningSum += g.running ?? 0;
      r.expectedSum += g.expected ?? 0;
      if (g.gpuUtil !== undefined || g.gpuMemory !== undefined) {
        r.gpuSamples += 1;
        r.gpuUtilSum += g.gpuUtil ?? 0;
        r.gpuMemorySum += g.gpuMemory ?? 0;
      }
    }
  }

  /** The open one-minute rows changed since the last flush (for metricsUpdated). */
  dirtyMinuteRows(): RollupRow[] {
    return [...this.open.values()].filter((r) => r.dirty && r.row.step === 60).map((r) => this.snapshot(r));
  }

  private snapshot(r: OpenRow): RollupRow {
    return { ...r.row, latencyBuckets: r.buckets ? encodeBuckets(r.buckets) : null };
  }

  /** Writes every changed row (one transaction); forgets rows whose step ended before `closedBeforeMs`. */
  async flush(closedBeforeMs: number): Promise<number> {
    const dirty = [...this.open.values()].filter((r) => r.dirty);
    for (const r of dirty) if (!r.loaded) await this.mergeStored(r);
    const writes = dirty.map((r) => {
      const data = this.snapshot(r);
      const { step, versionId, instance, t, ...rest } = data;
      return this.prisma.metricRollup.upsert({
        where: { step_versionId_instance_t: { step, versionId, instance, t } },
        create: data,
        update: rest,
      });
    });
    if (writes.length > 0) await this.prisma.$transaction(writes);
    for (const r of dirty) r.dirty = false;
    for (const [key, r] of this.open) if (r.row.t.getTime() + r.row.step * 1000 < closedBeforeMs) this.open.delete(key);
    return writes.length;
  }

  /** A row this process has not seen yet may hold what a previous process wrote. */
  private async mergeStored(r: OpenRow): Promise<void> {
    r.loaded = true;
    const { step, versionId, instance, t } = r.row;
    const stored = await this.prisma.metricRollup.findUnique({ where: { step_versionId_instance_t: { step, versionId, instance, t } } });
    if (!stored) return;
    const row = r.row;
    for (const f of ['requests', 'throttled', 'errors', 'bytesIn', 'bytesOut', 'concurrencySum', 'cpuSum', 'memorySum', 'gpuUtilSum', 'gpuMemorySum', 'runningSum', 'expectedSum'] as const) {
      row[f] += stored[f];
    }
    row.samples += stored.samples;
    row.gpuSamples += stored.gpuSamples;
    const b = decodeBuckets(stored.latencyBuckets);
    if (b) r.buckets = mergeBuckets(r.buckets, b);
  }
}
