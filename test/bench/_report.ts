// Shared by the benchmark scripts: percentiles, a printed table, and bench-results/<name>.json.
import { mkdirSync, writeFileSync } from 'node:fs';

export interface BenchRow {
  [column: string]: string | number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(samplesMs: number[]): { p50: number; p99: number; mean: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((s, x) => s + x, 0) / sorted.length };
}

export function report(name: string, rows: BenchRow[], notes: Record<string, unknown> = {}): void {
  console.table(rows);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(`bench-results/${name}.json`, JSON.stringify({ name, at: new Date().toISOString(), node: process.version, rows, notes }, null, 2));
}

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));
