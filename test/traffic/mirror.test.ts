// Shadow (mirror) traffic, specified: translated to Envoy's request_mirror_policies, read back
// by the edge from xDS, and played by the real edge — every answer from the live version,
// every request copied to the shadow version and recorded there with "shadow": true under
// the same request id, a slow shadow never slowing the live answer, overflow dropped and
// counted.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackAny } from '../../proto/envoy.ts';
import type { RouteConfiguration__Output } from '../../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import { routingTableFromResources } from '../../gateway/edge/routing.ts';
import { translate, XdsTranslateError } from '../../xds/translate.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { SETTINGS, dpVersion, post, row, sleep, startFakeRuntime, startStack, type FakeRuntime, type Stack } from '../edge/helpers.ts';

const model = (p1: number, p2: number, percent: number | null): DataPlaneModel => ({
  groups: [
    {
      groupId: 'gid-wine',
      name: 'wine',
      versions: [dpVersion({ name: 'v1', weight: 100, ports: [p1], capture: true }), dpVersion({ name: 'v2', weight: 0, ports: [p2], capture: true })],
      ...(percent === null ? {} : { mirror: { version: 'v2', percent } }),
    },
  ],
});

describe('mirror: over xDS', () => {
  it('the split and the other versions’ pin routes carry a request mirror policy for the share', () => {
    const res = translate(model(1001, 1002, 25), SETTINGS);
    const rc = unpackAny<RouteConfiguration__Output>(res.routes.find((r) => r.name === 'sluice-edge/wine')!.resource);
    const routes = rc.virtual_hosts![0]!.routes!;
    const policy = routes.find((r) => r.name === 'wine/default')!.route!.request_mirror_policies;
    expect(policy).toEqual([{ cluster: 'sluice/wine/v2', runtime_fraction: { default_value: { numerator: 25, denominator: 'HUNDRED' } } }]);
    expect(routes.find((r) => r.name === 'wine/pin/v1')!.route!.request_mirror_policies).toEqual(policy);
    // the shadow version's own pin route is not copied to itself
    expect(routes.find((r) => r.name === 'wine/pin/v2')!.route!.request_mirror_policies ?? []).toEqual([]);
    const group = routingTableFromResources(res).groups.get('wine')!;
    expect(group.mirror?.version.name).toBe('v2');
    expect(group.mirror?.fraction).toBe(0.25);
  });

  it('no mirror: no policy, and translation refuses a mirror to a version the group does not run', () => {
    const res = translate(model(1001, 1002, null), SETTINGS);
    expect(routingTableFromResources(res).groups.get('wine')!.mirror).toBeNull();
    const bad = model(1001, 1002, 50);
    bad.groups[0]!.mirror = { version: 'v9', percent: 50 };
    expect(() => translate(bad, SETTINGS)).toThrow(XdsTranslateError);
  });
});

describe('mirror: through the real edge', () => {
  let v1: FakeRuntime, v2: FakeRuntime;
  let stack: Stack;

  beforeAll(async () => {
    [v1, v2] = await Promise.all([startFakeRuntime('v1'), startFakeRuntime('v2')]);
    stack = await startStack(model(v1.port, v2.port, 100), { limits: { shadowInFlight: 4 } });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all([v1?.close(), v2?.close()]);
  });

  async function records(version: string): Promise<Record<string, unknown>[]> {
    expect(await stack.writer.flush(5000)).toBe(true);
    const out: Record<string, unknown>[] = [];
    for (const k of await stack.store.list(`inference-logs/wine/${version}/`)) {
      const obj = await stack.store.get(k.key);
      for (const line of gunzipSync(obj.body).toString('utf8').split('\n')) if (line) out.push(JSON.parse(line) as Record<string, unknown>);
    }
    return out;
  }

  async function until(cond: () => boolean | Promise<boolean>, ms = 5000) {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await sleep(20);
    }
  }

  it('mirroring 100% to v2: every answer from v1, every request with a shadow record for v2', async () => {
    const url = `${stack.url}/services/wine/predict`;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await post(url, { client_request_id: `m-${i}`, ...row() });
      expect(r.status).toBe(200);
      expect(r.json.version).toBe('v1');
      ids.push(String(r.json.request_id));
    }
    await until(() => v2.calls >= 30);
    await until(async () => (await records('v2')).length >= 30);
    const shadow = await records('v2');
    expect(shadow.map((r) => r.request_id).sort()).toEqual([...ids].sort());
    for (const r of shadow) {
      expect(r).toMatchObject({ shadow: true, version: 'v2', status_code: 200 });
      expect(JSON.parse(String(r.response)).predictions).toEqual(['v2']);
    }
    // the live records are not marked
    const live = await records('v1');
    expect(live.filter((r) => ids.includes(String(r.request_id))).every((r) => r.shadow === undefined)).toBe(true);
    expect(v2.lastHeaders?.['x-request-id']).toBeDefined();
  });

  it('a slow shadow never slows the live answer; past the in-flight bound copies are dropped and counted', async () => {
    v2.delayMs = 1500;
    const url = `${stack.url}/services/wine/predict`;
    const count = async (outcome: string) =>
      Number(new RegExp(`sluice_shadow_requests_total\\{group="wine",version="v2",outcome="${outcome}"\\} (\\d+)`).exec(await (await fetch(`${stack.url}/metrics`)).text())?.[1] ?? 0);
    const sentBefore = await count('sent');
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(url, row())));
    expect(answers.every((a) => a.status === 200 && a.json.version === 'v1')).toBe(true);
    // every live answer is back while no slow shadow copy has answered yet: nothing waited on them
    expect(await count('sent')).toBe(sentBefore);
    // 4 copies in flight at most: the other 16 were dropped and counted
    expect(await count('dropped')).toBeGreaterThanOrEqual(16);
    await until(async () => (await count('sent')) >= sentBefore + 4);
    v2.delayMs = 0;
  });
});
