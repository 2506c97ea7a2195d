// The object-store port against both implementations: a folder on disk and a real S3 API
// server (s3rver), plus URL parsing and the typed errors.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { openObjectStore } from '../../platform/objectstore/open.ts';
import { isObjectStoreError, type ObjectStore } from '../../platform/objectstore/port.ts';
import { S3ObjectStore } from '../../platform/objectstore/s3.ts';
import { startS3rver, type S3Fixture } from './s3rver-fixture.ts';

const expectCode = async (p: Promise<unknown>, code: string) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isObjectStoreError(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
};

function contract(name: string, make: () => ObjectStore, keepsContentType: boolean) {
  describe(name, () => {
    let store: ObjectStore;
    beforeAll(() => {
      store = make();
    });

    it('puts, gets, overwrites and deletes', async () => {
      await store.put('a/b/c.txt', Buffer.from('one'), 'text/plain');
      const got = await store.get('a/b/c.txt');
      expect(got.body.toString()).toBe('one');
      expect(got.contentType).toBe('text/plain');
      await store.put('a/b/log.ndjson.gz', Buffer.from('x'), 'application/x-ndjson');
      expect((await store.get('a/b/log.ndjson.gz')).contentType).toBe('application/x-ndjson');
      await store.put('a/b/odd', Buffer.from('x'), 'application/x-odd');
      expect((await store.get('a/b/odd')).contentType).toBe(keepsContentType ? 'application/x-odd' : undefined);
      await store.put('a/b/c.txt', Buffer.from('two'));
      expect((await store.get('a/b/c.txt')).body.toString()).toBe('two');
      await store.delete('a/b/c.txt');
      await expectCode(store.get('a/b/c.txt'), 'OBJECT_NOT_FOUND');
      await store.delete('a/b/c.txt'); // absent: not an error
    });

    it('lists by prefix, sorted, across folders and partial names', async () => {
      const keys = ['logs/g/v1/dt=2026-01-01/hour=00/x.gz', 'logs/g/v1/dt=2026-01-01/hour=01/y.gz', 'logs/g/v2/z.gz', 'other/q'];
      for (const k of keys) await store.put(k, Buffer.from(k));
      expect((await store.list('logs/g/v1/')).map((o) => o.key)).toEqual(keys.slice(0, 2));
      expect((await store.list('logs/g/v')).map((o) => o.key)).toEqual(keys.slice(0, 3));
      expect((await store.list('logs/g/v1/dt=2026-01-01/hour=0')).map((o) => o.key)).toEqual(keys.slice(0, 2));
      expect(await store.list('nothing/')).toEqual([]);
      const one = (await store.list('other/'))[0];
      expect(one?.size).toBe(Buffer.byteLength('other/q'));
      expect(one?.lastModified).toBeInstanceOf(Date);
    });

    it('refuses keys that escape the bucket', async () => {
      await expectCode(store.put('../evil', Buffer.from('x')), 'BAD_OBJECT_KEY');
      await expectCode(store.put('/abs', Buffer.from('x')), 'BAD_OBJECT_KEY');
      await expectCode(store.get('a//b'), 'BAD_OBJECT_KEY');
    });

    it('stores binary bodies byte for byte', async () => {
      const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
      await store.put('bin/blob', body, 'application/octet-stream');
      expect((await store.get('bin/blob')).body.equals(body)).toBe(true);
    });

    it('stores a file streamed by putFile byte for byte', async () => {
      // the SDK's default streamed upload (aws-chunked with a CRC trailer) reached s3rver as
      // the body itself: the object came back longer, framing included
      const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256));
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-putfile-')), 'blob');
      writeFileSync(file, body);
      await store.putFile('bin/streamed', file, 'application/octet-stream');
      const got = (await store.get('bin/streamed')).body;
      expect(got.length).toBe(body.length);
      expect(got.equals(body)).toBe(true);
      rmSync(path.dirname(file), { recursive: true, force: true });
    });
  });
}

const fsRoot = mkdtempSync(path.join(tmpdir(), 'sluice-objfs-'));
let s3: S3Fixture;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.dispose();
  rmSync(fsRoot, { recursive: true, force: true });
});

contract('fs store', () => new FsObjectStore(fsRoot), false);
contract('s3 store (s3rver)', () => s3.store('pre/fix'), true);

describe('fs store specifics', () => {
  it('leaves no temp files behind and never lists them', async () => {
    const store = new FsObjectStore(fsRoot);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('race/k', Buffer.from(`v${i}`))));
    expect(readdirSync(path.join(fsRoot, 'race')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect((await store.list('race/')).map((o) => o.key)).toEqual(['race/k']);
    expect((await store.get('race/k')).body.toString()).toMatch(/^v\d+$/);
  });
});

describe('s3 store specifics', () => {
  it('keeps the prefix inside the bucket and answers STORE_UNAVAILABLE when the server is down', async () => {
    const a = s3.store('tenant-a');
    const b = s3.store('tenant-b');
    await a.put('k', Buffer.from('a'));
    await expectCode(b.get('k'), 'OBJECT_NOT_FOUND');
    const dead = new S3ObjectStore({
      bucket: 'x',
      client: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    });
    await expectCode(dead.put('k', Buffer.from('x')), 'STORE_UNAVAILABLE');
    await expectCode(dead.list(''), 'STORE_UNAVAILABLE');
    dead.close();
  });
});

describe('openObjectStore', () => {
  it('parses file:// (absolute and relative) and s3://bucket/prefix', () => {
    const f = openObjectStore(`file://${fsRoot}`);
    expect(f).toBeInstanceOf(FsObjectStore);
    expect((f as FsObjectStore).root).toBe(fsRoot);
    expect((openObjectStore('file://./.sluice/objects') as FsObjectStore).root).toBe(path.resolve('.sluice/objects'));
    const s = openObjectStore('s3://my-bucket/some/prefix', { s3Endpoint: 'http://127.0.0.1:9' });
    expect(s).toBeInstanceOf(S3ObjectStore);
    expect(s.description).toBe('s3://my-bucket/some/prefix at http://127.0.0.1:9');
    (s as S3ObjectStore).close();
  });
  it('refuses other schemes and bucketless URLs with a typed error', () => {
    for (const bad of ['http://x/y', 's3:///nobucket', 'not a url', 'file://']) {
      let err: unknown;
      try {
        openObjectStore(bad);
      } catch (e) {
        err = e;
      }
      expect(isObjectStoreError(err, 'BAD_OBJECT_KEY')).toBe(true);
    }
  });
  it('reads S3_ENDPOINT from the environment', async () => {
    const store = openObjectStore(`s3://${s3.bucket}/env`, { env: { S3_ENDPOINT: s3.endpoint } });
    expect(store.description).toContain(s3.endpoint);
    (store as S3ObjectStore).close();
  });
});
