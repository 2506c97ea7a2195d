// Make-before-break, seen from proxies: simulated Envoy-like ADS clients (SotW and delta)
// apply every response to what they hold and check, on each one, that no route they hold
// names a cluster (or endpoints) they do not hold. A version is added, then one removed;
// beside the healthy clients sit a proxy that NACKs every route update and a proxy that
// went silent; the healthy ones must converge regardless, the NACKing one must keep the
// clusters its last good routes name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL, unpackAny } from '../../proto/envoy.ts';
import type { RouteConfiguration__Output } from '../../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import { SnapshotCache, makeSnapshot } from '../../xds/cache.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { plan } from '../../xds/ordering.ts';
import { XdsServer } from '../../xds/server.ts';
import { translate } from '../../xds/translate.ts';
import { DeltaStream, SotwStream, adsClient, node } from './fixtures/ads-client.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const model = (versions: [string, number][]): DataPlaneModel => ({
  groups: [{ groupId: 'g', name: 'wine', versions: versions.map(([n, w], i) => version(n, w, 7001 + i)) }],
});
const V12 = model([['v1', 50], ['v2', 50]]);
const V123 = model([['v1', 40], ['v2', 40], ['v3', 20]]);
const V23 = model([['v2', 50], ['v3', 50]]);

function routeClusters(any: { type_url?: string; value?: Buffer | Uint8Array | string }): string[] {
  const rc = unpackAny<RouteConfiguration__Output>(any as never);
  const out: string[] = [];
  for (const vh of rc.virtual_hosts ?? []) {
    for (const r of vh.routes ?? []) {
      if (r.route?.cluster) out.push(r.route.cluster);
      for (const c of r.route?.weighted_clusters?.clusters ?? []) out.push(c.name ?? '');
    }
  }
  return out;
}

interface Behaviour {
  /** NACK every route response after the first */
  nackRoutes?: boolean;
  /** stop answering after the first route response */
  silent?: boolean;
}

/** What a simulated proxy holds, with every violation of make-before-break it saw. */
class Holdings {
  clusters = new Set<string>();
  endpoints = new Set<string>();
  routes = new Map<string, string[]>();
  routeVersion = '';
  violations: string[] = [];
  routeResponses = 0;
  check(after: string) {
    for (const [rc, refs] of this.routes) {
      for (const c of refs) {
        if (!this.clusters.has(c)) this.violations.push(`after ${after}: route ${rc} names cluster ${c} not held`);
        if (!this.endpoints.has(c)) this.violations.push(`after ${after}: route ${rc} names endpoints ${c} not held`);
      }
    }
  }
}

/** An Envoy-like SotW client: wildcard CDS → EDS for its clusters → LDS → RDS, ACKing as it goes. */
function sotwProxy(client: ReturnType<typeof adsClient>, id: string, b: Behaviour = {}) {
  const s = new SotwStream(client);
  const h = new Holdings();
  const last: Record<string, { nonce: string; version: string }> = {};
  let edsNames: string[] = [];
  let started = false;
  s.call.on('data', (r: { type_url?: string; nonce?: string; version_info?: string; resources?: { type_url?: string; value?: Buffer }[] }) => {
    const url = r.type_url ?? '';
    if (b.silent && h.routeResponses > 0) return;
    if (url === TYPE_URL.cluster) {
      h.clusters = new Set((r.resources ?? []).map((a) => unpackAny<{ name: string }>(a).name));
      h.check('CDS');
      s.ack(r as never);
      last[url] = { nonce: r.nonce!, version: r.version_info! };
      const names = [...h.clusters].sort();
      if (names.join() !== edsNames.join()) {
        edsNames = names;
        const e = last[TYPE_URL.endpoint];
        s.send({ type_url: TYPE_URL.endpoint, resource_names: names, response_nonce: e?.nonce ?? '', version_info: e?.version ?? '' });
      }
    } else if (url === TYPE_URL.endpoint) {
      // SotW EDS/RDS: a response carries what changed; what it leaves out is kept (not deleted)
      for (const a of r.resources ?? []) h.endpoints.add(unpackAny<{ cluster_name: string }>(a).cluster_name);
      for (const n of [...h.endpoints]) if (!edsNames.includes(n)) h.endpoints.delete(n);
      h.check('EDS');
      last[url] = { nonce: r.nonce!, version: r.version_info! };
      s.send({ type_url: url, resource_names: edsNames, response_nonce: r.nonce!, version_info: r.version_info! });
      if (!started) {
        started = true;
        s.send({ type_url: TYPE_URL.listener });
      }
    } else if (url === TYPE_URL.listener) {
      s.ack(r as never);
      if (!last[url]) s.send({ type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] });
      last[url] = { nonce: r.nonce!, version: r.version_info! };
    } else if (url === TYPE_URL.route) {
      h.routeResponses += 1;
      if (b.nackRoutes && h.routeResponses > 1) {
        s.send({ type_url: url, resource_names: ['sluice-edge/wine'], response_nonce: r.nonce!, version_info: h.routeVersion, error_detail: { code: 3, message: 'refused' } });
        return;
      }
      for (const a of r.resources ?? []) h.routes.set(unpackAny<{ name: string }>(a).name, routeClusters(a));
      h.routeVersion = r.version_info!;
      h.check('RDS');
      s.ack(r as never, ['sluice-edge/wine']);
    }
  });
  s.send({ node: node(id), type_url: TYPE_URL.cluster });
  return { s, h };
}

