// OIP gRPC routed by xDS. Envoy: the edge route configuration carries, per group, routes
// for `/inference.GRPCInferenceService/` told apart by `:authority` = `{group}.sluice`
// (KServe routes gRPC by host), pinned by x-sluice-version or split by the same weights as
// /predict, with credentials and rate limits as there; the version clusters speak the
// client's protocol (HTTP/2 for gRPC) to runtimes that serve both on one port. No Envoy
// binary is here, so those routes are checked as decoded resources. Proxyless: a real
// grpc-js-xds client resolving `xds:///{group}.sluice` calls ModelInfer on two real demo
// runtimes and gets the 80/20 split from the per-group API listener.
/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protocol messages of varying shape, asserted field by field */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackAny } from '../../proto/envoy.ts';
import { apiListenerName, oipGrpcAuthorityRegex } from '../../xds/contract.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { translate } from '../../xds/translate.ts';
import { SETTINGS, version } from '../xds/fixtures/model.ts';
import { demoEnv, spawnRuntime, waitReady, type SpawnedRuntime } from '../runtime/spawn-runtime.ts';

type Obj = Record<string, any>;
const decoded = (any: unknown): Obj => unpackAny<Obj>(any as never);
const portOf = (r: SpawnedRuntime) => Number(new URL(r.url).port);

describe('OIP gRPC routes for Envoy (decoded)', () => {
  const model: DataPlaneModel = {
    groups: [{ groupId: 'g', name: 'wine', versions: [version('v1', 80, 9001, { authEnabled: true, qpsLimit: 5 }), version('v2', 20, 9002)] }],
  };
  const res = translate(model, SETTINGS);
  const rc = decoded(res.routes.find((r) => r.name === 'sluice-edge/wine')!.resource);
  const routes: Obj[] = rc.virtual_hosts[0].routes;
  const byName = (n: string) => routes.find((r) => r.name === n) as Obj;

  it('a weighted default route matched by gRPC path prefix and :authority, before the catch-all', () => {
    const def = byName('wine/oip-grpc/default');
    expect(def.match.prefix).toBe('/inference.GRPCInferenceService/');
    expect(def.match.grpc).toEqual({});
    expect(def.match.headers).toEqual([
      expect.objectContaining({ name: ':authority', string_match: expect.objectContaining({ safe_regex: expect.objectContaining({ regex: oipGrpcAuthorityRegex('wine') }) }) }),
    ]);
    expect(new RegExp(oipGrpcAuthorityRegex('wine')).test('wine.sluice:10000')).toBe(true);
    expect(new RegExp(oipGrpcAuthorityRegex('wine')).test('winery.sluice')).toBe(false);
    const clusters = def.route.weighted_clusters.clusters.map((c: Obj) => [c.name, c.weight.value]);
    expect(clusters).toEqual([
      ['sluice/wine/v1', 80],
      ['sluice/wine/v2', 20],
    ]);
    expect(def.route.rate_limits).toHaveLength(1);
    expect(routes.findIndex((r) => r.name === 'wine/oip-grpc/default')).toBeLessThan(routes.findIndex((r) => r.name === 'not-found'));
  });

  it('pin routes by x-sluice-version; credentials as /predict, no body capture of protobuf', () => {
    const pin = byName('wine/oip-grpc/pin/v1');
    expect(pin.route.cluster).toBe('sluice/wine/v1');
    expect(pin.match.headers.map((h: Obj) => h.name)).toEqual([':authority', 'x-sluice-version']);
    const filters = pin.typed_per_filter_config;
    expect(decoded(filters['sluice.capture'])).toMatchObject({ disabled: true });
    expect(filters['envoy.filters.http.ext_proc']).toBeUndefined();
    const predictPin = byName('wine/pin/v1').typed_per_filter_config;
    expect(filters['envoy.filters.http.ext_authz']).toEqual(predictPin['envoy.filters.http.ext_authz']);
  });

  it('version clusters speak HTTP/2 to the runtime when the client did', () => {
    const c = decoded(res.clusters.find((x) => x.name === 'sluice/wine/v1')!.resource);
    const opts = decoded(c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
    expect(opts.use_downstream_protocol_config.http2_protocol_options).toEqual({});
  });
});

describe('proxyless OIP gRPC clients get the split (grpc-js-xds)', () => {
  let r1: SpawnedRuntime, r2: SpawnedRuntime;
  let control: XdsControl;
  let xdsPort: number;
  beforeAll(async () => {
    [r1, r2] = await Promise.all([spawnRuntime(demoEnv('1')), spawnRuntime(demoEnv('2'))]);
    await Promise.all([waitReady(r1.url), waitReady(r2.url)]);
    const model: DataPlaneModel = { groups: [{ groupId: 'g', name: 'wine-quality', versions: [version('v1', 80, portOf(r1)), version('v2', 20, portOf(r2))] }] };
    control = createXdsControl({ loadModel: async () => model, settings: SETTINGS, debounceMs: 1 });
    xdsPort = await control.start(0, '127.0.0.1');
  }, 60_000);
  afterAll(async () => {
    await control?.close();
    await Promise.all([r1?.stop(), r2?.stop()]);
  });

  it('ModelInfer through xds:///wine-quality.sluice lands 80/20 on the two versions', async () => {
    const bootstrap = {
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'oip-proxyless-1', cluster: 'sluice-test', locality: {} },
    };
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/oip-xds-client.ts', import.meta.url))], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap), GRPC_VERBOSITY: 'NONE', TARGET: `xds:///${apiListenerName('wine-quality')}`, CALLS: '300', MODEL: 'wine-classifier' },
      timeout: 60_000,
    });
    const { counts, error } = JSON.parse(stdout.trim().split('\n').pop() as string) as { counts: Record<string, number>; error: string | null };
    expect(error).toBeNull();
    // the runtimes answer with their model version: 1 behind v1, 2 behind v2
    expect((counts['1'] ?? 0) + (counts['2'] ?? 0)).toBe(300);
    expect(Math.abs((counts['1'] ?? 0) / 3 - 80)).toBeLessThanOrEqual(8);
  }, 90_000);
});
