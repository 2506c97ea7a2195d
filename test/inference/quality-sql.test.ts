// The SQL quality path against a straightforward reference: a small table written with
// DuckDB (values exactly on the baseline's edges and a hair below them, nulls, values out of
// the training range, a numeric prediction, labels with a relabel) is measured by
// computeQuality, and every figure is recomputed here row by row in plain TypeScript
// (binOf, the stats functions, counting by hand): they must be equal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { query, withDuck } from '../../control/inference/duck.ts';
import { TableReader } from '../../control/inference/table.ts';
import { LocalMirror } from '../../control/inference/mirror.ts';
import { below, computeQuality } from '../../control/inference/quality.ts';
import { binOf, parseBaseline, type NumericSummary } from '../../control/inference/baseline.ts';
import { classMetrics, jsDistance, ksPValue, psi } from '../../control/inference/stats.ts';
import type { VersionModel } from '../../control/inference/signatures.ts';

const G = 'ref-group';
const EDGES_A = [0.1, 0.5, 2.25, 7];
const EDGES_B = [-3, 0, 1e-9, 100];
// finer bins for the KS test on `a` (b has none, as older baselines: KS falls back to its bins)
const KS_A = [-0.5, 0.1, 0.3, 0.5, 1, 2.25, 4, 7, 9];
const baseline = parseBaseline({
  format: 1,
  rows: 1000,
  features: {
    a: { type: 'numeric', edges: EDGES_A, counts: [100, 300, 250, 200, 150], min: -1, max: 10, ks: { edges: KS_A, counts: [40, 60, 150, 150, 120, 130, 110, 90, 100, 50] } },
    b: { type: 'numeric', edges: EDGES_B, counts: [50, 200, 10, 640, 100], min: -10, max: 500 },
    c: { type: 'categorical', counts: { red: 600, white: 400 } },
  },
  prediction: { type: 'categorical', counts: { '0': 500, '1': 500 } },
});

interface Row {
  id: string;
  a: number | null;
  b: number | null;
  c: string | null;
  pred: string;
  status: number;
}

// a deterministic generator: no Math.random in a reference test
let state = 7;
const rand = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const specialA = [...EDGES_A, ...EDGES_A.map(below), -1, 10, -5, 42, 0];
const specialB = [...EDGES_B, ...EDGES_B.map(below), -10, 500, -11, 501, -0];
const rows: Row[] = Array.from({ length: 600 }, (_, i) => ({
  id: `r-${i}`,
  a: i % 17 === 0 ? null : rand() < 0.5 ? pick(specialA) : -2 + rand() * 14,
  b: i % 23 === 0 ? null : rand() < 0.5 ? pick(specialB) : -20 + rand() * 600,
  c: i % 29 === 0 ? null : pick(['red', 'white', 'rose']),
  pred: pick(['0', '1', '2']),
  status: i % 31 === 0 ? 500 : 200,
}));
// labels for two rows in three; a relabel (higher seq) for some
const labels = rows.filter((_, i) => i % 3 !== 0).map((r, i) => ({ id: r.id, label: pick(['0', '1']), relabel: i % 5 === 0 ? pick(['0', '1', '2']) : null }));

function reference() {
  const ok = rows.filter((r) => r.status >= 200 && r.status <= 299);
  const numeric = (name: 'a' | 'b') => {
    const s = baseline.features[name] as NumericSummary;
    const bins = new Array<number>(s.edges.length + 1).fill(0);
    let nulls = 0;
    let out = 0;
    for (const r of ok) {
      const v = r[name];
      if (v === null) {
        nulls++;
        continue;
      }
      bins[binOf(s.edges, v)]! += 1;
      if (v < s.min || v > s.max) out++;
    }
    const n = bins.reduce((x, y) => x + y, 0);
    const fine = s.ks ? new Array<number>(s.ks.edges.length + 1).fill(0) : null;
    if (fine && s.ks) for (const r of ok) if (r[name] !== null) fine[binOf(s.ks.edges, r[name])]! += 1;
    const ks = fine && s.ks ? ksPValue(s.ks.counts, fine)!.p : ksPValue(s.counts, bins)!.p;
    return { psi: psi(s.counts, bins), ks, js: jsDistance(s.counts, bins), count: n, nullFraction: nulls / (n + nulls), outOfRangeFraction: out / n };
  };
  const cats = ['red', 'rose', 'white'];
  const base = { red: 600, white: 400 } as Record<string, number>;
  const actual = cats.map((k) => ok.filter((r) => r.c === k).length);
  const expected = cats.map((k) => base[k] ?? 0);
  const latest = new Map(labels.map((l) => [l.id, l.relabel ?? l.label]));
  const cells = new Map<string, number>();
  for (const r of rows) {
    const l = latest.get(r.id);
    if (l === undefined) continue;
    cells.set(`${r.pred}|${l}`, (cells.get(`${r.pred}|${l}`) ?? 0) + 1);
  }
  const cellList = [...cells].map(([k, count]) => ({ predicted: k.split('|')[0]!, actual: k.split('|')[1]!, count }));
  const correct = cellList.filter((c) => c.predicted === c.actual).reduce((n, c) => n + c.count, 0);
  const labelled = cellList.reduce((n, c) => n + c.count, 0);
  const predCats = ['0', '1', '2'];
  return {
    a: numeric('a'),
    b: numeric('b'),
    c: { psi: psi(expected, actual), js: jsDistance(expected, actual), unseen: 1, nullFraction: ok.filter((r) => r.c === null).length / ok.length },
    prediction: { psi: psi(predCats.map((k) => (k === '2' ? 0 : 500)), predCats.map((k) => ok.filter((r) => r.pred === k).length)) },
    accuracy: correct / labelled,
    labelled,
    classes: classMetrics(cellList),
    errorRequests: rows.filter((r) => r.status >= 500).length,
  };
}

