// The schedule: a group with the table on runs every default interval, a per-group schedule
// overrides it (and `enabled: false` stops it), and a run is never started twice at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { InferenceService } from '../../control/inference/service.ts';
import { InferenceScheduler } from '../../control/inference/scheduler.ts';
import { HELDOUT, putLogObject, record, seedGroup } from './helpers.ts';

describe('inference table schedule', () => {
  let db: TestDatabase;
  let dir: string;
  let service: InferenceService;
  let store: FsObjectStore;
  let groupId: string;
  let now = new Date('2026-06-01T10:00:00Z');

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'sluice-sched-'));
    store = new FsObjectStore(join(dir, 'objects'));
    service = new InferenceService({ prisma: db.prisma, store, pubsub: createMemoryPubSub(), secrets: { seal: (s) => s, open: (s) => s }, workDir: join(dir, 'work'), now: () => now });
    ({ groupId } = await seedGroup(db.prisma, 'sched'));
  }, 60_000);

  afterAll(async () => {
    await service.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs on the default interval, then on the group schedule, and not when disabled', async () => {
    const scheduler = new InferenceScheduler({ prisma: db.prisma, service, defaultIntervalSeconds: 300, now: () => now });
    const runs = () => db.prisma.inferenceJobRun.count({ where: { groupId, trigger: 'SCHEDULE' } });
    await putLogObject(store, [record('sched', { rows: [HELDOUT.rows[0]!] })]);
    await scheduler.tick();
    expect(await runs()).toBe(1);
    expect((await service.tableInfo(groupId)).rowCount).toBe(1);
    now = new Date(now.getTime() + 60_000);
    await scheduler.tick();
    expect(await runs()).toBe(1); // not due yet
    now = new Date(now.getTime() + 300_000);
    await scheduler.tick();
    expect(await runs()).toBe(2);
    await db.prisma.inferenceSchedule.create({ data: { groupId, intervalSeconds: 30, lastRunAt: now } });
    now = new Date(now.getTime() + 31_000);
    await scheduler.tick();
    expect(await runs()).toBe(3);
    await db.prisma.inferenceSchedule.update({ where: { groupId }, data: { enabled: false } });
    now = new Date(now.getTime() + 3600_000);
    await scheduler.tick();
    expect(await runs()).toBe(3);
    await scheduler.close();
  });
});