/** The same proxy over delta xDS. */
function deltaProxy(client: ReturnType<typeof adsClient>, id: string) {
  const s = new DeltaStream(client);
  const h = new Holdings();
  let started = false;
  s.call.on('data', (r: { type_url?: string; nonce?: string; system_version_info?: string; removed_resources?: string[]; resources?: { name?: string; resource?: { type_url?: string; value?: Buffer } }[] }) => {
    const url = r.type_url ?? '';
    const apply = (set: Set<string>) => {
      for (const x of r.resources ?? []) set.add(x.name!);
      for (const n of r.removed_resources ?? []) set.delete(n);
    };
    if (url === TYPE_URL.cluster) {
      const before = new Set(h.clusters);
      apply(h.clusters);
      h.check('CDS');
      s.send({ type_url: url, response_nonce: r.nonce! });
      const added = [...h.clusters].filter((c) => !before.has(c));
      const gone = [...before].filter((c) => !h.clusters.has(c));
      if (added.length || gone.length) s.send({ type_url: TYPE_URL.endpoint, resource_names_subscribe: added, resource_names_unsubscribe: gone });
      for (const g of gone) h.endpoints.delete(g);
    } else if (url === TYPE_URL.endpoint) {
      apply(h.endpoints);
      h.check('EDS');
      s.send({ type_url: url, response_nonce: r.nonce! });
      if (!started) {
        started = true;
        s.send({ type_url: TYPE_URL.listener });
        s.send({ type_url: TYPE_URL.route, resource_names_subscribe: ['sluice-edge/wine'] });
      }
    } else if (url === TYPE_URL.listener) {
      s.send({ type_url: url, response_nonce: r.nonce! });
    } else if (url === TYPE_URL.route) {
      h.routeResponses += 1;
      for (const x of r.resources ?? []) h.routes.set(x.name!, routeClusters(x.resource!));
      for (const n of r.removed_resources ?? []) h.routes.delete(n);
      h.routeVersion = r.system_version_info!;
      h.check('RDS');
      s.send({ type_url: url, response_nonce: r.nonce! });
    }
  });
  s.send({ node: node(id), type_url: TYPE_URL.cluster });
  return { s, h };
}

async function waitFor(cond: () => boolean, what: string, ms = 8000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const routeVersion = (c: SnapshotCache) => c.getSnapshot('any')!.types[TYPE_URL.route].version;

describe('make-before-break across SotW and delta proxies', () => {
  let cache: SnapshotCache;
  let server: XdsServer;
  let client: ReturnType<typeof adsClient>;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    cache = new SnapshotCache();
    cache.setSnapshot(makeSnapshot(translate(V12, SETTINGS)));
    server = new XdsServer({ cache, holdTimeoutMs: 60_000 });
    client = adsClient(await server.listen(0, '127.0.0.1'));
  });
  afterAll(async () => {
    for (const c of closers) c();
    client.close();
    await server.close();
  });

  it('adding then removing a version: no proxy ever holds a route naming a cluster or endpoints it lacks', async () => {
    const healthy = [sotwProxy(client, 'sotw-1'), sotwProxy(client, 'sotw-2'), deltaProxy(client, 'delta-1'), deltaProxy(client, 'delta-2')];
    const nacker = sotwProxy(client, 'nacker', { nackRoutes: true });
    const silent = sotwProxy(client, 'silent', { silent: true });
    for (const p of [...healthy, nacker, silent]) closers.push(() => p.s.close());
    const all = [...healthy, nacker, silent];
    const v0 = routeVersion(cache);
    await waitFor(() => all.every((p) => p.h.routeVersion === v0), 'initial routes');

    cache.setSnapshot(makeSnapshot(translate(V123, SETTINGS)));
    const v1 = routeVersion(cache);
    await waitFor(() => healthy.every((p) => p.h.routeVersion === v1), 'v3 added on healthy proxies');
    for (const p of healthy) expect(p.h.routes.get('sluice-edge/wine')).toContain('sluice/wine/v3');

    cache.setSnapshot(makeSnapshot(translate(V23, SETTINGS)));
    const v2 = routeVersion(cache);
    await waitFor(() => healthy.every((p) => p.h.routeVersion === v2 && !p.h.clusters.has('sluice/wine/v1')), 'v1 removed on healthy proxies');

    for (const p of all) expect(p.h.violations).toEqual([]);
    // the NACKing proxy keeps its last good routes (v1, v2) and so keeps cluster v1
    expect(nacker.h.routeVersion).toBe(v0);
    expect(nacker.h.clusters.has('sluice/wine/v1')).toBe(true);
    // the silent proxy held nobody back and still has what it had
    expect(silent.h.routeVersion).toBe(v0);
    // the registry shows the NACK
    const n = server.registry.list().find((x) => x.nodeId === 'nacker')!;
    expect(n.types[TYPE_URL.route]?.lastNack?.message).toBe("refused");
  });
});

