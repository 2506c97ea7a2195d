// Quality of each version over a time window, computed by DuckDB over the table (rows joined
// with labels): model quality once labels exist (accuracy and per-class precision/recall/F1
// for classifiers, MAE/RMSE for regressors), drift of every feature and of the prediction
// against the version's training baseline (PSI, KS p-value, JS distance), data quality
// (nulls, out-of-range values, unseen categories) and service quality (error rate, p99
// latency). One scan per question, whatever the row count: the heavy lifting is aggregates.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CategoricalSummary, FeatureSummary, NumericSummary, TrainingBaseline } from './baseline.ts';
import { ident, num, query, str, toNum } from './duck.ts';
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

function driftOf(feature: string, expected: number[], actual: number[], extra: Partial<FeatureDrift>): FeatureDrift {
  const count = actual.reduce((a, b) => a + b, 0);
  if (count === 0) return { feature, psi: null, ksPValue: null, jsDistance: null, count: 0, nullFraction: null, outOfRangeFraction: null, unseenCategories: null, ...extra };
  return { feature, psi: psi(expected, actual), ksPValue: ksPValue(expected, actual)?.p ?? null, jsDistance: jsDistance(expected, actual), count, nullFraction: null, outOfRangeFraction: null, unseenCategories: null, ...extra };
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

/** Bin counts, nulls and out-of-range counts of numeric features of one version, one scan. */
async function numericCounts(conn: DuckDBConnection, where: string, features: [string, NumericSummary][]): Promise<Map<string, { bins: number[]; nulls: number; out: number }>> {
  const out = new Map<string, { bins: number[]; nulls: number; out: number }>();
  if (features.length === 0) return out;
  const aggs: string[] = [];
  features.forEach(([name, s], fi) => {
    const c = ident(featureColumn(name));
    aggs.push(`count(*) FILTER (WHERE ${c} IS NULL) AS n${fi}`);
    aggs.push(`count(*) FILTER (WHERE ${c} < ${num(s.min)} OR ${c} > ${num(s.max)}) AS o${fi}`);
    for (let b = 0; b <= s.edges.length; b++) {
      const lo = b === 0 ? null : s.edges[b - 1];
      const hi = b === s.edges.length ? null : s.edges[b];
      const cond = [lo === null || lo === undefined ? `${c} IS NOT NULL` : `${c} >= ${num(lo)}`, hi === null || hi === undefined ? null : `${c} < ${num(hi)}`].filter(Boolean).join(' AND ');
      aggs.push(`count(*) FILTER (WHERE ${cond}) AS b${fi}_${b}`);
    }
  });
  const [row] = await query(conn, `SELECT ${aggs.join(', ')} FROM t_rows WHERE ${where}`);
  features.forEach(([name, s], fi) => {
    const bins = Array.from({ length: s.edges.length + 1 }, (_, b) => toNum(row?.[`b${fi}_${b}`]) ?? 0);
    out.set(name, { bins, nulls: toNum(row?.[`n${fi}`]) ?? 0, out: toNum(row?.[`o${fi}`]) ?? 0 });
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
  const numeric = entries.filter((e): e is [string, NumericSummary] => e[1].type === 'numeric');
  const counts = await numericCounts(conn, where, numeric);
  const drift: FeatureDrift[] = [];
  for (const [name, s] of entries) {
    if (s.type === 'numeric') {
      const c = counts.get(name) as { bins: number[]; nulls: number; out: number };
      const n = c.bins.reduce((a, b) => a + b, 0);
      drift.push(driftOf(name, s.counts, c.bins, { nullFraction: n + c.nulls > 0 ? c.nulls / (n + c.nulls) : null, outOfRangeFraction: n > 0 ? c.out / n : null }));
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
  const pb: FeatureSummary | undefined = baseline.prediction;
  if (pb?.type === 'categorical') {
    const rows = await query(conn, `SELECT prediction_class AS v, count(*) AS n FROM t_rows WHERE ${where} AND prediction_class IS NOT NULL GROUP BY 1`);
    prediction = categoricalDrift('prediction', pb, new Map(rows.map((r) => [String(r.v), toNum(r.n) ?? 0])), 0);
  } else if (pb?.type === 'numeric') {
    const agg = await query(
      conn,
      `SELECT ${Array.from({ length: pb.edges.length + 1 }, (_, b) => `count(*) FILTER (WHERE ${b === 0 ? 'true' : `prediction_num >= ${num(pb.edges[b - 1] as number)}`} AND ${b === pb.edges.length ? 'true' : `prediction_num < ${num(pb.edges[b] as number)}`}) AS b${b}`).join(', ')} FROM t_rows WHERE ${where} AND prediction_num IS NOT NULL`,
    );
    prediction = driftOf('prediction', pb.counts, Array.from({ length: pb.edges.length + 1 }, (_, b) => toNum(agg[0]?.[`b${b}`]) ?? 0), {});
  }
  return { drift, prediction };
}

/** Quality of every version seen in the window (the caller has opened the table views). */
export async function computeQuality(conn: DuckDBConnection, models: Map<string, VersionModel>, from?: Date | null, to?: Date | null): Promise<VersionQuality[]> {
  const window = windowSql(from, to);
  const base = await query(
    conn,
    `SELECT version, count(*) AS rows, count(*) FILTER (WHERE row_index = 0) AS requests, ` +
      `count(*) FILTER (WHERE row_index = 0 AND (status IS NULL OR status >= 500)) AS errors, ` +
      `quantile_cont(latency_ms, 0.99) FILTER (WHERE row_index = 0) AS p99, ` +
      `count(*) FILTER (WHERE label_class IS NOT NULL) AS labelled, ` +
      `count(*) FILTER (WHERE label_class IS NOT NULL AND prediction_class IS NOT NULL) AS scored, ` +
      `count(*) FILTER (WHERE label_class IS NOT NULL AND prediction_class = label_class) AS correct, ` +
      `avg(abs(prediction_num - label_num)) AS mae, sqrt(avg((prediction_num - label_num) * (prediction_num - label_num))) AS rmse, ` +
      `count(*) FILTER (WHERE shadow) AS shadow_rows ` +
      `FROM t WHERE ${window} GROUP BY version ORDER BY version`,
  );
  const cells = await query(conn, `SELECT version, prediction_class AS p, label_class AS l, count(*) AS n FROM t WHERE ${window} AND label_class IS NOT NULL GROUP BY ALL`);
  const out: VersionQuality[] = [];
  for (const r of base) {
    const version = String(r.version);
    const model = models.get(version);
    const regression = isRegression(model);
    const scored = toNum(r.scored) ?? 0;
    const correct = toNum(r.correct) ?? 0;
    const requests = toNum(r.requests) ?? 0;
    const errors = toNum(r.errors) ?? 0;
    const drift = model ? await featureDrift(conn, version, window, model) : { drift: [], prediction: null };
    out.push({
      version,
      rows: toNum(r.rows) ?? 0,
      requests,
      labelledRows: toNum(r.labelled) ?? 0,
      shadowRows: toNum(r.shadow_rows) ?? 0,
      accuracy: !regression && scored > 0 ? correct / scored : null,
      scoredRows: scored,
      correctRows: correct,
      classes: regression
        ? []
        : classMetrics(cells.filter((c) => c.version === version).map((c) => ({ predicted: c.p === null ? null : String(c.p), actual: String(c.l), count: toNum(c.n) ?? 0 }))),
      mae: regression ? toNum(r.mae) : null,
      rmse: regression ? toNum(r.rmse) : null,
      errorRate: requests > 0 ? errors / requests : null,
      errorRequests: errors,
      latencyP99Ms: toNum(r.p99),
      drift: drift.drift,
      predictionDrift: drift.prediction,
    });
  }
  return out;
}
