// Sticky A/B and proxyless gRPC (@grpc/grpc-js-xds 1.14), specified as it is: the client
// takes the sticky route configuration (use_hash_policy + header hash policy) without a
// NACK and keeps serving, but it picks the weighted cluster with Math.random() and uses the
// header hash only to choose a replica inside the cluster (RING_HASH). So a proxyless
// caller is sticky to a replica, not to a version; it pins a version with x-sluice-version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../proto/envoy.ts';
import { apiListenerName } from '../../xds/contract.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { startBackend, type Backend } from '../xds/fixtures/backend.ts';
import { startXdsClient, type XdsClientProcess } from '../xds/fixtures/client-process.ts';
import { SETTINGS, twoVersionModel } from '../xds/fixtures/model.ts';

const TARGET = `xds:///${apiListenerName('wine')}`;
let v1: Backend, v2: Backend;
let control: XdsControl;
let client: XdsClientProcess;

beforeAll(async () => {
  v1 = await startBackend('v1');
  v2 = await startBackend('v2');
  const model = twoVersionModel('wine', ['v1', 80, v1.port], ['v2', 20, v2.port]);
  control = createXdsControl({ loadModel: async () => model, settings: { ...SETTINGS, stickyHeader: 'x-user' }, debounceMs: 10 });
  const port = await control.start(0, '127.0.0.1');
  client = await startXdsClient(port, 'grpc-sticky');
});
afterAll(async () => {
  await client?.stop();
  await control?.close();
  await v1?.close();
  await v2?.close();
});

describe('grpc-js-xds with a sticky header', () => {
  it('ACKs the sticky configuration and serves; the version is still drawn per call', async () => {
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 200, metadata: { 'x-user': 'caller-1' } });
    expect(r.errors).toEqual({});
    expect((r.counts.v1 ?? 0) + (r.counts.v2 ?? 0)).toBe(200);
    // what proxyless gRPC supports today: both versions answer the same caller
    expect(r.counts.v1).toBeGreaterThan(0);
    expect(r.counts.v2).toBeGreaterThan(0);
    const proxy = control.registry.byNode(client.nodeId)[0]!;
    for (const url of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint]) expect(proxy.types[url]?.state).toBe('SYNCED');
  });

  it('a proxyless caller stays on one version by pinning it', async () => {
    const r = await client.send({ cmd: 'calls', target: TARGET, count: 50, pin: 'v2', metadata: { 'x-user': 'caller-1' } });
    expect(r.counts).toEqual({ v2: 50 });
  });
});
