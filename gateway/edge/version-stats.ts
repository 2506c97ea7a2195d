// Per-version answer statistics over a sliding window, kept by the edge for the canary guard
// (control/domain/canary-guard.ts): requests, server errors (5xx) and latency p99 per
// (group, version), in one-second buckets. Each bucket keeps at most SAMPLES latencies
// (a reservoir), so memory stays bounded at any request rate.

export interface VersionWindow {
  version: string;
  requests: number;
  /** answers with a 5xx status */
  errors: number;
  /** null when no request was answered in the window */
  p99Ms: number | null;
  /** answers per second over the window */
  qps: number;
  /** mean requests in flight over the window (Little's law: summed latency / window) */
  concurrency: number;
  /** requests that waited for a scaled-to-zero version to get a replica, in the window */
  coldStarts: number;
}

/** The port the canary guard reads (the local edge implements it; an Envoy fleet would feed it from ALS). */
export interface VersionStatsSource {
  window(group: string, seconds: number): VersionWindow[];
}

/** One second of one version's answers, as exportSince() hands it to another process. */
export interface ExportedBucket extends Bucket {
  group: string;
  version: string;
}

interface Bucket {
  second: number;
  requests: number;
  errors: number;
  latencySumMs: number;
  cold: number;
  latencies: number[];
}

const SAMPLES = 256;
/** how far back the window can reach */
export const MAX_WINDOW_SECONDS = 3600;

export class VersionStats implements VersionStatsSource {
  private readonly series = new Map<string, Map<string, Bucket[]>>();

  constructor(private readonly now: () => number = Date.now, private readonly random: () => number = Math.random) {}

  private bucket(group: string, version: string): Bucket {
    let versions = this.series.get(group);
    if (!versions) this.series.set(group, (versions = new Map()));
    let buckets = versions.get(version);
    if (!buckets) versions.set(version, (buckets = []));
    const second = Math.floor(this.now() / 1000);
    let b = buckets.at(-1);
    if (!b || b.second !== second) {
      b = { second, requests: 0, errors: 0, latencySumMs: 0, cold: 0, latencies: [] };
      buckets.push(b);
      while (buckets.length > 0 && (buckets[0] as Bucket).second <= second - MAX_WINDOW_SECONDS) buckets.shift();
    }
    return b;
  }

  /** A request is waiting for a scaled-to-zero version's first replica (the autoscaler's cue). */
  coldStart(group: string, version: string): void {
    if (group && version) this.bucket(group, version).cold++;
  }

  record(group: string, version: string, status: number, latencyMs: number): void {
    if (!group || !version) return;
    const b = this.bucket(group, version);
    b.requests++;
    b.latencySumMs += latencyMs;
    if (status >= 500) b.errors++;
    if (b.latencies.length < SAMPLES) b.latencies.push(latencyMs);
    else {
      const i = Math.floor(this.random() * b.requests);
      if (i < SAMPLES) b.latencies[i] = latencyMs;
    }
  }

  window(group: string, seconds: number): VersionWindow[] {
    const span = Math.max(1, Math.min(seconds, MAX_WINDOW_SECONDS));
    const from = Math.floor(this.now() / 1000) - span;
    const out: VersionWindow[] = [];
    for (const [version, buckets] of this.series.get(group) ?? []) {
      let requests = 0;
      let errors = 0;
      let latencySumMs = 0;
      let coldStarts = 0;
      const lat: number[] = [];
      for (const b of buckets) {
        if (b.second <= from) continue;
        requests += b.requests;
        errors += b.errors;
        latencySumMs += b.latencySumMs;
        coldStarts += b.cold;
        lat.push(...b.latencies);
      }
      lat.sort((a, b) => a - b);
      out.push({
        version,
        requests,
        errors,
        p99Ms: lat.length ? (lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] as number) : null,
        qps: requests / span,
        concurrency: latencySumMs / (span * 1000),
        coldStarts,
      });
    }
    return out;
  }

  /**
   * The buckets of `second` and later, for another process to merge (the control plane reads
   * the stats of its edge process this way: control/edge-supervisor.ts).
   */
  exportSince(second: number): ExportedBucket[] {
    const out: ExportedBucket[] = [];
    for (const [group, versions] of this.series) {
      for (const [version, buckets] of versions) {
        for (const b of buckets) if (b.second >= second) out.push({ group, version, ...b, latencies: [...b.latencies] });
      }
    }
    return out;
  }

  /** Takes exported buckets in: a bucket of a second already held is replaced (it grew since). */
  merge(exported: readonly ExportedBucket[]): void {
    const oldest = Math.floor(this.now() / 1000) - MAX_WINDOW_SECONDS;
    for (const e of exported) {
      if (!e.group || !e.version || e.second <= oldest) continue;
      let versions = this.series.get(e.group);
      if (!versions) this.series.set(e.group, (versions = new Map()));
      let buckets = versions.get(e.version);
      if (!buckets) versions.set(e.version, (buckets = []));
      const bucket: Bucket = { second: e.second, requests: e.requests, errors: e.errors, latencySumMs: e.latencySumMs, cold: e.cold, latencies: e.latencies.slice(0, SAMPLES) };
      const at = buckets.findIndex((b) => b.second >= e.second);
      if (at === -1) buckets.push(bucket);
      else if ((buckets[at] as Bucket).second === e.second) buckets[at] = bucket;
      else buckets.splice(at, 0, bucket);
      while (buckets.length > 0 && (buckets[0] as Bucket).second <= oldest) buckets.shift();
    }
  }

  /** Forgets a group's history (after a rollback, so the next judgement starts fresh). */
  reset(group: string): void {
    this.series.delete(group);
  }
}
