// Label compaction: one small Parquet file per submission is merged once a group passes the
// threshold — the latest label per key wins (also over labels submitted after the merge),
// compacting again changes nothing, and a crash between storing the merged file and
// deleting its inputs leaves the labels reading the same, cleaned up by the next compaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import { query } from '../../control/inference/duck.ts';
import { TableReader } from '../../control/inference/table.ts';
import { LocalMirror } from '../../control/inference/mirror.ts';
import { Labels } from '../../control/inference/labels.ts';
import { labelsPrefix } from '../../control/inference/layout.ts';

const G = 'compaction';

describe('label compaction', () => {
  let dir: string;
  let store: FsObjectStore;
  let reader: TableReader;
  const expected = new Map<string, string>();

  const current = async (): Promise<Map<string, string>> =>
    reader.withTable(G, async ({ conn }) => new Map((await query(conn, 'SELECT client_request_id || \'#\' || row_index AS k, label FROM t_labels')).map((r) => [String(r.k), String(r.label)])));
  const fileCount = async (): Promise<number> => (await reader.labelFiles(G)).length;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-label-compaction-'));
    store = new FsObjectStore(join(dir, 'objects'));
    reader = new TableReader(store, new LocalMirror(store, join(dir, 'mirror')));
    mkdirSync(join(dir, 'work'), { recursive: true });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('merges past the threshold, the latest label winning', async () => {
    const labels = new Labels(store, reader, join(dir, 'work'), { compactAfterFiles: 3 });
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 20 }, (_, i) => ({ clientRequestId: `c-${i >> 1}`, rowIndex: i % 2, label: `${round}-${i}` }));
      await labels.submit(G, batch);
      for (const l of batch) expected.set(`${l.clientRequestId}#${l.rowIndex}`, JSON.stringify(l.label));
    }
    expect(await fileCount()).toBe(3); // at the threshold: not yet
    await labels.submit(G, [{ clientRequestId: 'c-1', rowIndex: 1, label: 'fourth' }]);
    expected.set('c-1#1', JSON.stringify('fourth'));
    expect(await fileCount()).toBe(1); // 4 > 3: merged
    expect(await current()).toEqual(expected);
    // a relabel after the merge still wins over the merged label
    await labels.submit(G, [{ clientRequestId: 'c-2', rowIndex: 0, label: 'after' }]);
    expected.set('c-2#0', JSON.stringify('after'));
    expect(await current()).toEqual(expected);
    // idempotent: forcing it twice changes nothing but the file count
    expect(await labels.compact(G, true)).toBe(2);
    const once = await current();
    expect(await labels.compact(G, true)).toBe(0);
    expect(await current()).toEqual(once);
    expect(once).toEqual(expected);
  });

  it('survives a crash between storing the merged file and deleting its inputs', async () => {
    await new Labels(store, reader, join(dir, 'work'), { compactAfterFiles: 100 }).submit(G, [{ clientRequestId: 'c-3', rowIndex: 1, label: 'late' }]);
    expected.set('c-3#1', JSON.stringify('late'));
    const before = await fileCount();
    expect(before).toBe(2);
    // a store that dies at the first delete
    const crashing: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      delete: async () => {
        throw new Error('killed');
      },
    });
    const crashReader = new TableReader(crashing, new LocalMirror(crashing, join(dir, 'mirror-crash')));
    await expect(new Labels(crashing, crashReader, join(dir, 'work')).compact(G, true)).rejects.toThrow('killed');
    expect(await fileCount()).toBe(before + 1); // merged file stored, inputs still there
    expect(await current()).toEqual(expected);
    expect(await new Labels(store, reader, join(dir, 'work')).compact(G, true)).toBe(before + 1);
    expect(await fileCount()).toBe(1);
    expect(await current()).toEqual(expected);
    expect((await store.list(labelsPrefix(G))).length).toBe(1);
  });
});
