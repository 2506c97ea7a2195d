// Autoscaling, specified: the rule (targets → replicas within bounds; a cold request gets a
// first replica), the local autoscaler against a real control plane with a controlled clock
// (a load that doubles concurrency scales 1 → 2, and back down only after the cool-down,
// through the normal version update, with events; a scaled-to-zero version gets its first
// replica when a request waits for it), and the Kubernetes rendering (a HorizontalPodAutoscaler
// with the same bounds instead of a fixed replica count).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Autoscaler, desiredReplicas } from '../../control/orchestrator/autoscaler.ts';
import { defaultManifestOptions, orderedObjects, renderManifests } from '../../control/orchestrator/kubernetes/manifests.ts';
import type { VersionDeployment } from '../../control/orchestrator/port.ts';
import { VersionStats } from '../../gateway/edge/version-stats.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { dpVersion, post, row, sleep, startFakeRuntime, startStack, type FakeRuntime, type Stack } from '../edge/helpers.ts';

const SPEC = { minReplicas: 1, maxReplicas: 3, targetConcurrency: 2, targetQps: null, cooldownSeconds: 60 };

describe('desiredReplicas', () => {
  it('follows the target within the bounds', () => {
    expect(desiredReplicas(SPEC, { concurrency: 2, qps: 0, coldStarts: 0 })).toBe(1);
    expect(desiredReplicas(SPEC, { concurrency: 4, qps: 0, coldStarts: 0 })).toBe(2);
    expect(desiredReplicas(SPEC, { concurrency: 40, qps: 0, coldStarts: 0 })).toBe(3);
    expect(desiredReplicas({ ...SPEC, minReplicas: 0 }, { concurrency: 0, qps: 0, coldStarts: 0 })).toBe(0);
    expect(desiredReplicas({ ...SPEC, minReplicas: 0 }, { concurrency: 0, qps: 0, coldStarts: 1 })).toBe(1);
    expect(desiredReplicas({ ...SPEC, targetConcurrency: null, targetQps: 10 }, { concurrency: 0, qps: 25, coldStarts: 0 })).toBe(3);
  });
});

