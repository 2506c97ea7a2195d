// The gateway's database policy source while the database cannot be read: version policies
// stay as last read, a known API key is still answered from its last lookup (an unknown one
// is refused with the database's error), every failed read is reported, and a change made
// during the outage is picked up by itself once the database answers again (the refresh is
// retried, not dropped). The outage is switched on at the Prisma client's boundary: every
// model call rejects as a stopped server makes it reject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { DatabasePolicySource } from '../../gateway/policy/database.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { createMemoryPubSub } from '../../platform/pubsub/memory.ts';
import { topics } from '../../platform/pubsub/port.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';

/** The client with a switch: while `down`, every model call rejects like an unreachable server. */
function withOutage(prisma: PrismaClient): { prisma: PrismaClient; setDown(down: boolean): void } {
  let down = false;
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver) as unknown;
        if (typeof value === 'function') {
          return (...args: unknown[]) => {
            if (down) return Promise.reject(Object.assign(new Error("Can't reach database server"), { code: 'P1001' }));
            return (value as (...a: unknown[]) => unknown).apply(t, args);
          };
        }
        return value;
      },
    });
  const models = new Map<PropertyKey, unknown>();
  const client = new Proxy(prisma, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver) as unknown;
      if (typeof value === 'object' && value !== null && (prop === 'serviceVersion' || prop === 'apiKey')) {
        if (!models.has(prop)) models.set(prop, wrap(value));
        return models.get(prop);
      }
      return value;
    },
  });
  return { prisma: client, setDown: (d) => (down = d) };
}

describe('policy source: the database goes away and comes back', () => {
  let db: TestDatabase;
  let source: DatabasePolicySource;
  const pubsub = createMemoryPubSub();
  const errors: string[] = [];
  let outage: ReturnType<typeof withOutage>;
  const hash = createHash('sha256').update('sk-known').digest('hex');

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    const project = await db.prisma.project.create({ data: { name: 'outage' } });
    const group = await db.prisma.serviceGroup.create({ data: { name: 'wine', projectId: project.id, status: 'RUNNING' } });
    await db.prisma.serviceVersion.create({ data: { groupId: group.id, name: 'v1', modelSource: 'REGISTRY', status: 'RUNNING', qpsLimit: 10 } });
    await db.prisma.apiKey.create({ data: { name: 'k', prefix: 'sk-kn', hash, groupId: group.id } });
    outage = withOutage(db.prisma);
    source = new DatabasePolicySource({ prisma: outage.prisma, pubsub, retryMs: 50, onError: (what) => errors.push(what) });
    await source.start();
  });
  afterAll(async () => {
    await source?.close();
    await db?.drop();
  });

  it('serves the last policies and known keys while down, and catches up by itself when back', async () => {
    expect(source.versionPolicies('wine').map((p) => p.qpsLimit)).toEqual([10]);
    expect((await source.findApiKey(hash))?.groupName).toBe('wine');

    outage.setDown(true);
    // a change lands while the gateway cannot read it
    await db.prisma.serviceVersion.updateMany({ where: { name: 'v1' }, data: { qpsLimit: 25 } });
    await pubsub.publish(topics.dataPlane, { reason: 'test' } as never);
    await new Promise((r) => setTimeout(r, 200));
    expect(source.versionPolicies('wine').map((p) => p.qpsLimit)).toEqual([10]);
    expect((await source.findApiKey(hash))?.groupName).toBe('wine');
    await expect(source.findApiKey(createHash('sha256').update('sk-never-seen').digest('hex'))).rejects.toThrow(/reach database/);
    expect(errors).toContain('refresh');
    expect(errors).toContain('api-key');

    outage.setDown(false);
    const deadline = Date.now() + 5000;
    while (source.versionPolicies('wine')[0]?.qpsLimit !== 25 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(source.versionPolicies('wine').map((p) => p.qpsLimit)).toEqual([25]);
  });
});
