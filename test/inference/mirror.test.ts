// DuckDB reads local files only: the table's objects reach it through LocalMirror, straight
// from a store whose objects are files, downloaded once per version from an S3 API store.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalMirror } from '../../control/inference/mirror.ts';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { startS3rver, type S3Fixture } from '../objectstore/s3rver-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-mirror-'));
let s3: S3Fixture;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('LocalMirror', () => {
  it('hands out the folder store’s own files and copies nothing', async () => {
    const store = new FsObjectStore(join(dir, 'objects'));
    await store.put('tables/g/version=v1/dt=2026-12-01/a.parquet', Buffer.from('one'));
    const mirror = new LocalMirror(store, join(dir, 'cache-fs'));
    const [info] = await store.list('tables/g/');
    const [path] = await mirror.paths([info!]);
    expect(path).toBe(store.localPath('tables/g/version=v1/dt=2026-12-01/a.parquet'));
    expect(readFileSync(path!, 'utf8')).toBe('one');
    await mirror.clear();
    expect(readFileSync(path!, 'utf8')).toBe('one');
  });

  it('downloads an S3 object once per version into the same Hive folders, and again when it changes', async () => {
    const store = s3.store('mirror/');
    const key = 'tables/g/version=v1/dt=2026-12-01/a.parquet';
    await store.put(key, Buffer.from('first'));
    const cache = join(dir, 'cache-s3');
    const mirror = new LocalMirror(store, cache);
    const first = (await store.list('tables/g/'))[0]!;
    const [path] = await mirror.paths([first]);
    expect(path).toBe(join(cache, 'tables', 'g', 'version=v1', 'dt=2026-12-01', 'a.parquet'));
    expect(readFileSync(path!, 'utf8')).toBe('first');
    // the same version again is not fetched: a changed file on disk stays as it is
    await store.put(key, Buffer.from('second, longer'));
    const second = (await store.list('tables/g/'))[0]!;
    expect(second.size).not.toBe(first.size);
    await mirror.paths([first]);
    expect(readFileSync(path!, 'utf8')).toBe('first');
    // a new version is
    await mirror.paths([second]);
    expect(readFileSync(path!, 'utf8')).toBe('second, longer');
    await mirror.clear();
    expect(() => readFileSync(path!)).toThrow();
  });
});
