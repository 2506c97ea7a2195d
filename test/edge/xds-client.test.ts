// The edge's ADS client against the real xDS server: what it subscribes to, that it ACKs
// what it uses and NACKs what it cannot (keeping its last good table), and that it
// reconnects and re-subscribes after the server goes away.
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVOY_TYPES, TYPE_URL, packAny } from '../../proto/envoy.ts';
import { makeSnapshot } from '../../xds/cache.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { translate, type EnvoyResources } from '../../xds/translate.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { XdsRoutingClient, defaultNodeId } from '../../gateway/edge/xds-client.ts';
import type { RoutingTable } from '../../gateway/edge/routing.ts';
import { SETTINGS, dpVersion, sleep } from './helpers.ts';

const model = (weights: [number, number], ports: [number, number] = [9001, 9002]): DataPlaneModel => ({
  groups: [
    {
      groupId: 'g',
      name: 'wine',
      versions: [dpVersion({ name: 'v1', weight: weights[0], ports: [ports[0]] }), dpVersion({ name: 'v2', weight: weights[1], ports: [ports[1]] })],
    },
  ],
});

const weightsOf = (t: RoutingTable) => Object.fromEntries((t.groups.get('wine')?.weighted ?? []).map((w) => [w.version.name, w.weight]));

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('edge xDS client', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function control(m: DataPlaneModel, port = 0): Promise<{ xds: XdsControl; port: number; set(m: DataPlaneModel): Promise<void> }> {
    let current = m;
    const xds = createXdsControl({ loadModel: async () => current, settings: SETTINGS, debounceMs: 1 });
    const bound = await xds.start(port, '127.0.0.1');
    cleanup.push(() => xds.close());
    return {
      xds,
      port: bound,
      async set(next) {
        current = next;
        await xds.rebuild();
      },
    };
  }

  function client(port: number, backoff = { backoffMinMs: 50, backoffMaxMs: 200 }): XdsRoutingClient {
    const c = new XdsRoutingClient({ address: `127.0.0.1:${port}`, nodeId: `edge-${Math.random().toString(36).slice(2)}`, ...backoff }).start();
    cleanup.push(() => c.close());
    return c;
  }

  it('names itself sluice-edge-<host>-<pid>', () => {
    expect(defaultNodeId()).toBe(`sluice-edge-${hostname()}-${process.pid}`);
  });

  it('subscribes LDS → RDS → CDS → EDS by name and ACKs every type', async () => {
    const cp = await control(model([80, 20]));
    const c = client(cp.port);
    expect(await c.ready()).toBe(true);
    const t = c.current();
    expect(weightsOf(t)).toEqual({ v1: 80, v2: 20 });
    expect(t.groups.get('wine')?.pins.get('v2')?.endpoints).toEqual([{ host: '127.0.0.1', port: 9002, instance: 'v2-0' }]);
    const snap = cp.xds.current!;
    await until('all types synced', () => {
      const p = cp.xds.registry.byNode(c.nodeId)[0];
      return Boolean(p && [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint].every((u) => p.types[u]?.state === 'SYNCED'));
    });
    const p = cp.xds.registry.byNode(c.nodeId)[0]!;
    expect(p.types[TYPE_URL.listener]?.subscribed).toEqual(['sluice-edge']);
    // the edge listener's routes are scoped per group: one RDS name per group
    expect(p.types[TYPE_URL.route]?.subscribed).toEqual(['sluice-edge/wine']);
    expect(p.types[TYPE_URL.cluster]?.subscribed).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    expect(p.types[TYPE_URL.endpoint]?.subscribed).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    expect(p.types[TYPE_URL.route]?.ackedVersion).toBe(snap.types[TYPE_URL.route].version);
    expect(c.stats.versions.route).toBe(snap.types[TYPE_URL.route].version);
    expect(c.stats.nacks).toBe(0);
  });

  it('takes pushed changes and emits a new immutable table each time', async () => {
    const cp = await control(model([80, 20]));
    const c = client(cp.port);
    await c.ready();
    const seen: RoutingTable[] = [];
    c.onChange((t) => seen.push(t));
    const before = c.current();
    await cp.set(model([10, 90], [9001, 9003]));
    await until('new weights and endpoint', () => weightsOf(c.current()).v2 === 90 && c.current().groups.get('wine')?.pins.get('v2')?.endpoints[0]?.port === 9003);
    expect(Object.isFrozen(c.current())).toBe(true);
    expect(weightsOf(before)).toEqual({ v1: 80, v2: 20 });
    expect(seen.length).toBeGreaterThan(0);
    // a version going away: its cluster leaves the CDS subscription
    await cp.set({ groups: [{ groupId: 'g', name: 'wine', versions: [dpVersion({ name: 'v1', weight: 100, ports: [9001] })] }] });
    await until('v2 gone', () => !c.current().groups.get('wine')?.pins.has('v2'));
    await until('CDS narrowed', () => {
      const p = cp.xds.registry.byNode(c.nodeId)[0];
      return JSON.stringify(p?.types[TYPE_URL.cluster]?.subscribed) === JSON.stringify(['sluice/wine/v1']);
    });
  });

  it('NACKs a listener or routes it cannot use and keeps serving the last good table', async () => {
    const cp = await control(model([80, 20]));
    const c = client(cp.port);
    await c.ready();
    const good = translate(model([80, 20]), SETTINGS);

    // a listener whose connection manager carries its routes inline (no RDS)
    const badListener = packAny(ENVOY_TYPES.listener, {
      name: 'sluice-edge',
      filter_chains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: packAny(ENVOY_TYPES.httpConnectionManager, {
                stat_prefix: 'x',
                route_config: { name: 'inline' },
                http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(ENVOY_TYPES.router, {}) }],
              }),
            },
          ],
        },
      ],
    });
    const withBadListener: EnvoyResources = {
      ...good,
      listeners: good.listeners.map((l) => (l.name === 'sluice-edge' ? { ...l, resource: badListener, hash: 'bad-listener' } : l)),
    };
    cp.xds.cache.setSnapshot(makeSnapshot(withBadListener));
    await until('LDS NACK', () => c.stats.nacks >= 1);
    const p = cp.xds.registry.byNode(c.nodeId)[0]!;
    expect(p.types[TYPE_URL.listener]?.state).toBe('NACKED');
    expect(p.types[TYPE_URL.listener]?.lastNack?.message).toMatch(/RDS/);
    expect(weightsOf(c.current())).toEqual({ v1: 80, v2: 20 });

    // routes whose /predict route picks its cluster from a header: not something the edge does
    const badRoutes = packAny(ENVOY_TYPES.routeConfiguration, {
      name: 'sluice-edge/wine',
      virtual_hosts: [{ name: 'sluice', domains: ['*'], routes: [{ name: 'x', match: { path: '/services/wine/predict' }, route: { cluster_header: 'x-cluster' } }] }],
    });
    const withBadRoutes: EnvoyResources = {
      ...good,
      routes: good.routes.map((r) => (r.name === 'sluice-edge/wine' ? { ...r, resource: badRoutes, hash: 'bad-routes' } : r)),
    };
    cp.xds.cache.setSnapshot(makeSnapshot(withBadRoutes));
    await until('RDS NACK', () => c.stats.lastNack?.typeUrl === TYPE_URL.route);
    expect(weightsOf(c.current())).toEqual({ v1: 80, v2: 20 });
    expect(c.stats.versions.route).toBe(makeSnapshot(good).types[TYPE_URL.route].version);

    // a good config again is ACKed and used
    await cp.set(model([50, 50]));
    await until('good config taken', () => weightsOf(c.current()).v1 === 50);
    await until('RDS synced', () => cp.xds.registry.byNode(c.nodeId)[0]?.types[TYPE_URL.route]?.state === 'SYNCED');
  });

  it('keeps its table while the server is away, then reconnects and re-subscribes', async () => {
    const first = await control(model([80, 20]));
    const c = client(first.port);
    await c.ready();
    await first.xds.close();
    await until('disconnected', () => !c.stats.connected);
    expect(weightsOf(c.current())).toEqual({ v1: 80, v2: 20 });
    const streamsBefore = c.stats.streams;
    await until('a few failed reconnects', () => c.stats.streams >= streamsBefore + 2);
    const second = await control(model([30, 70]), first.port);
    await until('reconnected with the new config', () => weightsOf(c.current()).v2 === 70, 10_000);
    expect(c.stats.streams).toBeGreaterThanOrEqual(2);
    await until('synced on the new server', () => second.xds.registry.byNode(c.nodeId)[0]?.types[TYPE_URL.endpoint]?.state === 'SYNCED');
  });

  it('reconnects at once when told the server is back, instead of waiting out a long back-off', async () => {
    const first = await control(model([80, 20]));
    // the back-off has grown to its cap (20 s) while the server was away
    const c = client(first.port, { backoffMinMs: 20_000, backoffMaxMs: 20_000 });
    await c.ready();
    await first.xds.close();
    await until('disconnected', () => !c.stats.connected);
    const second = await control(model([30, 70]), first.port);
    await sleep(300);
    expect(weightsOf(c.current())).toEqual({ v1: 80, v2: 20 }); // still waiting
    const told = Date.now();
    expect(c.reconnectNow()).toBe(true);
    await until('the new config', () => weightsOf(c.current()).v2 === 70, 5_000);
    expect(Date.now() - told).toBeLessThan(5_000);
    await until('synced on the new server', () => second.xds.registry.byNode(c.nodeId)[0]?.types[TYPE_URL.endpoint]?.state === 'SYNCED');
    // one stream: the replaced one ended quietly, nothing else reconnects behind it
    expect(second.xds.registry.byNode(c.nodeId)).toHaveLength(1);
    expect(c.reconnectNow()).toBe(false); // receiving: nothing to do
    await sleep(200);
    expect(second.xds.registry.byNode(c.nodeId)).toHaveLength(1);
  });
});
