// Routes per group on the wire: with 1,000 groups, a weight change in one group sends no
// byte of any other group's routes to an Envoy-like proxy (wildcard CDS and LDS, EDS for its
// clusters, RDS for every route configuration its listener names), over state of the world
// and over delta. Every resource received after the change is decoded and each route in it
// is attributed to its group by name, so a shared route configuration (one for all groups)
// fails here however small the change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL, unpackAny, type XdsTypeUrl } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot } from '../../xds/cache.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { XdsServer } from '../../xds/server.ts';
import { createTranslator } from '../../xds/translate.ts';
import { DeltaStream, SotwStream, adsClient, node } from './fixtures/ads-client.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const GROUPS = 1000;
const CHANGED = 'svc-0500';
const groupName = (i: number) => `svc-${String(i).padStart(4, '0')}`;

function model(changedWeight: number): DataPlaneModel {
  return {
    groups: Array.from({ length: GROUPS }, (_, i) => {
      const w = groupName(i) === CHANGED ? changedWeight : 80;
      return { groupId: `g${i}`, name: groupName(i), versions: [version('v1', w, 7001, { qpsLimit: i % 3 === 0 ? 10 : null }), version('v2', 100 - w, 7002)] };
    }),
  };
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Received {
  typeUrl: string;
  name: string;
  bytes: number;
  /** for a route configuration: the group of each route in it ('not-found' → null) */
  routeGroups: (string | null)[];
}

/** What one resource on the stream is, decoded: its name, size, and whose routes it carries. */
function received(typeUrl: string, any: { type_url?: string; value?: Uint8Array }): Received {
  const decoded = unpackAny<Obj>(any as never);
  const name = (decoded.name ?? decoded.cluster_name ?? '') as string;
  const routeGroups: (string | null)[] = [];
  if (typeUrl === TYPE_URL.route) {
    for (const vh of decoded.virtual_hosts ?? []) {
      for (const r of vh.routes ?? []) routeGroups.push(r.name === 'not-found' ? null : (r.name as string).split('/')[0]!);
    }
  }
  return { typeUrl, name, bytes: any.value?.length ?? 0, routeGroups };
}

const translator = createTranslator();
let cache: SnapshotCache;
let server: XdsServer;
let client: ReturnType<typeof adsClient>;
const publish = (m: DataPlaneModel) => cache.setSnapshot(makeSnapshot(translator(m, SETTINGS)));
const settle = () => new Promise((r) => setTimeout(r, 300));

beforeAll(async () => {
  cache = new SnapshotCache();
  publish(model(80));
  server = new XdsServer({ cache });
  client = adsClient(await server.listen(0, '127.0.0.1'));
});
afterAll(async () => {
  client.close();
  await server.close();
});

/** The names an Envoy-like proxy asks RDS for: every route configuration its listener names. */
const edgeRouteNames = () => cache.getSnapshot('x')!.types[TYPE_URL.listener].resources.get('sluice-edge')!.references ?? [];

function checkOnlyChangedGroup(after: Received[]) {
  const routes = after.filter((r) => r.typeUrl === TYPE_URL.route);
  // the change reached the proxy: the changed group's route configuration
  expect(routes.map((r) => r.name)).toEqual([`sluice-edge/${CHANGED}`]);
  // nothing else of any type, and no route of another group inside what came
  expect(after.filter((r) => r.typeUrl !== TYPE_URL.route)).toEqual([]);
  for (const r of routes) expect(new Set(r.routeGroups.filter((g) => g !== null))).toEqual(new Set([CHANGED]));
  const perResource = Object.fromEntries(after.map((r) => [`${r.typeUrl.split('.').pop()}:${r.name}`, r.bytes]));
  const total = after.reduce((a, r) => a + r.bytes, 0);
  // one group's routes: a few KiB, not the 1,000 groups' (MiBs)
  expect(total, JSON.stringify(perResource)).toBeLessThan(8 * 1024);
  return total;
}

describe('a weight change in one group among 1,000', () => {
  it('state of the world: only that group’s route configuration is sent', async () => {
    publish(model(80));
    const s = new SotwStream(client);
    try {
      s.send({ node: node('bytes-sotw'), type_url: TYPE_URL.cluster });
      const cds = await s.next(TYPE_URL.cluster);
      s.ack(cds);
      const clusters = (cds.resources ?? []).map((a) => received(TYPE_URL.cluster, a).name);
      expect(clusters).toHaveLength(2 * GROUPS);
      s.send({ type_url: TYPE_URL.endpoint, resource_names: clusters });
      s.ack(await s.next(TYPE_URL.endpoint), clusters);
      s.send({ type_url: TYPE_URL.listener });
      s.ack(await s.next(TYPE_URL.listener));
      const rdsNames = [...edgeRouteNames()];
      expect(rdsNames).toHaveLength(GROUPS);
      s.send({ type_url: TYPE_URL.route, resource_names: rdsNames });
      const first = await s.next(TYPE_URL.route);
      // the first answer carries every group's routes, each in its own resource
      expect(first.resources).toHaveLength(GROUPS);
      s.ack(first, rdsNames);
      await settle();
      expect(s.responses.pending()).toEqual([]);

      publish(model(30));
      const rds = await s.next(TYPE_URL.route);
      s.ack(rds, rdsNames);
      await settle();
      const after = [rds, ...s.responses.pending()].flatMap((r) => (r.resources ?? []).map((a) => received(r.type_url as XdsTypeUrl, a)));
      checkOnlyChangedGroup(after);
      const weights = unpackAny<Obj>(rds.resources![0] as never).virtual_hosts[0].routes.find((r: Obj) => r.name === `${CHANGED}/default`).route.weighted_clusters.clusters;
      expect(weights.map((c: Obj) => c.weight.value)).toEqual([30, 70]);
    } finally {
      s.close();
    }
  });

  it('delta: only that group’s route configuration is sent', async () => {
    publish(model(80));
    const s = new DeltaStream(client);
    const ack = (r: { type_url?: string; nonce?: string }) => s.send({ type_url: r.type_url!, response_nonce: r.nonce! });
    try {
      s.send({ node: node('bytes-delta'), type_url: TYPE_URL.cluster });
      const cds = await s.next(TYPE_URL.cluster);
      ack(cds);
      const clusters = (cds.resources ?? []).map((r) => r.name!);
      s.send({ type_url: TYPE_URL.endpoint, resource_names_subscribe: clusters });
      ack(await s.next(TYPE_URL.endpoint));
      s.send({ type_url: TYPE_URL.listener });
      ack(await s.next(TYPE_URL.listener));
      const rdsNames = [...edgeRouteNames()];
      s.send({ type_url: TYPE_URL.route, resource_names_subscribe: rdsNames });
      const first = await s.next(TYPE_URL.route);
      expect(first.resources).toHaveLength(GROUPS);
      ack(first);
      await settle();
      expect(s.responses.pending()).toEqual([]);

      publish(model(30));
      const rds = await s.next(TYPE_URL.route);
      ack(rds);
      await settle();
      const responses = [rds, ...s.responses.pending()];
      expect(responses.flatMap((r) => r.removed_resources ?? [])).toEqual([]);
      const after = responses.flatMap((r) => (r.resources ?? []).map((x) => received(r.type_url!, x.resource!)));
      checkOnlyChangedGroup(after);
    } finally {
      s.close();
    }
  });
});
