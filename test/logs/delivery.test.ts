// Log delivery: a version with the switch on gets its stored instance logs in the object
// store as gzipped NDJSON under instance-logs/{group}/{version}/dt=…/hour=…/, every line
// exactly once — through store outages (including one between two objects of a batch) and a
// restarted shipper — and a version with the switch off ships nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LogStore } from '../../control/logs/store.ts';
import { LogDelivery } from '../../control/logs/delivery.ts';
import { openObjectStore } from '../../platform/objectstore/open.ts';
import { ObjectStoreError, type ObjectStore } from '../../platform/objectstore/port.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';

let db: TestDatabase;
let dir: string;
let on: string;
let off: string;

beforeAll(async () => {
  db = await freshDatabase('sqlite');
  dir = mkdtempSync(join(tmpdir(), 'sluice-delivery-'));
  const project = await db.prisma.project.create({ data: { name: 'p' } });
  const group = await db.prisma.serviceGroup.create({
    data: {
      name: 'shop', projectId: project.id,
      versions: { create: [{ name: 'v1', modelSource: 'REGISTRY', logDeliveryEnabled: true }, { name: 'v2', modelSource: 'REGISTRY', logDeliveryEnabled: false }] },
    },
    include: { versions: true },
  });
  on = group.versions.find((v) => v.name === 'v1')!.id;
  off = group.versions.find((v) => v.name === 'v2')!.id;
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A store that fails the next `failures` puts, then works. */
function flaky(inner: ObjectStore): ObjectStore & { failures: number } {
  const s = Object.create(inner) as ObjectStore & { failures: number };
  s.failures = 0;
  s.put = async (key, body, type) => {
    if (s.failures > 0) {
      s.failures--;
      throw new ObjectStoreError('STORE_UNAVAILABLE', 'simulated outage', key);
    }
    return inner.put(key, body, type);
  };
  return s;
}

it('ships every line exactly once, partitioned by hour, through outages and a restart', async () => {
  const store = new LogStore({ root: join(dir, 'logs'), segmentBytes: 4096 });
  const objects = flaky(openObjectStore(`file://${join(dir, 'objects')}`));
  // the hour turns at line 320: the first batch after the first outage spans it
  const hour = Date.UTC(2026, 11, 1, 9, 58, 56);
  const lines = Array.from({ length: 600 }, (_, i) => ({ time: new Date(hour + i * 200), instance: `shop-v1-${i % 2}`, stream: 'stdout' as const, line: `line ${i}\twith a tab` }));
  for (let i = 0; i < 300; i += 50) store.append(on, lines.slice(i, i + 50));
  store.append(off, [{ time: new Date(hour), instance: 'shop-v2-0', stream: 'stderr', line: 'not shipped' }]);

  const first = new LogDelivery({ store, objects, prisma: db.prisma, maxBatchBytes: 3000 });
  objects.failures = 3;
  await first.runOnce(); // fails at once, nothing moves
  await first.runOnce();
  await first.runOnce();
  await first.runOnce(); // store back: catches up
  for (let i = 300; i < 600; i += 50) store.append(on, lines.slice(i, i + 50));
  // a batch that spans the hour: its first object is stored, the second fails
  let puts = 0;
  const halfway = Object.create(objects) as ObjectStore;
  halfway.put = async (key, body, type) => {
    if (++puts === 2) throw new ObjectStoreError('STORE_UNAVAILABLE', 'outage mid-batch', key);
    return objects.put(key, body, type);
  };
  await new LogDelivery({ store, objects: halfway, prisma: db.prisma, maxBatchBytes: 3000 }).runOnce();
  expect(puts).toBe(2);
  expect((await objects.list('instance-logs/shop/v1/dt=2026-12-01/hour=10/')).length).toBe(0);
  // a new shipper (a restarted control plane) resumes from the saved cursor
  await new LogDelivery({ store: new LogStore({ root: join(dir, 'logs'), segmentBytes: 4096 }), objects, prisma: db.prisma, maxBatchBytes: 3000 }).runOnce();

  const keys = (await objects.list('instance-logs/')).map((o) => o.key);
  expect(keys.every((k) => /^instance-logs\/shop\/v1\/dt=2026-12-01\/hour=(09|10)\/\d{10}-\d{12}\.ndjson\.gz$/.test(k))).toBe(true);
  expect(keys.some((k) => k.includes('hour=09'))).toBe(true);
  expect(keys.some((k) => k.includes('hour=10'))).toBe(true);
  const shipped: { line: string; instance: string; time: string; group: string; version: string }[] = [];
  for (const k of keys) {
    for (const row of gunzipSync((await objects.get(k)).body).toString('utf8').split('\n').filter(Boolean)) shipped.push(JSON.parse(row));
  }
  expect(shipped.map((r) => r.line).sort()).toEqual(lines.map((l) => l.line).sort());
  expect(new Set(shipped.map((r) => r.line)).size).toBe(600);
  expect(shipped[0]).toMatchObject({ group: 'shop', version: 'v1' });
  for (const r of shipped) expect(keys.find((k) => k.includes(`hour=${r.time.slice(11, 13)}`))).toBeDefined();
});

it('removes the stored logs of a version that was deleted', async () => {
  const store = new LogStore({ root: join(dir, 'logs') });
  store.append('ver-deleted-long-ago', [{ time: new Date(), instance: 'x-0', stream: 'stdout', line: 'orphan' }]);
  expect(store.versionIds()).toContain('ver-deleted-long-ago');
  await new LogDelivery({ store, objects: openObjectStore(`file://${join(dir, 'objects')}`), prisma: db.prisma }).runOnce();
  expect(store.versionIds()).not.toContain('ver-deleted-long-ago');
  expect(store.versionIds()).toContain(on);
});
