// Quality of each version over a time window, computed by DuckDB over the table (rows joined
// with labels): model quality once labels exist (accuracy and per-class precision/recall/F1
// for classifiers, MAE/RMSE for regressors), drift of every feature and of the prediction
// against the version's training baseline (PSI, KS p-value, JS distance), data quality
// (nulls, out-of-range values, unseen categories) and service quality (error rate, p99
// latency). One scan per question, whatever the row count: the heavy lifting is aggregates.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CategoricalSummary, FeatureSummary, NumericSummary, TrainingBaseline } from './baseline.ts';
import { ident, query, str, toNum } from './duck.ts';
import { featureColumn } from './records.ts';
import type { VersionModel } from './signatures.ts';
import { classMetrics, jsDistance, ksPValue, psi, type ClassMetrics } from './stats.ts';
import { windowSql } from './table.ts';

export interface FeatureDrift {
  feature: string;
  psi: number | null;
  ksPValue: number | null;
  jsDistance: number | null;
  /** rows the drift was measured on */
  count: number;
  nullFraction: number | null;
  outOfRangeFraction: number | null;
  unseenCategories: number | null;
}

export interface VersionQuality {
  version: string;
  rows: number;
  requests: number;
  labelledRows: number;
  shadowRows: number;
  accuracy: number | null;
  /** labelled rows that have a prediction (the accuracy's denominator) */
  scoredRows: number;
  correctRows: number;
  classes: ClassMetrics[];
  mae: number | null;
  rmse: number | null;
  errorRate: number | null;
  errorRequests: number;
  latencyP99Ms: number | null;
  drift: FeatureDrift[];
  predictionDrift: FeatureDrift | null;
}

const isRegression = (m: VersionModel | undefined): boolean => {
  const t = m?.signature?.outputs[0]?.type;
  return t === 'double' || t === 'float';
};

/** `ks`: finer bins for the KS test (else it uses the PSI bins) */
function driftOf(feature: string, expected: number[], actual: number[], extra: Partial<FeatureDrift>, ks?: { expected: number[]; actual: number[] }): FeatureDrift {
  const count = actual.reduce((a, b) => a + b, 0);
  if (count === 0) return { feature, psi: null, ksPValue: null, jsDistance: null, count: 0, nullFraction: null, outOfRangeFraction: null, unseenCategories: null, ...extra };
  const ksP = ks ? ksPValue(ks.expected, ks.actual) : ksPValue(expected, actual);
  return { feature, psi: psi(expected, actual), ksPValue: ksP?.p ?? null, jsDistance: jsDistance(expected, actual), count, nullFraction: null, outOfRangeFraction: null, unseenCategories: null, ...extra };
}

function categoricalDrift(feature: string, base: CategoricalSummary, actual: Map<string, number>, nulls: number): FeatureDrift {
  const cats = [...new Set([...Object.keys(base.counts), ...actual.keys()])].sort();
  const unseen = [...actual.keys()].filter((k) => !(k in base.counts)).length;
  const total = [...actual.values()].reduce((a, b) => a + b, 0);
  return driftOf(
    feature,
    cats.map((c) => base.counts[c] ?? 0),
    cats.map((c) => actual.get(c) ?? 0),
    { unseenCategories: unseen, nullFraction: total + nulls > 0 ? nulls / (total + nulls) : null },
  );
}

/** The largest double below x: `v >= x` ⟺ `v > below(x)` for every double v. */
export function below(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  if (!Number.isFinite(x)) return x;
  const f = new Float64Array([x]);
  const u = new BigInt64Array(f.buffer);
  u[0] = x > 0 ? (u[0] as bigint) - 1n : (u[0] as bigint) + 1n;
  return f[0] as number;
}

/** An exact DOUBLE literal (a decimal literal could be typed DECIMAL and rounded inside a list). */
const dbl = (x: number): string => `'${String(x)}'::DOUBLE`;

interface NumericCounts {
  bins: number[];
  /** counts in the baseline's finer KS bins, when it has them */
  ksBins: number[] | null;
  nulls: number;
  out: number;
}

const histogramSql = (c: string, edges: readonly number[]): string => (edges.length ? `histogram(${c}::DOUBLE, [${edges.map((e) => dbl(below(e))).join(', ')}])` : `count(${c})`);