describe('holds are bounded in time', () => {
  it('a proxy that never ACKs its new clusters is served the routes after holdTimeoutMs', async () => {
    const cache = new SnapshotCache();
    cache.setSnapshot(makeSnapshot(translate(V12, SETTINGS)));
    const server = new XdsServer({ cache, holdTimeoutMs: 300 });
    const client = adsClient(await server.listen(0, '127.0.0.1'));
    // a proxy that ACKs its first CDS/EDS/RDS, then ignores everything but counts routes
    const s = new SotwStream(client);
    s.send({ node: node('stuck'), type_url: TYPE_URL.cluster });
    const cds = await s.next(TYPE_URL.cluster);
    s.ack(cds);
    s.send({ type_url: TYPE_URL.endpoint, resource_names: ['sluice/wine/v1', 'sluice/wine/v2'] });
    const eds = await s.next(TYPE_URL.endpoint);
    s.ack(eds, ['sluice/wine/v1', 'sluice/wine/v2']);
    s.send({ type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] });
    const rds = await s.next(TYPE_URL.route);
    s.ack(rds, ['sluice-edge/wine']);

    cache.setSnapshot(makeSnapshot(translate(V123, SETTINGS)));
    const cds2 = await s.next(TYPE_URL.cluster);
    expect(cds2.resources!.length).toBe(3);
    // the route waits for the CDS ACK that never comes… until the bound
    const t0 = Date.now();
    const rds2 = await s.next(TYPE_URL.route, 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(rds2.version_info).toBe(routeVersion(cache));
    s.close();
    client.close();
    await server.close();
  });
});

describe('the plan (pure)', () => {
  const snap = (m: DataPlaneModel) => makeSnapshot(translate(m, SETTINGS));
  it('holds a route naming an un-ACKed cluster; keeps a removed cluster a held route names', () => {
    const a = snap(V12);
    const b = snap(V123);
    const progress = {
      sent: { ...a.types },
      acked: { ...a.types },
      clustersByWildcard: true,
      wantsEndpoints: () => true,
      expired: false,
    };
    const p = plan(b, progress);
    expect(p.heldRoutes).toEqual(['sluice-edge/wine', 'wine.sluice']);
    expect(p.snapshot.types[TYPE_URL.route]).toEqual(a.types[TYPE_URL.route]);
    expect(p.snapshot.types[TYPE_URL.cluster]).toBe(b.types[TYPE_URL.cluster]);
    // clusters ACKed, endpoints not yet: still held
    expect(plan(b, { ...progress, acked: { ...a.types, [TYPE_URL.cluster]: b.types[TYPE_URL.cluster] } }).heldRoutes.length).toBe(2);
    // both ACKed: the target
    const warm = { ...a.types, [TYPE_URL.cluster]: b.types[TYPE_URL.cluster], [TYPE_URL.endpoint]: b.types[TYPE_URL.endpoint] };
    expect(plan(b, { ...progress, acked: warm }).snapshot).toBe(b);
    // removal: v1 stays while the sent/ACKed routes name it
    const c = snap(V23);
    const r = plan(c, { ...progress, sent: { ...b.types }, acked: { ...b.types } });
    expect(r.keptClusters).toEqual(['sluice/wine/v1']);
    expect(r.snapshot.types[TYPE_URL.endpoint].resources.has('sluice/wine/v1')).toBe(true);
    const after = plan(c, { ...progress, sent: { ...b.types, [TYPE_URL.route]: c.types[TYPE_URL.route] }, acked: { ...b.types, [TYPE_URL.route]: c.types[TYPE_URL.route] } });
    expect(after.keptClusters).toEqual([]);
    // proxyless (clusters by name): never held
    expect(plan(b, { ...progress, clustersByWildcard: false }).snapshot).toBe(b);
  });
});
