// The xDS server against a real, independent xDS client: @grpc/grpc-js-xds, each client
// in its own process (its bootstrap is read once per process). Two tiny gRPC backends
// answer with their version name, so the split is counted where calls land.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_TYPES, TYPE_URL, packAny } from '../../proto/envoy.ts';
import { makeSnapshot } from '../../xds/cache.ts';
import { apiListenerName } from '../../xds/contract.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { contentHash, translate } from '../../xds/translate.ts';
import { startBackend, type Backend } from './fixtures/backend.ts';
import { startXdsClient, type XdsClientProcess } from './fixtures/client-process.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const TARGET = `xds:///${apiListenerName('wine')}`;

let v1: Backend;
let v2: Backend;
let control: XdsControl;
let client: XdsClientProcess;
let current: DataPlaneModel;
let loads = 0;

function wine(w1: number | null, w2: number | null): DataPlaneModel {
  const versions = [];
  if (w1 !== null) versions.push(version('v1', w1, v1.port));
  if (w2 !== null) versions.push(version('v2', w2, v2.port));
  return { groups: [{ groupId: 'g-wine', name: 'wine', versions }] };
}

async function waitFor(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const proxy = () => {
  const list = control.registry.byNode(client.nodeId);
  expect(list).toHaveLength(1);
  return list[0]!;
};

beforeAll(async () => {
  v1 = await startBackend('v1');
  v2 = await startBackend('v2');
  current = wine(80, 20);
  control = createXdsControl({
    loadModel: async () => {
      loads++;
      return current;
    },
    settings: SETTINGS,
    debounceMs: 20,
  });
  const port = await control.start(0, '127.0.0.1');
  client = await startXdsClient(port, 'grpc-client-1');
});

afterAll(async () => {
  await client?.stop();
  await control?.close();
  await v1?.close();
  await v2?.close();
});

describe('grpc-js-xds client', () => {
  it('1,000 calls over an 80/20 split land within ±5 points', async () => {
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 1000 });
    expect(r.errors).toEqual({});
    const share1 = ((r.counts.v1 ?? 0) / 1000) * 100;
    expect(share1).toBeGreaterThanOrEqual(75);
    expect(share1).toBeLessThanOrEqual(85);
    expect((r.counts.v1 ?? 0) + (r.counts.v2 ?? 0)).toBe(1000);
    // the client ACKed every type it was sent
    const p = proxy();
    for (const url of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint]) {
      expect(p.types[url]?.state).toBe('SYNCED');
    }
    expect(p.types[TYPE_URL.listener]!.subscribed).toEqual(['wine.sluice']);
  });

  it('the pin header sends every call to the named version', async () => {
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 50, pin: 'v2' });
    expect(r.counts).toEqual({ v2: 50 });
  });

  it('a weight change moves the live client to 0/100 within 1 s, on the same stream', async () => {
    const before = proxy();
    const loadsBefore = loads;
    current = wine(0, 100);
    // a burst of domain events becomes one rebuild
    for (let i = 0; i < 10; i++) control.trigger();
    const moved = client.send({ cmd: 'until', target: TARGET, version: 'v2', consecutive: 30, timeoutMs: 5000 });
    await control.settled();
    expect(loads - loadsBefore).toBe(1);
    // from the trigger, the first call of an unbroken run of v2 answers started within 1 s
    expect((await moved).switchedAfterMs).toBeLessThanOrEqual(1000);
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 200 });
    expect(r.counts).toEqual({ v2: 200 });
    const after = proxy();
    expect(after.streamId).toBe(before.streamId);
    expect(after.connectedAt).toEqual(before.connectedAt);
    await waitFor(() => proxy().types[TYPE_URL.route]?.ackedVersion === control.current!.types[TYPE_URL.route].version);
  });

  it('removing a version stops its calls', async () => {
    current = wine(50, 50);
    control.trigger();
    await control.settled();
    await client.send({ cmd: 'until', target: TARGET, version: 'v1', consecutive: 1, timeoutMs: 2000 });
    current = wine(null, 100);
    control.trigger();
    await control.settled();
    await client.send({ cmd: 'until', target: TARGET, version: 'v2', consecutive: 30, timeoutMs: 2000 });
    const v1Calls = v1.calls;
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 200 });
    expect(r.counts).toEqual({ v2: 200 });
    expect(v1.calls).toBe(v1Calls);
    // its cluster is gone from what the client holds
    await waitFor(() => proxy().types[TYPE_URL.cluster]?.ackedVersion === control.current!.types[TYPE_URL.cluster].version);
    expect(control.current!.types[TYPE_URL.cluster].resources.has('sluice/wine/v1')).toBe(false);
  });

  it('a route the client cannot accept is NACKed, shows in the registry, and the last good config keeps serving', async () => {
    current = wine(80, 20);
    control.trigger();
    await control.settled();
    await client.send({ cmd: 'until', target: TARGET, version: 'v1', consecutive: 1, timeoutMs: 2000 });
    await waitFor(() => proxy().types[TYPE_URL.route]?.state === 'SYNCED');
    // hand-made: a split whose weights sum to zero (gRFC A28 says reject)
    const good = translate(current, SETTINGS);
    const badRoute = packAny(ENVOY_TYPES.routeConfiguration, {
      name: 'wine.sluice',
      virtual_hosts: [
        {
          name: 'wine',
          domains: ['*'],
          routes: [
            {
              match: { prefix: '/' },
              route: {
                weighted_clusters: {
                  clusters: [
                    { name: 'sluice/wine/v1', weight: { value: 0 } },
                    { name: 'sluice/wine/v2', weight: { value: 0 } },
                  ],
                },
              },
            },
          ],
        },
      ],
    });
    const routes = good.routes.map((r) =>
      r.name === 'wine.sluice' ? { ...r, resource: badRoute, hash: contentHash(badRoute.value) } : r,
    );
    const bad = makeSnapshot({ ...good, routes });
    control.cache.setSnapshot(bad);
    await waitFor(() => proxy().types[TYPE_URL.route]?.lastNack?.version === bad.types[TYPE_URL.route].version);
    const t = proxy().types[TYPE_URL.route]!;
    expect(t.state).toBe('NACKED');
    expect(t.lastNack!.message).toMatch(/sum of weights is 0/);
    expect(t.ackedVersion).not.toBe(bad.types[TYPE_URL.route].version);
    // still routed by the last good 80/20 config
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 200 });
    expect(r.errors).toEqual({});
    expect(r.counts.v1 ?? 0).toBeGreaterThan(100);
    expect(r.counts.v2 ?? 0).toBeGreaterThan(10);
    // the next good snapshot is taken again
    current = wine(10, 90);
    await control.rebuild();
    await waitFor(() => proxy().types[TYPE_URL.route]?.state === 'SYNCED');
    expect(proxy().types[TYPE_URL.route]!.ackedVersion).toBe(control.current!.types[TYPE_URL.route].version);
  });
});