function binsOf(h: unknown, edges: readonly number[]): number[] {
  const bins = new Array<number>(edges.length + 1).fill(0);
  if (Array.isArray(h)) (h as { value: unknown }[]).forEach((cell, b) => (bins[b] = toNum(cell.value) ?? 0));
  else if (edges.length === 0) bins[0] = toNum(h) ?? 0;
  return bins;
}

/**
 * Bin counts, nulls and out-of-range counts of numeric columns in one scan: DuckDB's
 * bounded `histogram(v, bounds)` puts v in the first bound >= v (binary search), so bounds
 * at the double just below each baseline edge give exactly baseline.ts's rule (bin = number
 * of edges <= v); every bin comes back, the last one (+inf) included.
 */
async function numericCounts(conn: DuckDBConnection, where: string, columns: { key: string; column: string; summary: NumericSummary }[]): Promise<Map<string, NumericCounts>> {
  const out = new Map<string, NumericCounts>();
  if (columns.length === 0) return out;
  const aggs = columns.map(({ column, summary: s }, i) => {
    const c = ident(column);
    const ks = s.ks ? `, ${histogramSql(c, s.ks.edges)} AS k${i}` : '';
    return `${histogramSql(c, s.edges)} AS h${i}${ks}, count(${c}) FILTER (WHERE ${c} < ${dbl(s.min)} OR ${c} > ${dbl(s.max)}) AS o${i}, count(*) - count(${c}) AS z${i}`;
  });
  const [r] = await query(conn, `SELECT ${aggs.join(', ')} FROM t_rows WHERE ${where}`);
  columns.forEach(({ key, summary: s }, i) => {
    out.set(key, { bins: binsOf(r?.[`h${i}`], s.edges), ksBins: s.ks ? binsOf(r?.[`k${i}`], s.ks.edges) : null, nulls: toNum(r?.[`z${i}`]) ?? 0, out: toNum(r?.[`o${i}`]) ?? 0 });
  });
  return out;
}

async function featureDrift(conn: DuckDBConnection, version: string, window: string, model: VersionModel): Promise<{ drift: FeatureDrift[]; prediction: FeatureDrift | null }> {
  const baseline: TrainingBaseline | null = model.baseline;
  if (!baseline) return { drift: [], prediction: null };
  // drift is measured on answered requests' inputs (refused requests carry none); it needs
  // no labels, so it scans the rows alone, not the join
  const where = `version = ${str(version)} AND status BETWEEN 200 AND 299 AND ${window}`;
  const known = new Set(model.signature?.inputs.map((c) => c.name) ?? Object.keys(baseline.features));
  const entries = Object.entries(baseline.features).filter(([name]) => known.has(name));
  const numeric = entries.filter((e): e is [string, NumericSummary] => e[1].type === 'numeric').map(([name, summary]) => ({ key: name, column: featureColumn(name), summary }));
  const pb: FeatureSummary | undefined = baseline.prediction;
  // every numeric feature and a numeric prediction: one scan
  const counts = await numericCounts(conn, where, pb?.type === 'numeric' ? [...numeric, { key: '\u0000prediction', column: 'prediction_num', summary: pb }] : numeric);
  const drift: FeatureDrift[] = [];
  for (const [name, s] of entries) {
    if (s.type === 'numeric') {
      const c = counts.get(name) as NumericCounts;
      const n = c.bins.reduce((a, b) => a + b, 0);
      drift.push(
        driftOf(name, s.counts, c.bins, { nullFraction: n + c.nulls > 0 ? c.nulls / (n + c.nulls) : null, outOfRangeFraction: n > 0 ? c.out / n : null }, s.ks && c.ksBins ? { expected: s.ks.counts, actual: c.ksBins } : undefined),
      );
    } else {
      const rows = await query(conn, `SELECT CAST(${ident(featureColumn(name))} AS VARCHAR) AS v, count(*) AS n FROM t_rows WHERE ${where} GROUP BY 1`);
      const actual = new Map<string, number>();
      let nulls = 0;
      for (const r of rows) {
        if (r.v === null) nulls += toNum(r.n) ?? 0;
        else actual.set(String(r.v), toNum(r.n) ?? 0);
      }
      drift.push(categoricalDrift(name, s, actual, nulls));
    }
  }
  let prediction: FeatureDrift | null = null;
  if (pb?.type === 'categorical') {
    const rows = await query(conn, `SELECT prediction_class AS v, count(*) AS n FROM t_rows WHERE ${where} AND prediction_class IS NOT NULL GROUP BY 1`);
    prediction = categoricalDrift('prediction', pb, new Map(rows.map((r) => [String(r.v), toNum(r.n) ?? 0])), 0);
  } else if (pb?.type === 'numeric') {
    // the prediction's drift is over the rows that have one (nulls are not a bin)
    const c = counts.get('\u0000prediction') as NumericCounts;
    prediction = driftOf('prediction', pb.counts, c.bins, {}, pb.ks && c.ksBins ? { expected: pb.ks.counts, actual: c.ksBins } : undefined);
  }
  return { drift, prediction };
}

