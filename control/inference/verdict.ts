// The A/B verdict for a group with two versions: which is better on the labelled rows
// (two-proportion z-test on accuracy, 95%) and on service quality (error rate, the same
// test; p99 latency as a plain comparison), with sample sizes, the difference and its
// confidence, or "not enough data yet" when that is the truth. Shadow rows count: a
// mirrored request's rows carry the caller's client request id, so the same label scores
// both versions on the same inputs.
import type { VersionQuality } from './quality.ts';
import { twoProportion } from './stats.ts';

export type VerdictOutcome = 'A_BETTER' | 'B_BETTER' | 'NO_SIGNIFICANT_DIFFERENCE' | 'NOT_ENOUGH_DATA';

export interface Comparison {
  metric: 'ACCURACY' | 'ERROR_RATE' | 'LATENCY_P99';
  outcome: VerdictOutcome;
  a: number | null;
  b: number | null;
  sampleA: number;
  sampleB: number;
  difference: number | null;
  pValue: number | null;
  confidenceLow: number | null;
  confidenceHigh: number | null;
  note: string;
}

export interface AbVerdict {
  versionA: string | null;
  versionB: string | null;
  /** the accuracy verdict (model quality decides; service quality is reported beside it) */
  outcome: VerdictOutcome;
  comparisons: Comparison[];
}

export const MIN_SAMPLE = 30;
const ALPHA = 0.05;

function proportions(metric: 'ACCURACY' | 'ERROR_RATE', a: VersionQuality, b: VersionQuality): Comparison {
  const higherIsBetter = metric === 'ACCURACY';
  const [sa, na, sb, nb] = metric === 'ACCURACY' ? [a.correctRows, a.scoredRows, b.correctRows, b.scoredRows] : [a.errorRequests, a.requests, b.errorRequests, b.requests];
  const base = { metric, a: na ? sa / na : null, b: nb ? sb / nb : null, sampleA: na, sampleB: nb };
  if (na < MIN_SAMPLE || nb < MIN_SAMPLE) {
    return { ...base, outcome: 'NOT_ENOUGH_DATA', difference: null, pValue: null, confidenceLow: null, confidenceHigh: null, note: `needs at least ${MIN_SAMPLE} ${metric === 'ACCURACY' ? 'labelled rows' : 'requests'} per version (have ${na} and ${nb})` };
  }
  const t = twoProportion(sa, na, sb, nb);
  if (!t) return { ...base, outcome: 'NOT_ENOUGH_DATA', difference: null, pValue: null, confidenceLow: null, confidenceHigh: null, note: 'no samples' };
  const aBetter = higherIsBetter ? t.difference > 0 : t.difference < 0;
  const outcome: VerdictOutcome = t.pValue >= ALPHA ? 'NO_SIGNIFICANT_DIFFERENCE' : aBetter ? 'A_BETTER' : 'B_BETTER';
  return { ...base, outcome, difference: t.difference, pValue: t.pValue, confidenceLow: t.low, confidenceHigh: t.high, note: `two-proportion z-test, z = ${t.z.toFixed(3)}` };
}

export function abVerdict(quality: VersionQuality[], names?: [string, string]): AbVerdict {
  const [a, b] = names ? names.map((n) => quality.find((q) => q.version === n)) : quality;
  if (!a || !b) {
    return { versionA: a?.version ?? names?.[0] ?? null, versionB: b?.version ?? names?.[1] ?? null, outcome: 'NOT_ENOUGH_DATA', comparisons: [] };
  }
  const accuracy = proportions('ACCURACY', a, b);
  const errors = proportions('ERROR_RATE', a, b);
  const latency: Comparison = {
    metric: 'LATENCY_P99',
    a: a.latencyP99Ms,
    b: b.latencyP99Ms,
    sampleA: a.requests,
    sampleB: b.requests,
    difference: a.latencyP99Ms !== null && b.latencyP99Ms !== null ? a.latencyP99Ms - b.latencyP99Ms : null,
    pValue: null,
    confidenceLow: null,
    confidenceHigh: null,
    outcome: a.requests < MIN_SAMPLE || b.requests < MIN_SAMPLE || a.latencyP99Ms === null || b.latencyP99Ms === null ? 'NOT_ENOUGH_DATA' : a.latencyP99Ms < b.latencyP99Ms ? 'A_BETTER' : a.latencyP99Ms > b.latencyP99Ms ? 'B_BETTER' : 'NO_SIGNIFICANT_DIFFERENCE',
    note: 'p99 of request latency; no significance test',
  };
  return { versionA: a.version, versionB: b.version, outcome: accuracy.outcome, comparisons: [accuracy, errors, latency] };
}
