// The canary guard, specified: the rule on its own, and the evaluator against a real control
// plane — a v2 that answers 500 for half its requests through the real edge (whose
// per-version window the guard reads) is rolled back to 0% through the normal traffic path, with a WARNING event;
// a healthy canary, or one with too few requests, or a group whose guard is off, is left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanaryGuard, judgeCanary } from '../../control/domain/canary-guard.ts';
import { VersionStats } from '../../gateway/edge/version-stats.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { createServer } from 'node:http';
import type { DataPlaneModel } from '../../xds/model.ts';
import { dpVersion, post, row, startFakeRuntime, startStack } from '../edge/helpers.ts';

const S = { maxErrorRateDelta: 0.1, maxLatencyP99Ratio: 2, minRequests: 20 };

describe('judgeCanary', () => {
  it('rolls back on an error-rate gap or a p99 ratio past the margin, only with enough requests', () => {
    const base = { version: 'v1', requests: 100, errors: 1, p99Ms: 10 };
    expect(judgeCanary(S, { version: 'v2', requests: 40, errors: 20, p99Ms: 10 }, base).rollback).toBe(true);
    expect(judgeCanary(S, { version: 'v2', requests: 10, errors: 10, p99Ms: 10 }, base)).toEqual({ rollback: false, reason: 'too-few-requests' });
    expect(judgeCanary(S, { version: 'v2', requests: 40, errors: 2, p99Ms: 15 }, base)).toEqual({ rollback: false, reason: 'healthy' });
    expect(judgeCanary(S, { version: 'v2', requests: 40, errors: 0, p99Ms: 25 }, base).rollback).toBe(true);
  });

  it('the window counts 5xx as errors and computes p99 from the answers', () => {
    let t = 1_000_000;
    const stats = new VersionStats(() => t);
    for (let i = 0; i < 100; i++) stats.record('g', 'v1', i % 2 ? 200 : 503, i);
    t += 120_000;
    stats.record('g', 'v1', 200, 5);
    expect(stats.window('g', 60)).toEqual([expect.objectContaining({ version: 'v1', requests: 1, errors: 0, p99Ms: 5 })]);
    expect(stats.window('g', 300)[0]).toMatchObject({ requests: 101, errors: 50, p99Ms: 98 });
  });
});

describe('canary guard against the control plane', () => {
  let cp: TestControlPlane;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    for (const name of ['guarded', 'unguarded']) {
      const g = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation($i: CreateServiceGroupInput!) { createServiceGroup(input: $i) { id } }`, { i: { name } });
      ids[name] = g.data!.createServiceGroup.id;
      for (const [v, mv] of [['v1', '1'], ['v2', '2']]) {
        const r = await cp.gql<{ addServiceVersion: { id: string } }>(
          `mutation($g: ID!, $i: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $i) { id } }`,
          { g: ids[name], i: { name: v, model: { name: 'wine-classifier', version: mv } } },
        );
        ids[`${name}/${v}`] = r.data!.addServiceVersion.id;
        await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: ids[`${name}/${v}`] });
        await cp.settle();
      }
      await cp.gql(`mutation($g: ID!, $a: [TrafficAllocationInput!]!) { setTrafficAllocation(groupId: $g, allocations: $a) { id } }`, {
        g: ids[name],
        a: [{ versionId: ids[`${name}/v1`], percent: 80 }, { versionId: ids[`${name}/v2`], percent: 20 }],
      });
    }
    await cp.gql(`mutation($id: ID!, $i: UpdateServiceGroupInput!) { updateServiceGroup(id: $id, input: $i) { id } }`, {
      id: ids.guarded,
      i: { canaryGuard: { enabled: true, windowSeconds: 60, minRequests: 20 } },
    });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('a v2 answering 500 for half its requests goes to 0%, with a CanaryRolledBack event; the unguarded group is left alone', async () => {
    // the edge measures: v1 healthy, v2 failing every other request, 80/20 at the edge too
    let n = 0;
    const flaky = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const fail = n++ % 2 === 0;
        const body = fail ? '{"error":{"code":"INTERNAL","message":"boom"}}' : '{"predictions":["v2"]}';
        res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' }).end(body);
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const v1 = await startFakeRuntime('v1');
    const flakyPort = (flaky.address() as { port: number }).port;
    const edgeModel: DataPlaneModel = {
      groups: ['guarded', 'unguarded'].map((name) => ({
        groupId: `gid-${name}`,
        name,
        versions: [dpVersion({ name: 'v1', weight: 80, ports: [v1.port] }), dpVersion({ name: 'v2', weight: 20, ports: [flakyPort] })],
      })),
    };
    const stack = await startStack(edgeModel);
    try {
      const guard = new CanaryGuard({ deps: cp.plane.domain.deps, traffic: cp.plane.domain.traffic, stats: stack.edge.stats });
      const send = async (group: string, count: number) => {
        for (let i = 0; i < count; i++) await post(`${stack.url}/services/${group}/predict`, row(), { 'x-sluice-version': i % 5 === 0 ? 'v2' : 'v1' });
      };
      await send('guarded', 50);
      await send('unguarded', 50);
      // 10 canary requests so far: fewer than minRequests (20), nothing happens yet
      expect(await guard.evaluate()).toEqual([]);
      await send('guarded', 100);
      await send('unguarded', 100);
      expect(stack.edge.stats.window('guarded', 60).find((w) => w.version === 'v2')).toMatchObject({ requests: 30, errors: 15 });
    const done = await guard.evaluate();
    expect(done).toEqual([expect.objectContaining({ group: 'guarded', version: 'v2' })]);
    const versions = await cp.db.prisma.serviceVersion.findMany({ where: { groupId: { in: [ids.guarded!, ids.unguarded!] } }, include: { group: true } });
    const share = Object.fromEntries(versions.map((v) => [`${v.group.name}/${v.name}`, v.trafficPercent]));
    expect(share).toEqual({ 'guarded/v1': 100, 'guarded/v2': 0, 'unguarded/v1': 80, 'unguarded/v2': 20 });
    const events = await cp.db.prisma.event.findMany({ where: { groupId: ids.guarded, reason: 'CanaryRolledBack' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ level: 'WARNING', versionId: ids['guarded/v2'] });
    const audit = await cp.db.prisma.auditLog.findFirst({ where: { action: 'setTrafficAllocation', resourceId: ids.guarded, actorName: 'canary-guard' } });
    expect(audit).not.toBeNull();
    // nothing left to judge: one version holds all traffic
    expect(await guard.evaluate()).toEqual([]);
    } finally {
      await stack.close();
      await v1.close();
      await new Promise((r) => flaky.close(r));
    }
  });
});
