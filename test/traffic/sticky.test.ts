// Sticky A/B by caller (SLUICE_STICKY_HEADER), specified:
//  - the hash is Envoy's (xxHash64, seed 0) and the pick is Envoy's (hash mod total weight,
//    clusters in route order), so the local edge and Envoy agree on every caller;
//  - xDS carries it as `WeightedCluster.use_hash_policy` next to the route's header hash policy,
//    and the edge reads it back from there (no side channel);
//  - through the real edge: 200 callers × 5 requests each stay on one version, the caller shares
//    match the weights, and 80/20 → 60/40 moves only callers from v1 to v2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { lookupType, unpackAny } from '../../proto/envoy.ts';
import type { RouteConfiguration__Output } from '../../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import { stickyHash, stickyIndex } from '../../gateway/edge/sticky.ts';
import { pickVersion, routingTableFromResources } from '../../gateway/edge/routing.ts';
import { translate } from '../../xds/translate.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { SETTINGS, dpVersion, post, row, startFakeRuntime, startStack, type FakeRuntime, type Stack } from '../edge/helpers.ts';

const STICKY = { ...SETTINGS, stickyHeader: 'x-user' };
const wine = (w1: number, w2: number, p1 = 1001, p2 = 1002): DataPlaneModel => ({
  groups: [{ groupId: 'gid-wine', name: 'wine', versions: [dpVersion({ name: 'v1', weight: w1, ports: [p1] }), dpVersion({ name: 'v2', weight: w2, ports: [p2] })] }],
});
const callers = Array.from({ length: 200 }, (_, i) => `caller-${i}`);

describe('sticky: the hash and the pick', () => {
  it('is xxHash64 with seed 0 (the published test vectors), as Envoy hashes a header', () => {
    expect(stickyHash('')).toBe(0xef46db3751d8e999n);
    expect(stickyHash('a')).toBe(0xd24ec4f1a98c6e5bn);
  });

  it("picks like Envoy's pickClusterIndex: hash mod total, then the interval it falls in", () => {
    expect(stickyIndex([80, 20], 79n)).toBe(0);
    expect(stickyIndex([80, 20], 80n)).toBe(1);
    expect(stickyIndex([80, 20], 199n)).toBe(1);
    expect(stickyIndex([80, 20], 170n)).toBe(0);
    expect(stickyIndex([0, 0], 5n)).toBe(-1);
  });
});

describe('sticky: carried over xDS', () => {
  it('the default route picks by hash policy (use_hash_policy) and the edge reads the header back', () => {
    const res = translate(wine(80, 20), STICKY);
    const edge = res.routes.find((r) => r.name === 'sluice-edge/wine')!;
    const rc = unpackAny<RouteConfiguration__Output>(edge.resource);
    const def = rc.virtual_hosts![0]!.routes!.find((r) => r.name === 'wine/default')!;
    expect(def.route?.hash_policy?.[0]?.header?.header_name).toBe('x-user');
    expect((def.route?.weighted_clusters as { use_hash_policy?: { value?: boolean } }).use_hash_policy?.value).toBe(true);
    // on the wire: WeightedCluster field 5 (google.protobuf.BoolValue), as in Envoy's API
    const wcBytes = lookupType('envoy.config.route.v3.WeightedCluster').encode(def.route!.weighted_clusters!).finish();
    const reader = protobuf.Reader.create(wcBytes);
    const tags: number[] = [];
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      tags.push(tag >>> 3);
      reader.skipType(tag & 7);
    }
    expect(tags).toContain(5);
    const table = routingTableFromResources(res);
    expect(table.groups.get('wine')?.stickyHeader).toBe('x-user');
  });

  it('without the setting the split stays random and carries no hash choice', () => {
    const table = routingTableFromResources(translate(wine(80, 20), SETTINGS));
    expect(table.groups.get('wine')?.stickyHeader).toBeNull();
  });

  it('a caller whose version has no endpoint falls back by the same hash, and a pin still wins', () => {
    const m = wine(80, 20);
    m.groups[0]!.versions[0]!.endpoints = [];
    const group = routingTableFromResources(translate(m, STICKY)).groups.get('wine')!;
    for (const c of callers.slice(0, 20)) {
      expect(pickVersion(group, undefined, Math.random, c)).toMatchObject({ version: { name: 'v2' } });
    }
    expect(pickVersion(group, 'v1', Math.random, 'caller-1')).toMatchObject({ version: { name: 'v1' }, pinned: true });
  });
});

describe('sticky: through the real edge', () => {
  let v1: FakeRuntime, v2: FakeRuntime;
  let stack: Stack;
  const model = (w1: number, w2: number) => wine(w1, w2, v1.port, v2.port);

  beforeAll(async () => {
    [v1, v2] = await Promise.all([startFakeRuntime('v1'), startFakeRuntime('v2')]);
    stack = await startStack(model(80, 20), { settings: { stickyHeader: 'x-user' } });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all([v1?.close(), v2?.close()]);
  });

  async function assignment(): Promise<Map<string, string>> {
    const url = `${stack.url}/services/wine/predict`;
    const seen = new Map<string, Set<string>>();
    let next = 0;
    const jobs = callers.flatMap((c) => Array.from({ length: 5 }, () => c));
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs.length) {
          const caller = jobs[next++]!;
          const r = await post(url, row(), { 'x-user': caller });
          expect(r.status).toBe(200);
          const set = seen.get(caller) ?? new Set<string>();
          set.add(String(r.json.version));
          seen.set(caller, set);
        }
      }),
    );
    const out = new Map<string, string>();
    for (const [caller, versions] of seen) {
      // every caller saw exactly one version in its 5 requests
      expect([caller, [...versions]]).toEqual([caller, [expect.any(String)]]);
      out.set(caller, [...versions][0]!);
    }
    return out;
  }

  it('200 callers × 5 requests: each caller stays on one version, caller shares match 80/20', async () => {
    const a = await assignment();
    expect(a.size).toBe(200);
    const onV1 = [...a.values()].filter((v) => v === 'v1').length;
    expect(onV1 / 200).toBeGreaterThan(0.72);
    expect(onV1 / 200).toBeLessThan(0.88);
    // and the edge chose exactly what Envoy computes for each caller
    for (const [caller, v] of a) expect(v).toBe(['v1', 'v2'][stickyIndex([80, 20], stickyHash(caller))]);
  });

  it('80/20 → 60/40 moves only callers from v1 to v2 (about a fifth of them), and back restores them', async () => {
    const before = await assignment();
    await stack.setModel(model(60, 40));
    const after = await assignment();
    const moved = [...before].filter(([c, v]) => after.get(c) !== v);
    for (const [c, v] of moved) expect([c, v, after.get(c)]).toEqual([c, 'v1', 'v2']);
    expect(moved.length / 200).toBeGreaterThan(0.12);
    expect(moved.length / 200).toBeLessThan(0.28);
    const onV1 = [...after.values()].filter((v) => v === 'v1').length;
    expect(onV1 / 200).toBeGreaterThan(0.52);
    expect(onV1 / 200).toBeLessThan(0.68);
    await stack.setModel(model(80, 20));
    const again = await assignment();
    expect(new Map([...again].sort())).toEqual(new Map([...before].sort()));
  });

  it('requests without the header are still split at random', async () => {
    const url = `${stack.url}/services/wine/predict`;
    const versions = new Set<string>();
    for (let i = 0; i < 60 && versions.size < 2; i++) versions.add(String((await post(url, row())).json.version));
    expect([...versions].sort()).toEqual(['v1', 'v2']);
  });
});
