// The training baseline: a summary of a model version's training data that drift is measured
// against. Stored with the registered model version (ModelVersion.baseline), produced by the
// trainer (runtime/demo/train.py for the demo). Format 1:
//   { format: 1, rows: N,
//     features: { <name>: { type: "numeric", edges: [interior quantile edges, ascending],
//                           counts: [one per bin = edges.length + 1], min, max, nulls?,
//                           ks?: { edges, counts } — finer quantile bins (the demo: 100) for the
//                           Kolmogorov–Smirnov test; without them KS uses the bins above }
//               | { type: "categorical", counts: { <value>: n } } },
//     prediction?: { type: "categorical", counts: { <class>: n } } | numeric as above }
// A value v falls in numeric bin i = the number of interior edges <= v; the trainer bins the
// training rows with the same rule, so production counts line up with the baseline's.
import { badInput } from '../../platform/errors.ts';

export interface NumericSummary {
  type: 'numeric';
  edges: number[];
  counts: number[];
  min: number;
  max: number;
  nulls?: number;
  /** finer quantile bins for the KS test (optional: older baselines have none) */
  ks?: { edges: number[]; counts: number[] };
}

export interface CategoricalSummary {
  type: 'categorical';
  counts: Record<string, number>;
}

export type FeatureSummary = NumericSummary | CategoricalSummary;

export interface TrainingBaseline {
  format: 1;
  rows: number;
  features: Record<string, FeatureSummary>;
  prediction?: FeatureSummary;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

function parseBins(where: string, edges: unknown, counts: unknown): { edges: number[]; counts: number[] } {
  if (!Array.isArray(edges) || !edges.every((e) => typeof e === 'number' && Number.isFinite(e))) throw badInput(`baseline ${where}.edges must be finite numbers`, { field: 'baseline' });
  for (let i = 1; i < edges.length; i++) if ((edges[i] as number) <= (edges[i - 1] as number)) throw badInput(`baseline ${where}.edges must be strictly ascending`, { field: 'baseline' });
  if (!Array.isArray(counts) || counts.length !== edges.length + 1 || !counts.every(isCount)) throw badInput(`baseline ${where}.counts must be ${edges.length + 1} non-negative numbers (one per bin)`, { field: 'baseline' });
  return { edges: edges as number[], counts: counts as number[] };
}

function parseSummary(where: string, raw: unknown): FeatureSummary {
  if (typeof raw !== 'object' || raw === null) throw badInput(`baseline ${where} must be an object`, { field: 'baseline' });
  const s = raw as Record<string, unknown>;
  if (s.type === 'numeric') {
    const { edges, counts } = parseBins(where, s.edges, s.counts);
    const { min, max } = s;
    if (typeof min !== 'number' || typeof max !== 'number' || !(min <= max)) throw badInput(`baseline ${where} needs numeric min <= max`, { field: 'baseline' });
    let ks: NumericSummary['ks'];
    if (s.ks !== undefined && s.ks !== null) {
      if (typeof s.ks !== 'object') throw badInput(`baseline ${where}.ks must be an object with edges and counts`, { field: 'baseline' });
      const k = s.ks as Record<string, unknown>;
      ks = parseBins(`${where}.ks`, k.edges, k.counts);
    }
    return { type: 'numeric', edges, counts, min, max, ...(isCount(s.nulls) ? { nulls: s.nulls } : {}), ...(ks ? { ks } : {}) };
  }
  if (s.type === 'categorical') {
    const counts = s.counts;
    if (typeof counts !== 'object' || counts === null || Array.isArray(counts) || !Object.values(counts).every(isCount)) {
      throw badInput(`baseline ${where}.counts must map each category to a count`, { field: 'baseline' });
    }
    return { type: 'categorical', counts: counts as Record<string, number> };
  }
  throw badInput(`baseline ${where}.type must be "numeric" or "categorical"`, { field: 'baseline' });
}

/** Validates a baseline as given to registerModelVersion; throws BAD_USER_INPUT with the path of the first problem. */
export function parseBaseline(raw: unknown, featureNames?: readonly string[]): TrainingBaseline {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badInput('baseline must be an object', { field: 'baseline' });
  const b = raw as Record<string, unknown>;
  if (b.format !== 1) throw badInput('baseline.format must be 1', { field: 'baseline' });
  if (!isCount(b.rows)) throw badInput('baseline.rows must be a non-negative number', { field: 'baseline' });
  if (typeof b.features !== 'object' || b.features === null || Array.isArray(b.features)) throw badInput('baseline.features must be an object', { field: 'baseline' });
  const features: Record<string, FeatureSummary> = {};
  for (const [name, summary] of Object.entries(b.features as Record<string, unknown>)) {
    if (featureNames && !featureNames.includes(name)) throw badInput(`baseline feature "${name}" is not an input of the model's signature`, { field: 'baseline' });
    features[name] = parseSummary(`features["${name}"]`, summary);
  }
  const out: TrainingBaseline = { format: 1, rows: b.rows, features };
  if (b.prediction !== undefined && b.prediction !== null) out.prediction = parseSummary('prediction', b.prediction);
  return out;
}

/** The bin of v under interior edges (binary search): the number of edges <= v. */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((edges[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
