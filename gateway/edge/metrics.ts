// The edge's Prometheus series, registered on the registry the owner passes in (so `npm
// start` exposes them next to the control plane's). A series another module already
// registered under the same name (the rate limiter's sluice_throttled_total) is reused.
//
// Requests are counted in plain fields of one object per (group, version) — found once per
// request — and handed to prom-client only when /metrics is scraped (each metric's collect
// hook, or get() for the histogram). prom-client's own inc/observe hash the label object
// and look the series up on every call, and its histogram walks its bucket bounds and keys
// them as strings: per request that cost more than the counting.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

type Labels = 'group' | 'version';

/** One (group, version)'s figures since the edge started. */
export class SeriesTally {
  /** answers by status code */
  readonly codes = new Map<number, number>();
  inflight = 0;
  /** whether a /predict request ever reached this version (the gauge shows it from then on) */
  inflightSeen = false;
  bytesIn = 0;
  bytesOut = 0;
  /** answers per latency bucket (not cumulative; past the last bound only in `count`) */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  sum = 0;
  count = 0;

  constructor(
    readonly group: string,
    readonly version: string,
  ) {}

  /** One answer: its status, time to answer (s) and body bytes in and out. */
  answered(code: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    const b = bucketOf(seconds);
    if (b >= 0) this.buckets[b] = (this.buckets[b] as number) + 1;
    this.sum += seconds;
    this.count++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }

  /** Answers counted, not timed (a request that never became one: malformed HTTP). */
  counted(code: number, n = 1): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + n);
  }

  enter(): void {
    this.inflight++;
    this.inflightSeen = true;
  }

  leave(): void {
    this.inflight--;
  }
}

/** Every series of one registry's edge(s). */
export class EdgeTally {
  private readonly byGroup = new Map<string, Map<string, SeriesTally>>();

  series(group: string, version: string): SeriesTally {
    let versions = this.byGroup.get(group);
    if (!versions) this.byGroup.set(group, (versions = new Map()));
    let s = versions.get(version);
    if (!s) versions.set(version, (s = new SeriesTally(group, version)));
    return s;
  }

  *all(): Iterable<SeriesTally> {
    for (const versions of this.byGroup.values()) yield* versions.values();
  }
}

export interface EdgeMetrics {
  /** requests, latency, bytes and in-flight counts per (group, version) */
  tally: EdgeTally;
  /** null when the rate limiter already counts throttles on this registry */
  throttled: Counter<Labels> | null;
}

/**
 * Latency buckets 10 % apart from 0.25 ms to 30 s: quantiles interpolated inside a bucket
 * (the control plane's rollups, Prometheus' histogram_quantile) stay within a few percent of
 * the true figure, which coarse 1-2.5-5 buckets cannot promise.
 */
export const LATENCY_BUCKETS: number[] = (() => {
  // anchored on 5 ms so the familiar bound stays one of them
  const out: number[] = [];
  for (let k = -32; 0.005 * 1.1 ** k <= 30; k++) out.push(Number((0.005 * 1.1 ** k).toPrecision(3)));
  return out;
})();

/** The first bucket whose bound is ≥ the value (as prom-client files it), or -1 past the last. */
export function bucketOf(seconds: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((LATENCY_BUCKETS[mid] as number) < seconds) lo = mid + 1;
    else hi = mid;
  }
  return lo < LATENCY_BUCKETS.length ? lo : -1;
}

const DURATION = 'sluice_request_duration_seconds';
const DURATION_HELP = 'Time from request arrival to the last byte of the answer, at the edge';

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

/**
 * The latency histogram, read from the tally. prom-client's Registry (and the histogram's own
 * get()) read a histogram through getForPromString(): this one answers from the tally, in the
 * shape prom-client's own builds (le first, then group and version).
 */
class TallyHistogram extends Histogram<Labels> {
  constructor(
    private readonly tally: EdgeTally,
    registers: Registry[],
  ) {
    super({ name: DURATION, help: DURATION_HELP, labelNames: ['group', 'version'], buckets: LATENCY_BUCKETS, registers });
  }

  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const s of this.tally.all()) {
      if (s.count === 0) continue;
      const shared = { group: s.group, version: s.version };
      let acc = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        acc += s.buckets[i] as number;
        values.push({ labels: { le: LATENCY_BUCKETS[i] as number }, sharedLabels: shared, value: acc, metricName: `${DURATION}_bucket` });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: s.count, metricName: `${DURATION}_bucket` });
      values.push({ labels: {}, sharedLabels: shared, value: s.sum, metricName: `${DURATION}_sum` });
      values.push({ labels: {}, sharedLabels: shared, value: s.count, metricName: `${DURATION}_count` });
    }
    return { name: DURATION, help: DURATION_HELP, type: 'histogram', aggregator: 'sum', values };
  }
}

/** One tally per registry: two edges on one registry (a restart in tests) add up in one place. */
const made = new WeakMap<Registry, EdgeMetrics>();

export function createEdgeMetrics(registry: Registry): EdgeMetrics {
  const existing = made.get(registry);
  if (existing) return existing;
  const t = new EdgeTally();
  const registers = [registry];
  const labelNames = ['group', 'version'] as const;
  const throttledExisting = registry.getSingleMetric('sluice_throttled_total');
  new Counter({
    name: 'sluice_requests_total',
    help: '/predict requests answered by the edge, by status code',
    labelNames: ['group', 'version', 'code'],
    registers,
    collect() {
      this.reset();
      for (const s of t.all()) for (const [code, n] of s.codes) this.inc({ group: s.group, version: s.version, code: String(code) }, n);
    },
  });
  new TallyHistogram(t, registers);
  new Gauge({
    name: 'sluice_inflight_requests',
    help: '/predict requests in progress at the edge',
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const s of t.all()) if (s.inflightSeen) this.set({ group: s.group, version: s.version }, s.inflight);
    },
  });
  new Counter({
    name: 'sluice_request_bytes_total',
    help: 'Request body bytes received on /predict',
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const s of t.all()) if (s.bytesIn > 0) this.inc({ group: s.group, version: s.version }, s.bytesIn);
    },
  });
  new Counter({
    name: 'sluice_response_bytes_total',
    help: 'Response body bytes sent on /predict',
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const s of t.all()) if (s.bytesOut > 0) this.inc({ group: s.group, version: s.version }, s.bytesOut);
    },
  });
  const metrics: EdgeMetrics = {
    tally: t,
    throttled: throttledExisting ? null : new Counter({ name: 'sluice_throttled_total', help: 'Requests refused with 429 by the rate limiter', labelNames, registers }),
  };
  made.set(registry, metrics);
  return metrics;
}