describe('quality in SQL equals a row-by-row reference', () => {
  let dir: string;
  let reader: TableReader;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-quality-ref-'));
    const part = join(dir, 'objects', 'inference-table', `group=${G}`, 'version=v1', 'dt=2026-06-01');
    const labelDir = join(dir, 'objects', 'inference-table', '_labels', `group=${G}`);
    mkdirSync(part, { recursive: true });
    mkdirSync(labelDir, { recursive: true });
    const lit = (v: number | string | null, type: string) => (v === null ? `NULL::${type}` : typeof v === 'string' ? `'${v}'` : `'${String(v)}'::DOUBLE`);
    await withDuck(async (conn) => {
      const values = rows.map((r, i) =>
        `('${r.id}-req', '${r.id}', 0, TIMESTAMPTZ '2026-06-01 10:00:00+00' + INTERVAL ${i} SECOND, ${r.status}, ${i % 13}.5, NULL, false, '${r.pred}', '${r.pred}', ${r.pred}.0, ${lit(r.a, 'DOUBLE')}, ${lit(r.b, 'DOUBLE')}, ${lit(r.c, 'VARCHAR')})`,
      );
      await conn.run(
        `COPY (SELECT * FROM (VALUES ${values.join(', ')}) t(request_id, client_request_id, row_index, "time", status, latency_ms, error, shadow, prediction, prediction_class, prediction_num, a, b, c)) TO '${join(part, 'p.parquet')}' (FORMAT parquet)`,
      );
      const first = labels.map((l) => `('${l.id}', 0, '${l.label}', '${l.label}', ${l.label}.0, 1)`);
      const second = labels.filter((l) => l.relabel !== null).map((l) => `('${l.id}', 0, '${l.relabel}', '${l.relabel}', ${l.relabel}.0, 2)`);
      for (const [name, list] of [['l1', first], ['l2', second]] as const) {
        await conn.run(`COPY (SELECT * FROM (VALUES ${list.join(', ')}) t(client_request_id, row_index, label, label_class, label_num, seq)) TO '${join(labelDir, `${name}.parquet`)}' (FORMAT parquet)`);
      }
    });
    const store = new FsObjectStore(join(dir, 'objects'));
    reader = new TableReader(store, new LocalMirror(store, join(dir, 'mirror')));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bins values on and just below the edges the way binOf does', () => {
    for (const e of [...EDGES_A, ...EDGES_B]) {
      expect(binOf([e], e)).toBe(1);
      expect(binOf([e], below(e))).toBe(0);
      expect(below(e)).toBeLessThan(e);
    }
  });

  it('reads baselines with and without finer KS bins, and refuses malformed ones', () => {
    expect((baseline.features.a as NumericSummary).ks?.edges).toEqual(KS_A);
    expect((baseline.features.b as NumericSummary).ks).toBeUndefined();
    const bad = { format: 1, rows: 1, features: { a: { type: 'numeric', edges: [1], counts: [1, 1], min: 0, max: 2, ks: { edges: [2, 1], counts: [1, 1, 1] } } } };
    expect(() => parseBaseline(bad)).toThrow(/ks.edges must be strictly ascending/);
  });

  it('drift, data quality, accuracy and per-class metrics', async () => {
    const model: VersionModel = {
      signature: { inputs: [{ name: 'a', type: 'double' }, { name: 'b', type: 'double' }, { name: 'c', type: 'string' }], outputs: [{ name: 'class', type: 'long' }] },
      baseline,
    } as VersionModel;
    const [q] = await reader.withTable(G, async ({ conn }) => {
      expect((await query(conn, 'SELECT count(*) AS n FROM t_rows'))[0]!.n).toBe('600');
      return computeQuality(conn, new Map([['v1', model]]));
    });
    const ref = reference();
    const drift = new Map(q!.drift.map((d) => [d.feature, d]));
    for (const name of ['a', 'b'] as const) {
      const d = drift.get(name)!;
      const r = ref[name];
      expect(d.count, name).toBe(r.count);
      expect(d.psi, name).toBeCloseTo(r.psi, 12);
      expect(d.ksPValue, name).toBeCloseTo(r.ks, 12);
      expect(d.jsDistance, name).toBeCloseTo(r.js, 12);
      expect(d.nullFraction, name).toBeCloseTo(r.nullFraction, 12);
      expect(d.outOfRangeFraction, name).toBeCloseTo(r.outOfRangeFraction, 12);
    }
    expect(drift.get('c')!.psi).toBeCloseTo(ref.c.psi, 12);
    expect(drift.get('c')!.jsDistance).toBeCloseTo(ref.c.js, 12);
    expect(drift.get('c')!.unseenCategories).toBe(ref.c.unseen);
    expect(drift.get('c')!.nullFraction).toBeCloseTo(ref.c.nullFraction, 12);
    expect(q!.predictionDrift!.psi).toBeCloseTo(ref.prediction.psi, 12);
    expect(q!.labelledRows).toBe(ref.labelled);
    expect(q!.accuracy).toBeCloseTo(ref.accuracy, 12);
    expect(q!.classes).toEqual(ref.classes);
    expect(q!.errorRequests).toBe(ref.errorRequests);
  });
});
