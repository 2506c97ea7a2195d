// The ADS server driven by hand-written clients over the protos: SotW semantics (ACK,
// NACK, nonces, wildcard, per-type versions, push order) and everything a bad client can
// do: garbage bytes, wrong type URLs, unknown names, stale nonces, no node, 500 streams,
// disconnects mid-stream. Other streams must keep being served throughout.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL, unpackAny } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot } from '../../xds/cache.ts';
import { XdsServer } from '../../xds/server.ts';
import { translate } from '../../xds/translate.ts';
import { SotwStream, adsClient, node } from './fixtures/ads-client.ts';
import { SETTINGS, twoVersionModel, version } from './fixtures/model.ts';
import type { DataPlaneModel } from '../../xds/model.ts';

const model = (w1: number, w2: number, extraEndpoint = false): DataPlaneModel => {
  const m = twoVersionModel('wine', ['v1', w1, 7001], ['v2', w2, 7002]);
  if (extraEndpoint) m.groups[0]!.versions[1]!.endpoints.push({ instance: 'v2-1', host: '127.0.0.1', port: 7003, healthy: true });
  return m;
};
const publish = (cache: SnapshotCache, m: DataPlaneModel) => cache.setSnapshot(makeSnapshot(translate(m, SETTINGS)));

let cache: SnapshotCache;
let server: XdsServer;
let port: number;
let client: ReturnType<typeof adsClient>;
const open: SotwStream[] = [];
const stream = () => {
  const s = new SotwStream(client);
  open.push(s);
  return s;
};

beforeAll(async () => {
  cache = new SnapshotCache();
  publish(cache, model(80, 20));
  server = new XdsServer({ cache });
  port = await server.listen(0, '127.0.0.1');
  client = adsClient(port);
});

afterAll(async () => {
  for (const s of open) s.close();
  client.close();
  await server.close();
});

const names = (r: { resources?: { type_url?: string; value?: Buffer }[] }) =>
  (r.resources ?? []).map((a) => (unpackAny<{ name?: string; cluster_name?: string }>(a).name ?? unpackAny<{ cluster_name?: string }>(a).cluster_name));

/** What Envoy does at start: wildcard CDS, then EDS for its clusters, LDS, RDS; ACKing all. */
async function envoyLike(id: string) {
  const s = stream();
  s.send({ node: node(id), type_url: TYPE_URL.cluster });
  const cds = await s.next(TYPE_URL.cluster);
  s.ack(cds);
  const clusters = names(cds) as string[];
  s.send({ type_url: TYPE_URL.endpoint, resource_names: clusters });
  const eds = await s.next(TYPE_URL.endpoint);
  s.ack(eds, clusters);
  s.send({ type_url: TYPE_URL.listener });
  const lds = await s.next(TYPE_URL.listener);
  s.ack(lds);
  s.send({ type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] });
  const rds = await s.next(TYPE_URL.route);
  s.ack(rds, ['sluice-edge/wine']);
  return { s, cds, eds, lds, rds, clusters };
}

