// The table job's two paths give the same table: the same log objects (batches, single
// rows, refused, shadow, uncaptured bodies, permuted columns, fractional predictions, and
// records only the record-by-record path can read or must quarantine) are run once with
// DuckDB's batch read (sqlpath.ts) and once record by record (records.ts); every row, value
// and column type must match, the same objects must be quarantined, and the batch read must
// have taken the objects it can (so a silent fallback cannot pass for agreement); a batch
// whose bulk read fails goes record by record with an event and loses nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { InferenceTableJob, type TableJobResult } from '../../control/inference/job.ts';
import { query, str, withDuck } from '../../control/inference/duck.ts';
import { partitionPrefix, type InferenceRecord } from '../../gateway/inference-log/record.ts';
import { COLUMNS, HELDOUT, record, seedGroup } from './helpers.ts';

type Rec = Record<string, unknown>;

/** The log objects, as functions of the group name (each group gets the same records under its own name). */
function objects(): { name: string; lines: (g: string) => Rec[]; raw?: (body: Buffer) => Buffer }[] {
  const notJson = { ...record('G', { at: new Date('2026-06-01T10:00:00.123Z'), rows: [HELDOUT.rows[15]!], predictions: [3], clientRequestId: 'response-not-json' }), response: 'not json at all' } as unknown as Rec;
  const tiny = record('G', { at: new Date('2026-06-01T10:00:00.123Z'), rows: [HELDOUT.rows[19]!], predictions: [1e-7], clientRequestId: 'tiny' }) as unknown as Rec;
  const at = new Date('2026-06-01T10:00:00.123Z');
  const base = (over: Parameters<typeof record>[1]) => record('G', { at, ...over }) as unknown as Rec;
  const reversed = [...COLUMNS].reverse();
  const fast: Rec[] = [
    base({ rows: HELDOUT.rows.slice(0, 64), predictions: HELDOUT.versions['1']!.predictions.slice(0, 64), clientRequestId: 'batch' }),
    base({ rows: [HELDOUT.rows[3]!], predictions: [0.25], clientRequestId: 'single-fraction' }),
    base({ rows: HELDOUT.rows.slice(4, 7), predictions: [1234.5678, -3, 0.1 + 0.2], clientRequestId: 'mixed-numbers' }),
    base({ rows: HELDOUT.rows.slice(7, 9), predictions: [], clientRequestId: 'no-predictions' }),
    base({ rows: [], predictions: [], clientRequestId: 'empty-batch' }),
    base({ rows: [HELDOUT.rows[9]!], status: 429, clientRequestId: 'refused' }),
    base({ rows: [HELDOUT.rows[10]!], shadow: true, clientRequestId: 'shadow' }),
    base({ rows: HELDOUT.rows.slice(11, 13).map((r) => [...r].reverse()), columns: reversed, predictions: [5, 6], clientRequestId: 'permuted' }),
    { ...base({ rows: [HELDOUT.rows[13]!] }), request: undefined, request_truncated: true, client_request_id: 'uncaptured' },
    { ...base({ rows: [HELDOUT.rows[14]!] }), client_request_id: 7, error: 'upstream said no', timestamp: '2026-06-02T23:59:59Z' },
    base({ version: 'v2', rows: HELDOUT.rows.slice(20, 40), predictions: HELDOUT.versions['2']!.predictions.slice(20, 40), clientRequestId: 'v2-batch' }),
  ];
  const stringFeature = base({ rows: [HELDOUT.rows[16]!], clientRequestId: 'string-feature' });
  stringFeature.request = (stringFeature.request as string).replace(/\[\[([0-9.]+),/, '[["$1",');
  const oip = base({ rows: [HELDOUT.rows[17]!], clientRequestId: 'oip' });
  oip.protocol = 'oip';
  oip.request = JSON.stringify({ inputs: COLUMNS.map((c, i) => ({ name: c, datatype: 'FP64', shape: [1], data: [HELDOUT.rows[17]![i]] })) });
  const missing = base({ rows: [HELDOUT.rows[18]!] });
  delete missing.request_id;
  const named = (recs: Rec[]) => (g: string) => recs.map((r) => ({ ...r, group: g }));
  return [
    { name: 'fast', lines: named(fast) },
    { name: 'tiny-prediction', lines: named([tiny]) },
    { name: 'response-not-json', lines: named([notJson]) },
    { name: 'string-feature', lines: named([base({ rows: [HELDOUT.rows[0]!], clientRequestId: 'beside-string' }), stringFeature]) },
    { name: 'oip', lines: named([oip, base({ rows: [HELDOUT.rows[1]!], clientRequestId: 'beside-oip' })]) },
    { name: 'missing-field', lines: named([missing, base({ rows: [HELDOUT.rows[2]!], clientRequestId: 'beside-missing' })]) },
    { name: 'other-timezone', lines: named([{ ...base({ rows: [HELDOUT.rows[5]!], clientRequestId: 'offset' }), timestamp: '2026-06-01T12:00:00+02:00' }]) },
    // the gzip trailer (CRC, length) cut off: DuckDB alone would read every record of it
    { name: 'cut-trailer', lines: named([base({ rows: [HELDOUT.rows[6]!], clientRequestId: 'cut' })]), raw: (b) => b.subarray(0, b.length - 8) },
  ];
}

describe('inference table job: DuckDB batch read = record by record', () => {
  let db: TestDatabase;
  let dir: string;
  let store: FsObjectStore;
  const results: Record<string, TableJobResult> = {};
  const events: { reason: string; message: string }[] = [];

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'sluice-table-sql-'));
    store = new FsObjectStore(join(dir, 'objects'));
    const objs = objects();
    // 'bulk-fails': the batch read's first Parquet upload fails (a full disk, an object store
    // refusing), so the whole batch must go record by record, with an event, and lose nothing
    let bulkUploadsToFail = 1;
    const failingStore = Object.create(store, {
      putFile: {
        value: async (key: string, file: string, contentType?: string) => {
          if (/-s\d+\.parquet$/.test(key) && bulkUploadsToFail-- > 0) throw new Error('object store refused the upload');
          return store.putFile(key, file, contentType);
        },
      },
    }) as FsObjectStore;
    for (const [g, sqlPath] of [['by-record', false], ['by-sql', true], ['bulk-fails', true]] as const) {
      const { groupId } = await seedGroup(db.prisma, g);
      for (const o of objs) {
        const lines = o.lines(g);
        const body = gzipSync(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
        await store.put(`${partitionPrefix(lines[0] as unknown as InferenceRecord)}${o.name}.ndjson.gz`, o.raw ? o.raw(body) : body);
      }
      const jobStore = g === 'bulk-fails' ? failingStore : store;
      const event = async (e: { reason: string; message: string }) => { events.push(e); };
      results[g] = await new InferenceTableJob({ prisma: db.prisma, store: jobStore, workDir: join(dir, 'work'), sqlPath, event }).run(groupId);
    }
  }, 120_000);

  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const table = (g: string) =>
    withDuck(async (conn) => {
      const glob = join(store.root, 'inference-table', `group=${g}`, '*', '*', '*.parquet');
      const rows = await query(conn, `SELECT * EXCLUDE ("group") FROM read_parquet(${str(glob)}, hive_partitioning=true, union_by_name=true, filename=true) ORDER BY client_request_id, request_id, row_index`);
      const types = await query(conn, `SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE ("group") FROM read_parquet(${str(glob)}, hive_partitioning=true, union_by_name=true))`);
      return { rows, types };
    });

  it('writes the same rows, values and column types', async () => {
    const a = await table('by-record');
    const b = await table('by-sql');
    expect(b.types).toEqual(a.types);
    const strip = (rows: Rec[]) => rows.map(({ filename: _f, ...r }) => r);
    expect(strip(b.rows)).toEqual(strip(a.rows));
    expect(a.rows.length).toBeGreaterThan(50);
    // spot checks of what the record path itself is specified to write
    const byId = (id: string) => a.rows.filter((r) => r.client_request_id === id);
    expect(byId('single-fraction')[0]).toMatchObject({ prediction: '0.25', prediction_class: '0.25', prediction_num: 0.25 });
    expect(byId('mixed-numbers').map((r) => r.prediction)).toEqual(['1234.5678', '-3', '0.30000000000000004']);
    expect(byId('refused')[0]).toMatchObject({ status: 429, prediction: null, alcohol: null });
    expect(byId('uncaptured')[0]).toMatchObject({ error: 'request body not captured (truncated or absent): features unknown' });
    expect(byId('permuted').map((r) => r.alcohol)).toEqual([HELDOUT.rows[11]![0], HELDOUT.rows[12]![0]]);
    expect(byId('empty-batch')).toHaveLength(0);
  });

  it('quarantines the same objects and records', () => {
    const { id: _a, ...a } = results['by-record']!;
    const { id: _b, ...b } = results['by-sql']!;
    expect(b).toEqual(a);
    expect(a).toMatchObject({ objectsQuarantined: 1, recordsQuarantined: 2 });
  });

  it('reads a batch record by record when its bulk read fails, says so in an event, and loses no row', async () => {
    const a = await table('by-record');
    const c = await table('bulk-fails');
    const strip = (rows: Rec[]) => rows.map(({ filename: _f, ...r }) => r);
    expect(strip(c.rows)).toEqual(strip(a.rows));
    expect(c.rows.some((r) => /-s\d+\.parquet$/.test(String(r.filename)))).toBe(false);
    const { id: _a, ...ra } = results['by-record']!;
    const { id: _c, ...rc } = results['bulk-fails']!;
    expect(rc).toEqual(ra);
    expect(events.filter((e) => e.reason === 'InferenceTableBulkReadFailed')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('object store refused the upload') }),
    ]);
  });

  it('took through DuckDB the objects it can, and left the others to the record path', async () => {
    const b = await table('by-sql');
    const sqlFile = (f: unknown) => /-s\d+\.parquet$/.test(String(f));
    const from = (id: string) => b.rows.filter((r) => r.client_request_id === id).map((r) => sqlFile(r.filename));
    for (const id of ['batch', 'single-fraction', 'refused', 'permuted', 'uncaptured', 'v2-batch']) expect(from(id).every(Boolean), id).toBe(true);
    for (const id of ['tiny', 'response-not-json', 'beside-string', 'beside-oip', 'oip', 'beside-missing', 'offset']) expect(from(id).some(Boolean), id).toBe(false);
    expect(from('batch')).toHaveLength(Math.min(64, HELDOUT.rows.length));
  });
});
