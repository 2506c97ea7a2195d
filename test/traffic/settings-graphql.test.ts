// The release-protection settings through GraphQL, on SQLite and PostgreSQL: a mirror set
// with setTrafficAllocation (read back as ServiceGroup.mirror, carried into the data-plane
// model), throttle / autoscaling on a version, the canary guard on a group — and every bad
// input the issue names refused with BAD_USER_INPUT and a stable reason, writing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataPlaneModel } from '../../control/domain/data-plane.ts';
import { providers } from '../fixtures/db.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

type Err = { errors?: { extensions?: { code?: string; reason?: string } }[] };
const refusal = (r: Err) => ({ code: r.errors?.[0]?.extensions?.code, reason: r.errors?.[0]?.extensions?.reason });

describe.each(providers)('release settings over GraphQL on %s', (provider) => {
  let cp: TestControlPlane;
  let groupId: string, v1: string, v2: string;
  let otherV: string;

  async function group(name: string): Promise<{ id: string; v1: string; v2: string }> {
    const g = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation($i: CreateServiceGroupInput!) { createServiceGroup(input: $i) { id } }`, { i: { name } });
    const id = g.data!.createServiceGroup.id;
    const ids: string[] = [];
    for (const [name, mv] of [['v1', '1'], ['v2', '2']]) {
      const r = await cp.gql<{ addServiceVersion: { id: string } }>(
        `mutation($g: ID!, $i: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $i) { id } }`,
        { g: id, i: { name, model: { name: 'wine-classifier', version: mv } } },
      );
      ids.push(r.data!.addServiceVersion.id);
      await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: r.data!.addServiceVersion.id });
      await cp.settle();
    }
    return { id, v1: ids[0]!, v2: ids[1]! };
  }

  const setTraffic = (g: string, a: [string, number][], mirror?: unknown) =>
    cp.gql<{ setTrafficAllocation: { mirror: { versionId: string; percent: number } | null } }>(
      `mutation($g: ID!, $a: [TrafficAllocationInput!]!, $m: MirrorInput) { setTrafficAllocation(groupId: $g, allocations: $a, mirror: $m) { mirror { versionId percent } } }`,
      { g, a: a.map(([versionId, percent]) => ({ versionId, percent })), ...(mirror === undefined ? {} : { m: mirror }) },
    ) as Promise<Err & { data?: { setTrafficAllocation: { mirror: { versionId: string; percent: number } | null } } | null }>;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider });
    ({ id: groupId, v1, v2 } = await group('mirrored'));
    otherV = (await group('other')).v2;
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('mirror 100% to the 0% version: stored, read back, in the data-plane model; percent 0 and null turn it off', async () => {
    const r = await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: 100 });
    expect(r.errors).toBeUndefined();
    expect(r.data?.setTrafficAllocation.mirror).toEqual({ versionId: v2, percent: 100 });
    const model = await loadDataPlaneModel(cp.db.prisma);
    expect(model.groups.find((g) => g.name === 'mirrored')?.mirror).toEqual({ version: 'v2', percent: 100 });
    // leaving mirror out of the mutation keeps it
    expect((await setTraffic(groupId, [[v1, 100], [v2, 0]])).data?.setTrafficAllocation.mirror).toEqual({ versionId: v2, percent: 100 });
    expect((await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: 0 })).data?.setTrafficAllocation.mirror).toBeNull();
    await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: 30 });
    expect((await setTraffic(groupId, [[v1, 100], [v2, 0]], null)).data?.setTrafficAllocation.mirror).toBeNull();
    expect((await loadDataPlaneModel(cp.db.prisma)).groups.find((g) => g.name === 'mirrored')?.mirror).toBeUndefined();
  });

  it('giving the shadow version a live share ends its mirror', async () => {
    await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: 50 });
    expect((await setTraffic(groupId, [[v1, 80], [v2, 20]])).data?.setTrafficAllocation.mirror).toBeNull();
  });

  it('refuses a mirror to a live version, to another group, and percents outside 0..100 — and writes nothing', async () => {
    await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: 10 });
    const before = await cp.db.prisma.serviceGroup.findUniqueOrThrow({ where: { id: groupId } });
    expect(refusal(await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v1, percent: 50 }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'MIRROR_TO_LIVE_VERSION' });
    expect(refusal(await setTraffic(groupId, [[v1, 80], [v2, 20]], { versionId: v2, percent: 50 }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'MIRROR_TO_LIVE_VERSION' });
    expect(refusal(await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: otherV, percent: 50 }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'MIRROR_VERSION_NOT_IN_GROUP' });
    expect(refusal(await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: 101 }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'MIRROR_PERCENT_OUT_OF_RANGE' });
    expect(refusal(await setTraffic(groupId, [[v1, 100], [v2, 0]], { versionId: v2, percent: -1 }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'MIRROR_PERCENT_OUT_OF_RANGE' });
    const after = await cp.db.prisma.serviceGroup.findUniqueOrThrow({ where: { id: groupId }, include: { versions: true } });
    expect([after.mirrorVersionId, after.mirrorPercent]).toEqual([before.mirrorVersionId, before.mirrorPercent]);
    expect(after.versions.map((v) => v.trafficPercent).sort()).toEqual([0, 100]);
  });

  const updateVersion = (id: string, input: Record<string, unknown>) =>
    cp.gql<{ updateServiceVersion: Record<string, unknown> }>(
      `mutation($id: ID!, $i: UpdateServiceVersionInput!) { updateServiceVersion(id: $id, input: $i) { throttle { mode queueDepth maxWaitMs maxConcurrency } autoscaling { minReplicas maxReplicas targetConcurrency targetQps cooldownSeconds } } }`,
      { id, i: input },
    ) as Promise<Err & { data?: { updateServiceVersion: Record<string, unknown> } | null }>;

  it('throttle QUEUE and autoscaling are stored and read back (defaults filled in)', async () => {
    const r = await updateVersion(v1, { throttle: { mode: 'QUEUE', queueDepth: 20, maxConcurrency: 8 }, autoscaling: { minReplicas: 0, maxReplicas: 3 } });
    expect(r.errors).toBeUndefined();
    expect(r.data?.updateServiceVersion).toEqual({
      throttle: { mode: 'QUEUE', queueDepth: 20, maxWaitMs: 1000, maxConcurrency: 8 },
      autoscaling: { minReplicas: 0, maxReplicas: 3, targetConcurrency: 4, targetQps: null, cooldownSeconds: 60 },
    });
  });

  it('authJwtOnly: off by default, set with updateServiceVersion, read back, and in the data-plane model of a running version', async () => {
    const read = async () =>
      (await cp.gql<{ serviceVersion: { authEnabled: boolean; authJwtOnly: boolean } }>(`query($id: ID!) { serviceVersion(id: $id) { authEnabled authJwtOnly } }`, { id: v1 })).data?.serviceVersion;
    expect(await read()).toEqual({ authEnabled: true, authJwtOnly: false });
    const r = await cp.gql(`mutation($id: ID!, $i: UpdateServiceVersionInput!) { updateServiceVersion(id: $id, input: $i) { id } }`, { id: v1, i: { authJwtOnly: true } });
    expect(r.errors).toBeUndefined();
    expect(await read()).toEqual({ authEnabled: true, authJwtOnly: true });
    await cp.db.prisma.serviceVersion.update({ where: { id: v1 }, data: { status: 'RUNNING', trafficPercent: 100 } });
    const dp = (await loadDataPlaneModel(cp.db.prisma)).groups.find((g) => g.name === 'mirrored')!.versions.find((v) => v.versionId === v1)!;
    expect(dp.authJwtOnly).toBe(true);
    await cp.gql(`mutation($id: ID!, $i: UpdateServiceVersionInput!) { updateServiceVersion(id: $id, input: $i) { id } }`, { id: v1, i: { authJwtOnly: false } });
    expect((await loadDataPlaneModel(cp.db.prisma)).groups.find((g) => g.name === 'mirrored')!.versions.find((v) => v.versionId === v1)!.authJwtOnly).toBeUndefined();
  });

  it('refuses min replicas above max, a queue depth of 10⁹, and queue settings on REJECT', async () => {
    expect(refusal(await updateVersion(v2, { autoscaling: { minReplicas: 5, maxReplicas: 2 } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'MIN_REPLICAS_ABOVE_MAX' });
    expect(refusal(await updateVersion(v2, { throttle: { mode: 'QUEUE', queueDepth: 1_000_000_000 } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'QUEUE_DEPTH_OUT_OF_RANGE' });
    expect(refusal(await updateVersion(v2, { throttle: { mode: 'REJECT', queueDepth: 5 } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'QUEUE_SETTINGS_WITHOUT_QUEUE' });
    const v = await cp.db.prisma.serviceVersion.findUniqueOrThrow({ where: { id: v2 } });
    expect([v.throttleMode, v.queueDepth, v.autoscaleMaxReplicas]).toEqual(['REJECT', null, null]);
  });

  const updateGroup = (input: Record<string, unknown>) =>
    cp.gql<{ updateServiceGroup: { canaryGuard: Record<string, unknown> } }>(
      `mutation($id: ID!, $i: UpdateServiceGroupInput!) { updateServiceGroup(id: $id, input: $i) { canaryGuard { enabled maxErrorRateDelta maxLatencyP99Ratio minRequests windowSeconds } } }`,
      { id: groupId, i: input },
    ) as Promise<Err & { data?: { updateServiceGroup: { canaryGuard: Record<string, unknown> } } | null }>;

  it('the canary guard is off by default, set with updateServiceGroup, and a zero window is refused', async () => {
    const r = await updateGroup({ canaryGuard: { enabled: true, windowSeconds: 30, minRequests: 20 } });
    expect(r.data?.updateServiceGroup.canaryGuard).toEqual({ enabled: true, maxErrorRateDelta: 0.1, maxLatencyP99Ratio: 2, minRequests: 20, windowSeconds: 30 });
    expect(refusal(await updateGroup({ canaryGuard: { enabled: true, windowSeconds: 0 } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'GUARD_WINDOW_OUT_OF_RANGE' });
    expect(refusal(await updateGroup({ canaryGuard: { enabled: true, maxErrorRateDelta: 0 } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'GUARD_ERROR_DELTA_OUT_OF_RANGE' });
    expect((await cp.db.prisma.serviceGroup.findUniqueOrThrow({ where: { id: groupId } })).canaryWindowSeconds).toBe(30);
  });
});