describe('the local autoscaler', () => {
  let cp: TestControlPlane;
  let t = Date.parse('2026-12-01T00:00:00Z');
  const clock = () => new Date(t);
  const stats = new VersionStats(() => t);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite', now: clock });
    const g = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation($i: CreateServiceGroupInput!) { createServiceGroup(input: $i) { id } }`, { i: { name: 'auto' } });
    for (const [name, autoscaling] of [
      ['v1', { minReplicas: 1, maxReplicas: 3, targetConcurrency: 2, cooldownSeconds: 60 }],
      ['v2', { minReplicas: 0, maxReplicas: 2, targetConcurrency: 2, cooldownSeconds: 60 }],
    ] as const) {
      const r = await cp.gql<{ addServiceVersion: { id: string } }>(
        `mutation($g: ID!, $i: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $i) { id } }`,
        { g: g.data!.createServiceGroup.id, i: { name, model: { name: 'wine-classifier', version: '1' }, replicas: name === 'v1' ? 1 : 0 } },
      );
      ids[name] = r.data!.addServiceVersion.id;
      const u = await cp.gql(`mutation($id: ID!, $i: UpdateServiceVersionInput!) { updateServiceVersion(id: $id, input: $i) { id } }`, { id: ids[name], i: { autoscaling } });
      expect(u.errors).toBeUndefined();
      await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: ids[name] });
      await cp.settle();
    }
  });
  afterAll(async () => {
    await cp?.close();
  });

  /** `n` answers in the last second whose latencies add up to `concurrency` × the 15 s window */
  const load = (version: string, concurrency: number) => {
    for (let i = 0; i < 10; i++) stats.record('auto', version, 200, (concurrency * 15_000) / 10);
  };
  const replicas = async (v: string) => (await cp.db.prisma.serviceVersion.findUniqueOrThrow({ where: { id: ids[v]! } })).replicas;

  it('a load that doubles concurrency scales v1 from 1 to 2 replicas, and back to 1 only after the cool-down', async () => {
    const scaler = new Autoscaler({ deps: cp.plane.domain.deps, versions: cp.plane.domain.versions, stats, windowSeconds: 15 });
    load('v1', 2);
    expect(await scaler.evaluate()).toEqual([]);
    t += 20_000;
    load('v1', 4);
    expect(await scaler.evaluate()).toEqual([{ version: 'auto/v1', from: 1, to: 2 }]);
    expect(await replicas('v1')).toBe(2);
    expect(cp.orchestrator.deployments.at(-1)).toMatchObject({ versionName: 'v1', replicas: 2 });
    // the load goes away: not yet (cool-down), then down
    t += 20_000;
    load('v1', 1);
    expect(await scaler.evaluate()).toEqual([]);
    t += 45_000;
    load('v1', 1);
    expect(await scaler.evaluate()).toEqual([{ version: 'auto/v1', from: 2, to: 1 }]);
    const events = await cp.db.prisma.event.findMany({ where: { versionId: ids.v1, reason: { in: ['ScaledUp', 'ScaledDown'] } }, orderBy: { firstSeen: 'asc' } });
    expect(events.map((e) => e.reason)).toEqual(['ScaledUp', 'ScaledDown']);
    expect(events[0]!.message).toMatch(/replicas 1 → 2: concurrency 4\.00/);
  });

  it('a scaled-to-zero version gets a first replica when a request waits for it, and none without', async () => {
    const scaler = new Autoscaler({ deps: cp.plane.domain.deps, versions: cp.plane.domain.versions, stats, windowSeconds: 15 });
    t += 60_000;
    expect((await scaler.evaluate()).filter((c) => c.version === 'auto/v2')).toEqual([]);
    expect(await replicas('v2')).toBe(0);
    stats.coldStart('auto', 'v2');
    expect((await scaler.evaluate()).filter((c) => c.version === 'auto/v2')).toEqual([{ version: 'auto/v2', from: 0, to: 1 }]);
  });
});

describe('Kubernetes: a HorizontalPodAutoscaler instead of Sluice scaling', () => {
  const d: VersionDeployment = {
    versionId: 'vid',
    groupName: 'wine',
    versionName: 'v1',
    replicas: 2,
    source: { kind: 'image', image: 'registry.example/m:1', command: [], env: [], port: 8080, registryAuth: null },
    resources: { cpu: 1, memoryGiB: 2, gpuType: null, gpuCount: 0 },
    dedicated: null,
    autoscaling: { minReplicas: 0, maxReplicas: 5, targetConcurrency: 4, targetQps: 50, cooldownSeconds: 120 },
  };
  it('renders autoscaling/v2 with the bounds, both targets and the cool-down, and leaves replicas to it', () => {
    const m = renderManifests(d, defaultManifestOptions());
    expect(m.deployment.spec?.replicas).toBeUndefined();
    expect(m.autoscaler).toMatchObject({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: m.deployment.metadata?.name },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: m.deployment.metadata?.name },
        minReplicas: 1,
        maxReplicas: 5,
        behavior: { scaleDown: { stabilizationWindowSeconds: 120 } },
      },
    });
    expect(m.autoscaler?.spec?.metrics?.map((x) => [x.pods?.metric.name, x.pods?.target.averageValue])).toEqual([
      ['sluice_runtime_concurrency', '4'],
      ['sluice_runtime_requests_per_second', '50'],
    ]);
    expect(orderedObjects(m).at(-1)?.kind).toBe('HorizontalPodAutoscaler');
    const fixed = renderManifests({ ...d, autoscaling: null }, defaultManifestOptions());
    expect([fixed.deployment.spec?.replicas, fixed.autoscaler]).toEqual([2, null]);
  });
});

describe('scale to zero through the real edge', () => {
  let rt: FakeRuntime;
  let stack: Stack;
  const zero = (ports: number[]): DataPlaneModel => ({
    groups: [{ groupId: 'gid-zero', name: 'zero', versions: [{ ...dpVersion({ name: 'v1', weight: 100, ports }), scaleToZero: true }] }],
  });

  beforeAll(async () => {
    rt = await startFakeRuntime('v1');
    stack = await startStack(zero([]), { limits: { coldStartTimeoutMs: 20_000 } });
  });
  afterAll(async () => {
    await stack?.close();
    await rt?.close();
  });

  it('the first request waits (counted as a cold start) until a replica is up, then is answered', async () => {
    const pending = post(`${stack.url}/services/zero/predict`, row());
    const deadline = Date.now() + 5000;
    while ((stack.edge.stats.window('zero', 60).find((w) => w.version === 'v1')?.coldStarts ?? 0) < 1) {
      if (Date.now() > deadline) throw new Error('no cold start counted');
      await sleep(10);
    }
    // the autoscaler's part: a replica comes up and reaches the edge over xDS
    await stack.setModel(zero([rt.port]));
    const r = await pending;
    expect([r.status, r.json.version]).toEqual([200, 'v1']);
  });

  it('without a replica in time: 503 NO_HEALTHY_ENDPOINT with Retry-After', async () => {
    await stack.setModel(zero([]));
    const other = await startStack(zero([]), { limits: { coldStartTimeoutMs: 50 } });
    try {
      const r = await post(`${other.url}/services/zero/predict`, row());
      expect([r.status, r.json.error_code, r.headers['retry-after']]).toEqual([503, 'TEMPORARILY_UNAVAILABLE', '5']);
      expect(String(r.json.message)).toMatch(/scaled to zero/);
    } finally {
      await other.close();
    }
  });
});
