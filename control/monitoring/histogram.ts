// Histogram arithmetic for latency quantiles: per-bucket counts (not cumulative) keyed by the
// bucket's upper bound, merged by adding (across steps, instances and versions) and turned
// into a quantile the way Prometheus' histogram_quantile does: linear interpolation inside the
// bucket that holds the rank. Never an average of averages.

export interface Buckets {
  /** upper bounds, ascending; the last may be Infinity */
  le: number[];
  /** observations per bucket */
  c: number[];
}

export function mergeBuckets(into: Buckets | null, add: Buckets): Buckets {
  if (!into) return { le: [...add.le], c: [...add.c] };
  const map = new Map<number, number>();
  into.le.forEach((le, i) => map.set(le, (map.get(le) ?? 0) + (into.c[i] ?? 0)));
  add.le.forEach((le, i) => map.set(le, (map.get(le) ?? 0) + (add.c[i] ?? 0)));
  const le = [...map.keys()].sort((a, b) => a - b);
  return { le, c: le.map((b) => map.get(b) ?? 0) };
}

/** The q-quantile (0..1) in the buckets' unit; null without observations. */
export function quantile(b: Buckets | null, q: number): number | null {
  if (!b) return null;
  const total = b.c.reduce((s, n) => s + n, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < b.le.length; i++) {
    const n = b.c[i] ?? 0;
    if (seen + n >= rank && n > 0) {
      const upper = b.le[i] as number;
      const lower = i === 0 ? 0 : (b.le[i - 1] as number);
      // the +Inf bucket has no width: answer its lower bound, as Prometheus does
      if (!Number.isFinite(upper)) return lower;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return b.le.filter(Number.isFinite).at(-1) ?? null;
}

/** JSON for the database (Infinity as null). */
export function encodeBuckets(b: Buckets): string {
  return JSON.stringify({ le: b.le.map((x) => (Number.isFinite(x) ? x : null)), c: b.c });
}

export function decodeBuckets(s: string | null): Buckets | null {
  if (!s) return null;
  try {
    const o = JSON.parse(s) as { le: (number | null)[]; c: number[] };
    return { le: o.le.map((x) => (x === null ? Infinity : x)), c: o.c };
  } catch {
    return null;
  }
}
