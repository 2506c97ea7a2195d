// Failures are told, not kept in memory: a report the lifecycle cannot apply reaches its
// error listeners (main.ts logs it and records a LifecycleError event), and a failed xDS
// rebuild reaches the publisher's onError (logged, SnapshotFailed event) while the last good
// snapshot keeps serving.
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../control/domain/lifecycle.ts';
import type { DomainDeps } from '../../control/domain/deps.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { createXdsControl } from '../../xds/publisher.ts';
import { xdsSettingsFromEnv } from '../../xds/settings.ts';

describe('failures are visible', () => {
  it('hands a report the lifecycle cannot apply to its error listeners', async () => {
    const broken = { serviceVersion: { findUnique: async () => { throw new Error('database is locked'); } } };
    const lifecycle = new Lifecycle({ prisma: broken, pubsub: createMemoryPubSub(), now: () => new Date() } as unknown as DomainDeps);
    const told: [string, string][] = [];
    lifecycle.onError((error, report) => told.push([(error as Error).message, report.type]));
    lifecycle.enqueue({ type: 'version', versionId: 'v-1', status: 'RUNNING' });
    await lifecycle.idle();
    expect(told).toEqual([['database is locked', 'version']]);
  });

  it('applies a report that met an unreachable database once it answers, in order, instead of dropping it', async () => {
    // PostgreSQL frozen: the first three reads time out the way node-postgres says so
    let failuresLeft = 3;
    const applied: string[] = [];
    const prisma = {
      serviceVersion: {
        findUnique: async () => {
          if (failuresLeft-- > 0) throw new Error('Query read timeout');
          return { id: 'v-1', groupId: 'g-1', status: 'RUNNING' };
        },
      },
      $transaction: async () => { applied.push('transition'); },
      event: { upsert: async ({ create }: { create: { reason: string } }) => { applied.push(create.reason); return { id: `e-${applied.length}`, ...create }; } },
    };
    const lifecycle = new Lifecycle({ prisma, pubsub: createMemoryPubSub(), now: () => new Date() } as unknown as DomainDeps, () => 5);
    const told: unknown[] = [];
    const retries: number[] = [];
    lifecycle.onError((error) => told.push(error));
    lifecycle.onRetry((_error, _report, attempt) => retries.push(attempt));
    lifecycle.enqueue({ type: 'event', versionId: 'v-1', level: 'WARNING', resourceKind: 'Instance', resourceName: 'i-1', reason: 'BackOff', message: 'first' });
    lifecycle.enqueue({ type: 'event', versionId: 'v-1', level: 'NORMAL', resourceKind: 'Instance', resourceName: 'i-1', reason: 'Started', message: 'second' });
    await lifecycle.idle();
    expect(told).toEqual([]);
    expect(retries).toEqual([1, 2, 3]);
    expect(applied).toEqual(['BackOff', 'Started']);
  });

  it('gives up waiting for the database at shutdown and tells the error listeners', async () => {
    const prisma = { serviceVersion: { findUnique: async () => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }); } } };
    const lifecycle = new Lifecycle({ prisma, pubsub: createMemoryPubSub(), now: () => new Date() } as unknown as DomainDeps, () => 60_000);
    const told: string[] = [];
    lifecycle.onError((error) => told.push((error as Error).message));
    lifecycle.enqueue({ type: 'version', versionId: 'v-1', status: 'RUNNING' });
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await lifecycle.shutdown();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(told).toEqual(['connect ECONNREFUSED 127.0.0.1:5432']);
  });

  it('reports a failed xDS rebuild through onError', async () => {
    const errors: string[] = [];
    const xds = createXdsControl({
      loadModel: async () => { throw new Error('model query failed'); },
      settings: xdsSettingsFromEnv({}).dataPlane,
      onError: (err) => errors.push(err.message),
    });
    xds.trigger();
    await xds.settled();
    expect(errors).toEqual(['model query failed']);
    await xds.close();
  });
});
