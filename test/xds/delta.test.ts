// Incremental (delta) ADS, driven by a hand-written client over the protos: wildcard and
// named subscriptions, per-resource versions, removals, unsubscribe, NACK, reconnect with
// initial_resource_versions.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TYPE_URL, unpackAny } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot } from '../../xds/cache.ts';
import { XdsServer } from '../../xds/server.ts';
import { translate } from '../../xds/translate.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { DeltaStream, adsClient, node } from './fixtures/ads-client.ts';
import { SETTINGS, twoVersionModel, version } from './fixtures/model.ts';

const model = (w1: number, w2: number): DataPlaneModel => twoVersionModel('wine', ['v1', w1, 7001], ['v2', w2, 7002]);
const publish = (m: DataPlaneModel) => cache.setSnapshot(makeSnapshot(translate(m, SETTINGS)));

let cache: SnapshotCache;
let server: XdsServer;
let client: ReturnType<typeof adsClient>;
const open: DeltaStream[] = [];
const stream = () => {
  const s = new DeltaStream(client);
  open.push(s);
  return s;
};

beforeAll(async () => {
  cache = new SnapshotCache();
  publish(model(80, 20));
  server = new XdsServer({ cache });
  client = adsClient(await server.listen(0, '127.0.0.1'));
});
afterAll(async () => {
  for (const s of open) s.close();
  client.close();
  await server.close();
});

const ack = (s: DeltaStream, r: { type_url?: string; nonce?: string }) => s.send({ type_url: r.type_url!, response_nonce: r.nonce! });

