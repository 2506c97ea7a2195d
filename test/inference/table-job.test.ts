// The table job as a specification: log objects become one typed row per input row, exactly
// once (reruns are no-ops; a crash between writing files and committing is redone without a
// duplicate), refused requests count without features, shadow records are marked, and bad
// objects and records are quarantined with an event while every good row is kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { InferenceService } from '../../control/inference/service.ts';
import { InferenceTableJob } from '../../control/inference/job.ts';
import { COLUMNS, HELDOUT, putLogObject, record, seedGroup } from './helpers.ts';

describe('inference table job (folder store, SQLite)', () => {
  let db: TestDatabase;
  let dir: string;
  let store: FsObjectStore;
  let service: InferenceService;
  let groupId: string;
  const G = 'wine-quality';

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'sluice-table-'));
    store = new FsObjectStore(join(dir, 'objects'));
    service = new InferenceService({ prisma: db.prisma, store, pubsub: createMemoryPubSub(), secrets: { seal: (s) => `sealed:${s}`, open: (s) => s.slice(7) }, workDir: join(dir, 'work') });
    ({ groupId } = await seedGroup(db.prisma, G));
  }, 60_000);

  afterAll(async () => {
    await service.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one row per input row with typed features, predictions, status and latency', async () => {
    const single = record(G, { rows: [HELDOUT.rows[0]!], predictions: [HELDOUT.versions['1']!.predictions[0]!], clientRequestId: 'one' });
    const batch = record(G, { version: 'v2', rows: HELDOUT.rows.slice(0, 64), predictions: HELDOUT.versions['2']!.predictions.slice(0, 64), clientRequestId: 'batch' });
    await putLogObject(store, [single]);
    await putLogObject(store, [batch]);
    const run = await service.runJob(groupId);
    expect(run).toMatchObject({ objectsProcessed: 2, rowsWritten: 1 + Math.min(64, HELDOUT.rows.length), objectsQuarantined: 0 });
    const one = await service.rows(groupId, { clientRequestId: 'one' });
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ requestId: single.request_id, rowIndex: 0, version: 'v1', status: 200, latencyMs: 3.5, prediction: HELDOUT.versions['1']!.predictions[0], shadow: false });
    expect(Object.keys(one[0]!.features).sort()).toEqual([...COLUMNS].sort());
    COLUMNS.forEach((c, i) => expect(one[0]!.features[c]).toBe(HELDOUT.rows[0]![i]));
    const b = await service.rows(groupId, { clientRequestId: 'batch', first: 1000 });
    expect(b).toHaveLength(Math.min(64, HELDOUT.rows.length));
    for (const r of b) {
      expect(r.features[COLUMNS[12]!]).toBe(HELDOUT.rows[r.rowIndex]![12]);
      expect(r.prediction).toBe(HELDOUT.versions['2']!.predictions[r.rowIndex]);
    }
    await expect(store.list('inference-table/group=wine-quality/version=v2/')).resolves.toHaveLength(1);
  });

  it('reads OIP tensor requests and MLflow CSV requests into the same typed rows', async () => {
    const oip = record(G, { rows: [HELDOUT.rows[3]!], clientRequestId: 'oip' });
    const rows2 = HELDOUT.rows.slice(0, 2);
    const oipRecord = {
      ...oip,
      protocol: 'oip' as const,
      request: JSON.stringify({ inputs: [{ name: 'input', shape: [2, 13], datatype: 'FP64', data: rows2.flat() }] }),
      response: JSON.stringify({ model_name: G, outputs: [{ name: 'label', shape: [2], datatype: 'INT64', data: [2, 1] }] }),
    };
    const csv = record(G, { rows: [HELDOUT.rows[4]!], clientRequestId: 'csv' });
    const csvRecord = { ...csv, request: `${COLUMNS.join(',')}\n${HELDOUT.rows[4]!.join(',')}\n` };
    await putLogObject(store, [oipRecord, csvRecord]);
    await service.runJob(groupId);
    const o = await service.rows(groupId, { clientRequestId: 'oip' });
    expect(o.map((r) => [r.rowIndex, r.prediction, r.features.alcohol]).sort()).toEqual([[0, 2, rows2[0]![0]], [1, 1, rows2[1]![0]]]);
    const c = await service.rows(groupId, { clientRequestId: 'csv' });
    expect(c).toHaveLength(1);
    COLUMNS.forEach((col, i) => expect(c[0]!.features[col]).toBe(HELDOUT.rows[4]![i]));
  });

  it('a rerun with nothing new is a no-op', async () => {
    const before = (await service.tableInfo(groupId)).rowCount;
    const run = await service.runJob(groupId);
    expect(run).toMatchObject({ objectsProcessed: 0, rowsWritten: 0 });
    expect((await service.tableInfo(groupId)).rowCount).toBe(before);
  });

  it('counts refused requests without features and marks shadow traffic', async () => {
    await putLogObject(store, [record(G, { rows: HELDOUT.rows.slice(0, 3), status: 429, clientRequestId: 'refused' }), record(G, { version: 'v2', rows: HELDOUT.rows.slice(0, 2), clientRequestId: 'mirror', shadow: true })]);
    await service.runJob(groupId);
    const refused = await service.rows(groupId, { clientRequestId: 'refused' });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ status: 429, prediction: null, features: {} });
    const shadow = await service.rows(groupId, { clientRequestId: 'mirror' });
    expect(shadow.map((r) => r.shadow)).toEqual([true, true]);
  });

  it('quarantines bad objects and bad records with an event, keeping every good row', async () => {
    const good = record(G, { rows: [HELDOUT.rows[1]!], clientRequestId: 'good-next-to-bad' });
    const missing = { ...record(G, { rows: [HELDOUT.rows[1]!] }) } as Record<string, unknown>;
    delete missing.request_id;
    const wrongColumns = record(G, { rows: [[1, 2]], columns: ['alcohol', 'no_such_feature'], clientRequestId: 'wrong-cols' });
    const mixed = gzipSync(Buffer.from([JSON.stringify(good), JSON.stringify(missing), JSON.stringify(wrongColumns), '{"truncated json'].join('\n') + '\n'));
    const day = good.timestamp.slice(0, 10);
    const hour = good.timestamp.slice(11, 13);
    const p = `inference-logs/${G}/v1/dt=${day}/hour=${hour}/`;
    await store.put(`${p}mixed.ndjson.gz`, mixed);
    const truncated = gzipSync(Buffer.from(JSON.stringify(record(G, { rows: [HELDOUT.rows[2]!] })) + '\n'));
    await store.put(`${p}truncated.ndjson.gz`, truncated.subarray(0, Math.floor(truncated.length / 2)));
    await store.put(`${p}empty.ndjson.gz`, Buffer.alloc(0));
    const run = await service.runJob(groupId);
    expect(run).toMatchObject({ objectsQuarantined: 2, recordsQuarantined: 3, rowsWritten: 1 });
    expect(await service.rows(groupId, { clientRequestId: 'good-next-to-bad' })).toHaveLength(1);
    expect(await service.rows(groupId, { clientRequestId: 'wrong-cols' })).toHaveLength(0);
    const quarantine = await store.list(`inference-table/_quarantine/group=${G}/`);
    expect(quarantine.map((q) => q.key).join('\n')).toMatch(/truncated\.ndjson\.gz[\s\S]*|empty/);
    expect(quarantine).toHaveLength(3);
    const events = await db.prisma.event.findMany({ where: { reason: 'InferenceLogQuarantined' } });
    expect(events.map((e) => e.message).join('\n')).toMatch(/not valid gzip/);
    expect(events.map((e) => e.message).join('\n')).toMatch(/zero bytes/);
    expect(events.map((e) => e.message).join('\n')).toMatch(/3 of 4 records quarantined/);
    const badFile = quarantine.find((q) => q.key.endsWith('mixed.ndjson.gz.bad.ndjson'))!;
    const bad = (await store.get(badFile.key)).body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
    expect(bad.map((b) => b.reason)).toEqual(['record has no request_id', expect.stringMatching(/columns do not match the signature; missing .*; unknown no_such_feature/), 'record is not valid JSON']);
    // a quarantined object is not retried on the next run
    expect(await service.runJob(groupId)).toMatchObject({ objectsQuarantined: 0, objectsProcessed: 0 });
  });

  it('a crash after the files are written and before the commit is redone without duplicates', async () => {
    const recs = Array.from({ length: 6 }, (_, i) => record(G, { rows: HELDOUT.rows.slice(i, i + 3), clientRequestId: `crash-${i}` }));
    for (const r of recs) await putLogObject(store, [r]);
    const crashing = new InferenceTableJob({ prisma: db.prisma, store, workDir: join(dir, 'work'), maxObjectsPerBatch: 2, beforeCommit: async () => { throw new Error('simulated crash'); } });
    await expect(crashing.run(groupId)).rejects.toThrow('simulated crash');
    const pending = await db.prisma.inferenceTableBatch.findMany({ where: { groupId, state: 'PENDING' } });
    expect(pending).toHaveLength(1);
    await service.runJob(groupId);
    for (let i = 0; i < 6; i++) {
      const rows = await service.rows(groupId, { clientRequestId: `crash-${i}` });
      expect(rows.map((r) => r.rowIndex).sort()).toEqual([0, 1, 2]);
    }
  });
});
