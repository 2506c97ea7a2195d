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