describe('ADS delta', () => {
  it('wildcard CDS: every cluster with its version, then only what changed, then removals', async () => {
    const s = stream();
    s.send({ node: node('delta-1'), type_url: TYPE_URL.cluster });
    const first = await s.next(TYPE_URL.cluster);
    expect(first.resources!.map((r) => r.name)).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    const snap = cache.getSnapshot('delta-1')!;
    for (const r of first.resources!) {
      expect(r.version).toBe(snap.types[TYPE_URL.cluster].resources.get(r.name!)!.hash);
      expect(unpackAny<{ name: string }>(r.resource!).name).toBe(r.name);
    }
    expect(first.system_version_info).toBe(snap.types[TYPE_URL.cluster].version);
    ack(s, first);

    // add a group: only its cluster is sent
    const m = model(80, 20);
    m.groups.push({ groupId: 'g2', name: 'iris', versions: [version('v1', 100, 7010)] });
    publish(m);
    const added = await s.next(TYPE_URL.cluster);
    expect(added.resources!.map((r) => r.name)).toEqual(['sluice/iris/v1']);
    expect(added.removed_resources ?? []).toEqual([]);
    ack(s, added);

    // drop a version: it comes back as removed, nothing else is sent
    publish(twoVersionModel('wine', ['v1', 100, 7001], ['v3', 0, 7003]));
    const changed = await s.next(TYPE_URL.cluster);
    expect(changed.resources!.map((r) => r.name)).toEqual(['sluice/wine/v3']);
    expect([...(changed.removed_resources ?? [])].sort()).toEqual(['sluice/iris/v1', 'sluice/wine/v2']);
    ack(s, changed);
    await vi.waitFor(() => expect(server.registry.byNode('delta-1')[0]!.types[TYPE_URL.cluster]!.state).toBe('SYNCED'), { timeout: 10_000 });
    publish(model(80, 20));
    s.close();
  });

  it('wildcard LDS leaves out the gRPC API listeners; a name brings one in', async () => {
    const s = stream();
    s.send({ node: node('delta-lds'), type_url: TYPE_URL.listener });
    const first = await s.next(TYPE_URL.listener);
    expect(first.resources!.map((r) => r.name)).toEqual(['sluice-edge']);
    s.send({ type_url: TYPE_URL.listener, response_nonce: first.nonce!, resource_names_subscribe: ['wine.sluice'] });
    const more = await s.next(TYPE_URL.listener);
    expect(more.resources!.map((r) => r.name)).toEqual(['wine.sluice']);
    s.close();
  });

  it('named EDS: unknown names reported absent once; unsubscribe stops updates', async () => {
    const s = stream();
    s.send({ node: node('delta-2'), type_url: TYPE_URL.endpoint, resource_names_subscribe: ['sluice/wine/v1', 'sluice/nope/v1'] });
    const r = await s.next(TYPE_URL.endpoint);
    expect(r.resources!.map((x) => x.name)).toEqual(['sluice/wine/v1']);
    expect(r.removed_resources).toEqual(['sluice/nope/v1']);
    ack(s, r);
    s.send({ type_url: TYPE_URL.endpoint, resource_names_unsubscribe: ['sluice/wine/v1'] });
    await vi.waitFor(() => expect(server.registry.byNode('delta-2')[0]!.types[TYPE_URL.endpoint]!.subscribed).not.toContain('sluice/wine/v1'), { timeout: 10_000 });
    // a witness still subscribed to the same name: when the change reaches it, the same
    // fan-out has passed the unsubscribed stream (both streams share one connection)
    const witness = stream();
    witness.send({ node: node('delta-2-witness'), type_url: TYPE_URL.endpoint, resource_names_subscribe: ['sluice/wine/v1'] });
    ack(witness, await witness.next(TYPE_URL.endpoint));
    const m = model(80, 20);
    m.groups[0]!.versions[0]!.endpoints.push({ instance: 'v1-9', host: '127.0.0.1', port: 7009, healthy: true });
    publish(m);
    const seen = await witness.next(TYPE_URL.endpoint);
    expect(seen.resources!.map((x) => x.name)).toEqual(['sluice/wine/v1']);
    expect(s.responses.pending()).toEqual([]);
    publish(model(80, 20));
    s.close();
  });

  it('reconnect with initial_resource_versions: only stale resources are sent', async () => {
    const a = stream();
    a.send({ node: node('delta-3'), type_url: TYPE_URL.cluster });
    const first = await a.next(TYPE_URL.cluster);
    a.close();
    const known = Object.fromEntries(first.resources!.map((r) => [r.name!, r.version!]));
    known['sluice/wine/v2'] = 'outdated';
    const b = stream();
    b.send({ node: node('delta-3'), type_url: TYPE_URL.cluster, initial_resource_versions: known });
    const r = await b.next(TYPE_URL.cluster);
    expect(r.resources!.map((x) => x.name)).toEqual(['sluice/wine/v2']);
    b.close();
  });

  it('records a NACK and does not resend the refused resources', async () => {
    const s = stream();
    s.send({ node: node('delta-4'), type_url: TYPE_URL.route, resource_names_subscribe: ['sluice-edge/wine'] });
    const r = await s.next(TYPE_URL.route);
    s.send({ type_url: TYPE_URL.route, response_nonce: r.nonce!, error_detail: { code: 3, message: 'bad route' } });
    await vi.waitFor(() => expect(server.registry.byNode('delta-4')[0]!.types[TYPE_URL.route]!.state).toBe('NACKED'), { timeout: 10_000 });
    const st = server.registry.byNode('delta-4')[0]!;
    expect(st.protocol).toBe('delta');
    expect(st.types[TYPE_URL.route]!.lastNack).toMatchObject({ message: 'bad route', version: r.system_version_info });
    expect(st.types[TYPE_URL.route]!.state).toBe('NACKED');
    expect(s.responses.pending()).toEqual([]);
    s.close();
  });

  it('a stream of garbage type URLs is ignored, and the stream still works', async () => {
    const s = stream();
    s.send({ node: node('delta-5'), type_url: 'nope' });
    s.send({ type_url: TYPE_URL.cluster });
    const r = await s.next();
    expect(r.type_url).toBe(TYPE_URL.cluster);
    s.close();
  });
});