async function waitFor(cond: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ADS state of the world', () => {
  it('serves an Envoy-like client: wildcard LDS excludes the gRPC API listeners', async () => {
    const { cds, eds, lds, rds, clusters } = await envoyLike('envoy-1');
    expect(clusters).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    expect(names(eds)).toEqual(clusters);
    expect(names(lds)).toEqual(['sluice-edge']);
    expect(names(rds)).toEqual(['sluice-edge/wine']);
    expect(cds.version_info).toBe(cache.getSnapshot('envoy-1')!.types[TYPE_URL.cluster].version);
    expect(cds.control_plane?.identifier).toBe('sluice');
    await waitFor(() => server.registry.byNode('envoy-1')[0]?.types[TYPE_URL.route]?.state === 'SYNCED');
    const st = server.registry.byNode('envoy-1')[0]!;
    for (const url of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route]) {
      expect(st.types[url]!.ackedVersion).toBe(st.types[url]!.sentVersion);
      expect(st.types[url]!.pendingNonce).toBeNull();
    }
    expect(st.types[TYPE_URL.listener]!.subscribed).toBe('*');
  });

  it('a weight change pushes RDS only; an endpoint change pushes EDS only', async () => {
    const { s } = await envoyLike('envoy-2');
    publish(cache, model(0, 100));
    const rds = await s.next(TYPE_URL.route);
    s.ack(rds, ['sluice-edge/wine']);
    const rc = unpackAny<{ virtual_hosts: { routes: { name: string; route?: { weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] } } }[] }[] }>(rds.resources![0]!);
    const def = rc.virtual_hosts[0]!.routes.find((r) => r.name === 'wine/default')!;
    expect(def.route!.weighted_clusters!.clusters.map((c) => [c.name, c.weight.value])).toEqual([['sluice/wine/v2', 100]]);
    publish(cache, model(0, 100, true));
    const eds = await s.next(TYPE_URL.endpoint);
    s.ack(eds, ['sluice/wine/v1', 'sluice/wine/v2']);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.responses.pending()).toEqual([]);
    publish(cache, model(80, 20));
  });

  it('pushes clusters before endpoints before listeners before routes', async () => {
    const { s } = await envoyLike('envoy-order');
    const order: string[] = [];
    s.call.on('data', (r: { type_url?: string }) => order.push(r.type_url ?? ''));
    const m = model(50, 50);
    m.groups.push({ groupId: 'g2', name: 'iris', versions: [version('v1', 100, 7010)] });
    publish(cache, m);
    await waitFor(() => order.length >= 4);
    expect(order.slice(0, 4)).toEqual([TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route]);
    publish(cache, model(80, 20));
  });

  it('a NACK is recorded per type, and the same version is not resent', async () => {
    const s = stream();
    s.send({ node: node('nacker'), type_url: TYPE_URL.cluster });
    const cds = await s.next(TYPE_URL.cluster);
    s.send({
      type_url: TYPE_URL.cluster,
      version_info: '',
      response_nonce: cds.nonce!,
      error_detail: { code: 3, message: 'cluster sluice/wine/v1: nope' },
    });
    await waitFor(() => server.registry.byNode('nacker')[0]?.types[TYPE_URL.cluster]?.lastNack != null);
    const t = server.registry.byNode('nacker')[0]!.types[TYPE_URL.cluster]!;
    expect(t.lastNack).toMatchObject({ version: cds.version_info, message: 'cluster sluice/wine/v1: nope', code: 3, nonce: cds.nonce });
    expect(t.ackedVersion).toBeNull();
    expect(t.state).toBe('NACKED');
    await new Promise((r) => setTimeout(r, 150));
    expect(s.responses.pending(TYPE_URL.cluster)).toEqual([]);
    // a new snapshot is offered again
    publish(cache, model(80, 20, true));
    publish(cache, model(80, 20));
    s.close();
  });

  it('ignores requests with a stale nonce', async () => {
    const s = stream();
    s.send({ node: node('stale'), type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] });
    const first = await s.next(TYPE_URL.route);
    publish(cache, model(10, 90));
    const second = await s.next(TYPE_URL.route);
    expect(second.nonce).not.toBe(first.nonce);
    // an ACK of the first (stale) response must not count, nor cause a resend
    s.ack(first, ['sluice-edge/wine']);
    await new Promise((r) => setTimeout(r, 100));
    const st = server.registry.byNode('stale')[0]!.types[TYPE_URL.route]!;
    expect(st.ackedVersion).toBeNull();
    expect(st.pendingNonce).toBe(second.nonce);
    expect(s.responses.pending()).toEqual([]);
    s.ack(second, ['sluice-edge/wine']);
    await waitFor(() => server.registry.byNode('stale')[0]!.types[TYPE_URL.route]!.ackedVersion === second.version_info);
    publish(cache, model(80, 20));
    s.close();
  });

  it('answers unknown names with nothing, and new names when the subscription grows', async () => {
    const s = stream();
    s.send({ node: node('names'), type_url: TYPE_URL.endpoint, resource_names: ['sluice/nope/v9'] });
    const r = await s.next(TYPE_URL.endpoint);
    expect(r.resources ?? []).toEqual([]);
    s.send({ type_url: TYPE_URL.endpoint, version_info: r.version_info!, response_nonce: r.nonce!, resource_names: ['sluice/nope/v9', 'sluice/wine/v1'] });
    const r2 = await s.next(TYPE_URL.endpoint);
    expect(names(r2)).toEqual(['sluice/wine/v1']);
    s.close();
  });

  it('ignores wrong type URLs and keeps the stream', async () => {
    const s = stream();
    s.send({ node: node('wrongtype'), type_url: 'type.googleapis.com/envoy.nope.v3.Nope' });
    s.send({ type_url: 'garbage' });
    s.send({ type_url: TYPE_URL.listener });
    const lds = await s.next();
    expect(lds.type_url).toBe(TYPE_URL.listener);
    s.close();
  });

  it('ends a stream whose first request has no node, with INVALID_ARGUMENT', async () => {
    const s = stream();
    s.send({ type_url: TYPE_URL.listener });
    const end = (await s.ended) as grpc.StatusObject;
    expect(end.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('survives garbage bytes on a stream, and keeps serving others', async () => {
    const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const status = new Promise<grpc.StatusObject>((resolve) => {
      call.on('status', resolve);
      call.on('error', () => {});
    });
    call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03]));
    const end = await status;
    expect(end.code).not.toBe(grpc.status.OK);
    raw.close();
    const { lds } = await envoyLike('after-garbage');
    expect(names(lds)).toEqual(['sluice-edge']);
  });

  it('handles 500 concurrent streams, mid-stream disconnects, and keeps serving the rest', async () => {
    const N = 500;
    const streams = Array.from({ length: N }, () => stream());
    streams.forEach((s, i) => s.send({ node: node(`many-${i}`), type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] }));
    const firsts = await Promise.all(streams.map((s) => s.next(TYPE_URL.route, 20_000)));
    firsts.forEach((r, i) => streams[i]!.ack(r, ['sluice-edge/wine']));
    await waitFor(() => server.registry.list().filter((p) => p.nodeId.startsWith('many-')).length === N, 10_000);
    // half drop mid-stream (one never ACKs its next response)
    const dropped = streams.filter((_, i) => i % 2 === 0);
    const kept = streams.filter((_, i) => i % 2 === 1);
    publish(cache, model(30, 70));
    for (const s of dropped) s.call.cancel();
    const seconds = await Promise.all(kept.map((s) => s.next(TYPE_URL.route, 20_000)));
    for (const [i, r] of seconds.entries()) {
      expect(r.version_info).toBe(cache.getSnapshot('x')!.types[TYPE_URL.route].version);
      kept[i]!.ack(r, ['sluice-edge/wine']);
    }
    await waitFor(() => server.registry.list().filter((p) => p.nodeId.startsWith('many-')).length === N / 2, 10_000);
    for (const s of kept) s.close();
    await waitFor(() => server.registry.list().filter((p) => p.nodeId.startsWith('many-')).length === 0, 10_000);
    const { rds } = await envoyLike('after-many');
    expect(names(rds)).toEqual(['sluice-edge/wine']);
    publish(cache, model(80, 20));
  }, 60_000);

  it('onChange reports connect, ACK and disconnect', async () => {
    const events: string[] = [];
    const stop = server.registry.onChange((e) => {
      if (e.proxy.nodeId === 'watched') events.push(e.kind);
    });
    const s = stream();
    s.send({ node: node('watched'), type_url: TYPE_URL.listener });
    s.ack(await s.next(TYPE_URL.listener));
    await waitFor(() => events.filter((e) => e === 'updated').length >= 3);
    s.close();
    await waitFor(() => events.includes('disconnected'));
    stop();
    expect(events[0]).toBe('connected');
    expect(events.at(-1)).toBe('disconnected');
  });
});
