// The main models round-trip through both providers with the same API and the same results:
// relations, Json, enums, BigInt, unique violations (P2002), cascades, interactive
// transactions, and the statement counter N+1 tests rely on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrismaError, isUniqueViolation } from '../../platform/db/errors.ts';
import { freshDatabase, providers, type TestDatabase } from '../fixtures/db.ts';

describe.each(providers)('round trip on %s', (provider) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase(provider);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function project(name: string) {
    return db.prisma.project.create({ data: { name } });
  }

  it('reports its provider', () => {
    expect(db.provider).toBe(provider);
  });

  it('stores a service group with two versions, Json fields and enums', async () => {
    const p = await project('rt-project');
    const group = await db.prisma.serviceGroup.create({
      data: {
        name: 'wine-quality',
        type: 'MODEL_SERVICE',
        projectId: p.id,
        versions: {
          create: [
            { name: 'v1', modelSource: 'REGISTRY', modelName: 'wine-classifier', modelVersion: '1', trafficPercent: 80, status: 'RUNNING' },
            {
              name: 'v2',
              modelSource: 'IMAGE',
              image: 'ghcr.io/acme/model:2',
              command: ['python', '-m', 'serve', '--port', '9000'],
              env: [{ name: 'THREADS', value: '4' }, { name: 'MODE', value: 'fast' }],
              port: 9000,
              trafficPercent: 20,
              resourceSource: 'DEDICATED',
              cpu: 2.5,
              inferenceSampleRate: 0.25,
            },
          ],
        },
      },
    });
    const loaded = await db.prisma.serviceGroup.findUniqueOrThrow({
      where: { id: group.id },
      include: { versions: { orderBy: { name: 'asc' } } },
    });
    expect(loaded.status).toBe('DRAFT');
    expect(loaded.versions.map((v) => [v.name, v.trafficPercent, v.status])).toEqual([
      ['v1', 80, 'RUNNING'],
      ['v2', 20, 'DRAFT'],
    ]);
    const v2 = loaded.versions[1]!;
    expect(v2.command).toEqual(['python', '-m', 'serve', '--port', '9000']);
    expect(v2.env).toEqual([{ name: 'THREADS', value: '4' }, { name: 'MODE', value: 'fast' }]);
    expect(v2.resourceSource).toBe('DEDICATED');
    expect(v2.cpu).toBe(2.5);
    expect(v2.inferenceSampleRate).toBe(0.25);
    expect(v2.createdAt).toBeInstanceOf(Date);
    expect(loaded.versions[0]!.command).toBeNull();

    // Filtering on an enum and counting through a relation work the same on both.
    expect(await db.prisma.serviceVersion.count({ where: { groupId: group.id, status: 'RUNNING' } })).toBe(1);
    const sum = await db.prisma.serviceVersion.aggregate({ where: { groupId: group.id }, _sum: { trafficPercent: true } });
    expect(sum._sum.trafficPercent).toBe(100);
  });

  it('keeps BigInt memoryBytes beyond 2^53 exactly', async () => {
    const p = await project('bigint-project');
    const g = await db.prisma.serviceGroup.create({ data: { name: 'bigint-group', projectId: p.id } });
    const v = await db.prisma.serviceVersion.create({ data: { groupId: g.id, name: 'v1', modelSource: 'REGISTRY' } });
    const big = 2n ** 60n + 7n;
    const inst = await db.prisma.instance.create({ data: { versionId: v.id, name: 'bigint-group-v1-0', memoryBytes: big, cpuMillicores: 250.5 } });
    const back = await db.prisma.instance.findUniqueOrThrow({ where: { id: inst.id } });
    expect(back.memoryBytes).toBe(big);
    expect(back.state).toBe('WAITING');
    expect(back.cpuMillicores).toBe(250.5);
  });

  it('stores Json of every shape (objects, arrays, nested, null inside)', async () => {
    const signature = { inputs: [{ name: 'alcohol', type: 'float' }], outputs: [{ name: 'label', type: 'int64' }], extra: { nested: [1, 2.5, null, true, 'x'] } };
    const m = await db.prisma.registeredModel.create({
      data: { name: 'json-model', versions: { create: { version: '1', artifactUri: 'models/json-model/1/model.onnx', signature } } },
      include: { versions: true },
    });
    expect(m.versions[0]!.signature).toEqual(signature);
    const rg = await db.prisma.resourceGroup.create({ data: { name: 'json-rg', tags: [{ key: 'team', value: 'ml' }] } });
    expect((await db.prisma.resourceGroup.findUniqueOrThrow({ where: { id: rg.id } })).tags).toEqual([{ key: 'team', value: 'ml' }]);
    await db.prisma.auditLog.create({ data: { actorName: 'admin', action: 'create', resourceKind: 'ResourceGroup', resourceId: rg.id, after: { name: 'json-rg' } } });
    const log = await db.prisma.auditLog.findFirstOrThrow({ where: { resourceId: rg.id } });
    expect(log.after).toEqual({ name: 'json-rg' });
    expect(log.before).toBeNull();
  });

  it('reports unique violations as P2002, single-column and composite', async () => {
    await db.prisma.user.create({ data: { username: 'alice' } });
    const single = await db.prisma.user.create({ data: { username: 'alice' } }).catch((e: unknown) => e);
    expect(isUniqueViolation(single)).toBe(true);
    expect(isPrismaError(single, 'P2002')).toBe(true);

    const p = await project('unique-project');
    const g = await db.prisma.serviceGroup.create({ data: { name: 'unique-group', projectId: p.id } });
    await db.prisma.serviceVersion.create({ data: { groupId: g.id, name: 'v1', modelSource: 'REGISTRY' } });
    const composite = await db.prisma.serviceVersion.create({ data: { groupId: g.id, name: 'v1', modelSource: 'MLFLOW' } }).catch((e: unknown) => e);
    expect(isUniqueViolation(composite)).toBe(true);
    expect(isUniqueViolation(new Error('not prisma'))).toBe(false);
  });

  it('reports a missing row as P2025', async () => {
    const err = await db.prisma.user.update({ where: { username: 'nobody' }, data: { disabled: true } }).catch((e: unknown) => e);
    expect(isPrismaError(err, 'P2025')).toBe(true);
  });

  it('cascades deletes declared in the schema', async () => {
    const p = await project('cascade-project');
    const g = await db.prisma.serviceGroup.create({
      data: { name: 'cascade-group', projectId: p.id, versions: { create: { name: 'v1', modelSource: 'REGISTRY', instances: { create: { name: 'cascade-group-v1-0' } } } } },
    });
    await db.prisma.apiKey.create({ data: { groupId: g.id, prefix: 'sk_abc', hash: `hash-${provider}-cascade` } });
    await db.prisma.serviceGroup.delete({ where: { id: g.id } });
    expect(await db.prisma.serviceVersion.count({ where: { groupId: g.id } })).toBe(0);
    expect(await db.prisma.instance.count({ where: { name: 'cascade-group-v1-0' } })).toBe(0);
    expect(await db.prisma.apiKey.count({ where: { groupId: g.id } })).toBe(0);
    // ServiceGroup -> Project has no cascade: deleting a project with groups is refused.
    await db.prisma.serviceGroup.create({ data: { name: 'cascade-group-2', projectId: p.id } });
    const refused = await db.prisma.project.delete({ where: { id: p.id } }).catch((e: unknown) => e);
    expect(isPrismaError(refused, 'P2003')).toBe(true);
  });

  it('commits and rolls back interactive transactions', async () => {
    await db.prisma.$transaction(async (tx) => {
      await tx.user.create({ data: { username: 'tx-commit' } });
      await tx.user.update({ where: { username: 'tx-commit' }, data: { displayName: 'Committed' } });
    });
    expect((await db.prisma.user.findUniqueOrThrow({ where: { username: 'tx-commit' } })).displayName).toBe('Committed');

    const boom = new Error('abort');
    await expect(
      db.prisma.$transaction(async (tx) => {
        await tx.user.create({ data: { username: 'tx-rollback' } });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await db.prisma.user.findUnique({ where: { username: 'tx-rollback' } })).toBeNull();

    // A unique violation inside a transaction rolls back the earlier writes too.
    const err = await db.prisma
      .$transaction(async (tx) => {
        await tx.user.create({ data: { username: 'tx-partial' } });
        await tx.user.create({ data: { username: 'tx-commit' } });
      })
      .catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(await db.prisma.user.findUnique({ where: { username: 'tx-partial' } })).toBeNull();
  });

  it('isolates an open transaction from the rest of the process', async () => {
    let inside!: () => void;
    const insideDone = new Promise<void>((r) => (inside = r));
    let finish!: () => void;
    const mayFinish = new Promise<void>((r) => (finish = r));
    const tx = db.prisma
      .$transaction(async (t) => {
        await t.user.create({ data: { username: 'iso-in-tx' } });
        inside();
        await mayFinish;
        throw new Error('roll back');
      })
      .catch((e: unknown) => e);
    await insideDone;
    // Outside the transaction: no uncommitted rows, and a write that must survive the rollback.
    const seen = db.prisma.user.findUnique({ where: { username: 'iso-in-tx' } });
    const written = db.prisma.user.create({ data: { username: 'iso-outside' } });
    finish();
    expect(await seen).toBeNull();
    await written;
    expect(await tx).toBeInstanceOf(Error);
    expect(await db.prisma.user.findUnique({ where: { username: 'iso-in-tx' } })).toBeNull();
    expect(await db.prisma.user.findUnique({ where: { username: 'iso-outside' } })).not.toBeNull();
  });

  it('runs concurrent transactions without losing writes', async () => {
    const ev = await db.prisma.event.create({ data: { resourceKind: 'Group', resourceName: 'g', reason: 'Tick', message: 'tick' } });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        db.prisma.$transaction(async (tx) => {
          await tx.event.update({ where: { id: ev.id }, data: { count: { increment: 1 } } });
          await tx.auditLog.create({ data: { actorName: `worker-${i}`, action: 'tick', resourceKind: 'Event', resourceId: ev.id } });
        }),
      ),
    );
    expect((await db.prisma.event.findUniqueOrThrow({ where: { id: ev.id } })).count).toBe(9);
    expect(await db.prisma.auditLog.count({ where: { resourceId: ev.id } })).toBe(8);
  });

  it('counts SQL statements: an include costs a fixed number of queries whatever the row count', async () => {
    const p = await project('count-project');
    for (let i = 0; i < 5; i++) {
      await db.prisma.serviceGroup.create({
        data: { name: `count-${i}`, projectId: p.id, versions: { create: [{ name: 'a', modelSource: 'REGISTRY' }, { name: 'b', modelSource: 'REGISTRY' }] } },
      });
    }
    const before = db.queryCount();
    await db.prisma.user.findMany();
    expect(db.queryCount() - before).toBe(1);

    const measure = async (take: number) => {
      const start = db.queryCount();
      const groups = await db.prisma.serviceGroup.findMany({ where: { projectId: p.id }, take, include: { versions: true } });
      expect(groups).toHaveLength(take);
      return db.queryCount() - start;
    };
    const one = await measure(1);
    const five = await measure(5);
    expect(one).toBeGreaterThanOrEqual(1);
    expect(five).toBe(one);

    // The N+1 shape really is visible: one query per group.
    const start = db.queryCount();
    const groups = await db.prisma.serviceGroup.findMany({ where: { projectId: p.id } });
    for (const g of groups) await db.prisma.serviceVersion.findMany({ where: { groupId: g.id } });
    expect(db.queryCount() - start).toBe(1 + groups.length);
  });
});
