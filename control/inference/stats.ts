// The statistics behind quality and drift, as pure functions of counts: PSI, the
// Kolmogorov–Smirnov p-value from two binned distributions, the Jensen–Shannon distance,
// per-class precision/recall/F1 from a confusion list, and the two-proportion z-test for
// A/B verdicts. Conventions follow Evidently / NannyML: empty bins are floored at 1e-4
// for PSI; JS distance uses log base 2 so it lies in [0, 1].

const EPS = 1e-4;

const fractions = (counts: readonly number[]): number[] => {
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? counts.map((c) => c / total) : counts.map(() => 0);
};

/** Population stability index of `actual` against `expected` (same bins). */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  const e = fractions(expected);
  const a = fractions(actual);
  let sum = 0;
  for (let i = 0; i < e.length; i++) {
    const p = Math.max(a[i] as number, EPS);
    const q = Math.max(e[i] as number, EPS);
    sum += (p - q) * Math.log(p / q);
  }
  return sum;
}

/** Jensen–Shannon distance (square root of the divergence, base 2). */
export function jsDistance(expected: readonly number[], actual: readonly number[]): number {
  const p = fractions(expected);
  const q = fractions(actual);
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    const qi = q[i] as number;
    const m = (pi + qi) / 2;
    if (pi > 0) d += 0.5 * pi * Math.log2(pi / m);
    if (qi > 0) d += 0.5 * qi * Math.log2(qi / m);
  }
  return Math.sqrt(Math.max(0, d));
}

/** Kolmogorov distribution tail Q(λ) = 2 Σ (-1)^(k-1) e^(-2 k² λ²). */
function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-12) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Two-sample KS p-value with both samples summarised in the same bins: D is the largest gap
 * between the two cumulative distributions at the bin edges (exact for the edges; a lower
 * bound of the unbinned D), with the asymptotic distribution and Stephens' correction.
 */
export function ksPValue(expected: readonly number[], actual: readonly number[]): { d: number; p: number } | null {
  const n = expected.reduce((a, b) => a + b, 0);
  const m = actual.reduce((a, b) => a + b, 0);
  if (n === 0 || m === 0) return null;
  let ce = 0;
  let ca = 0;
  let d = 0;
  for (let i = 0; i < expected.length; i++) {
    ce += (expected[i] as number) / n;
    ca += (actual[i] as number) / m;
    d = Math.max(d, Math.abs(ce - ca));
  }
  const ne = Math.sqrt((n * m) / (n + m));
  return { d, p: kolmogorovQ((ne + 0.12 + 0.11 / ne) * d) };
}

export interface ClassMetrics {
  label: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  support: number;
}

/** Per-class precision, recall, F1 from (predicted, actual, count) cells. */
export function classMetrics(cells: readonly { predicted: string | null; actual: string; count: number }[]): ClassMetrics[] {
  const classes = new Set<string>();
  for (const c of cells) {
    classes.add(c.actual);
    if (c.predicted !== null) classes.add(c.predicted);
  }
  return [...classes].sort().map((k) => {
    let tp = 0;
    let predicted = 0;
    let actual = 0;
    for (const c of cells) {
      if (c.predicted === k && c.actual === k) tp += c.count;
      if (c.predicted === k) predicted += c.count;
      if (c.actual === k) actual += c.count;
    }
    const precision = predicted > 0 ? tp / predicted : null;
    const recall = actual > 0 ? tp / actual : null;
    const f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : precision !== null && recall !== null ? 0 : null;
    return { label: k, precision, recall, f1, support: actual };
  });
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 on erf). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t) * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface TwoProportion {
  difference: number;
  z: number;
  pValue: number;
  /** 95% confidence interval of the difference (unpooled) */
  low: number;
  high: number;
}

/** Two-proportion z-test of successes a/n vs b/m (difference = a/n − b/m). */
export function twoProportion(a: number, n: number, b: number, m: number): TwoProportion | null {
  if (n === 0 || m === 0) return null;
  const p1 = a / n;
  const p2 = b / m;
  const pooled = (a + b) / (n + m);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m));
  const z = se > 0 ? (p1 - p2) / se : 0;
  const seU = Math.sqrt((p1 * (1 - p1)) / n + (p2 * (1 - p2)) / m);
  return { difference: p1 - p2, z, pValue: se > 0 ? 2 * (1 - normalCdf(Math.abs(z))) : 1, low: p1 - p2 - 1.96 * seU, high: p1 - p2 + 1.96 * seU };
}