/** Quality of every version seen in the window (the caller has opened the table views). */
export async function computeQuality(conn: DuckDBConnection, models: Map<string, VersionModel>, from?: Date | null, to?: Date | null): Promise<VersionQuality[]> {
  const window = windowSql(from, to);
  // service quality and counts need no labels: one scan of the rows
  const base = await query(
    conn,
    `SELECT version, count(*) AS rows, count(*) FILTER (WHERE row_index = 0) AS requests, ` +
      `count(*) FILTER (WHERE row_index = 0 AND (status IS NULL OR status >= 500)) AS errors, ` +
      `quantile_cont(latency_ms, 0.99) FILTER (WHERE row_index = 0) AS p99, count(*) FILTER (WHERE shadow) AS shadow_rows ` +
      `FROM t_rows WHERE ${window} GROUP BY version ORDER BY version`,
  );
  // model quality: one scan of the labelled join, as confusion cells with the error sums
  const cells = await query(
    conn,
    `SELECT version, prediction_class AS p, label_class AS l, count(*) AS n, sum(abs(prediction_num - label_num)) AS abs_err, ` +
      `sum((prediction_num - label_num) * (prediction_num - label_num)) AS sq_err, count(prediction_num - label_num) AS num_pairs ` +
      `FROM t WHERE ${window} AND label_class IS NOT NULL GROUP BY ALL`,
  );
  const out: VersionQuality[] = [];
  for (const r of base) {
    const version = String(r.version);
    const model = models.get(version);
    const regression = isRegression(model);
    const mine = cells.filter((c) => c.version === version);
    let labelled = 0;
    let scored = 0;
    let correct = 0;
    let absErr = 0;
    let sqErr = 0;
    let pairs = 0;
    for (const c of mine) {
      const n = toNum(c.n) ?? 0;
      labelled += n;
      if (c.p !== null) scored += n;
      if (c.p !== null && c.p === c.l) correct += n;
      absErr += toNum(c.abs_err) ?? 0;
      sqErr += toNum(c.sq_err) ?? 0;
      pairs += toNum(c.num_pairs) ?? 0;
    }
    const requests = toNum(r.requests) ?? 0;
    const errors = toNum(r.errors) ?? 0;
    const drift = model ? await featureDrift(conn, version, window, model) : { drift: [], prediction: null };
    out.push({
      version,
      rows: toNum(r.rows) ?? 0,
      requests,
      labelledRows: labelled,
      shadowRows: toNum(r.shadow_rows) ?? 0,
      accuracy: !regression && scored > 0 ? correct / scored : null,
      scoredRows: scored,
      correctRows: correct,
      classes: regression ? [] : classMetrics(mine.map((c) => ({ predicted: c.p === null ? null : String(c.p), actual: String(c.l), count: toNum(c.n) ?? 0 }))),
      mae: regression && pairs > 0 ? absErr / pairs : null,
      rmse: regression && pairs > 0 ? Math.sqrt(sqErr / pairs) : null,
      errorRate: requests > 0 ? errors / requests : null,
      errorRequests: errors,
      latencyP99Ms: toNum(r.p99),
      drift: drift.drift,
      predictionDrift: drift.prediction,
    });
  }
  return out;
}
