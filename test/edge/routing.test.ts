// routing.ts on its own: the table read out of what xds/translate.ts emits, the weighted
// pick with an injected random source, and the configs it refuses (which the client NACKs).
import { describe, expect, it } from 'vitest';
import { ENVOY_TYPES, packAny } from '../../proto/envoy.ts';
import { translate } from '../../xds/translate.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import {
  RoutingConfigError,
  parseCluster,
  parseLoadAssignment,
  parseRouteConfiguration,
  pickVersion,
  routingTableFromResources,
  type EdgeGroup,
} from '../../gateway/edge/routing.ts';
import { decode } from '../../proto/envoy.ts';
import type { RouteConfiguration__Output } from '../../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import { SETTINGS, dpVersion } from './helpers.ts';

const model: DataPlaneModel = {
  groups: [
    {
      groupId: 'g1',
      name: 'wine',
      versions: [
        dpVersion({ name: 'v1', weight: 0.8, ports: [9001, 9002], auth: true, qps: 10 }),
        dpVersion({ name: 'v2', weight: 0.2, ports: [9003], capture: true }),
      ],
    },
    { groupId: 'g2', name: 'idle', versions: [] },
  ],
};

const table = () => routingTableFromResources(translate(model, SETTINGS));
const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length] as number;
};

describe('routing table from the xDS translation', () => {
  it('reads pins, the split (any weight scale), policies and endpoints', () => {
    const t = table();
    const wine = t.groups.get('wine') as EdgeGroup;
    expect([...wine.pins.keys()]).toEqual(['v1', 'v2']);
    expect(wine.weighted.map((w) => [w.version.name, w.weight])).toEqual([
      ['v1', 800],
      ['v2', 200],
    ]);
    const v1 = wine.pins.get('v1')!;
    expect(v1.cluster).toBe('sluice/wine/v1');
    expect(v1.policy).toEqual({ auth: true, rateLimited: true, capture: false });
    expect(wine.pins.get('v2')!.policy).toEqual({ auth: false, rateLimited: true, capture: true });
    expect(v1.endpoints.map((e) => e.port)).toEqual([9001, 9002]);
    expect(v1.timeoutMs).toBe(60_000);
    expect(wine.unknownPin).toMatchObject({ status: 404, code: 'RESOURCE_DOES_NOT_EXIST' });
    expect(t.groups.get('idle')?.direct).toMatchObject({ status: 503, code: 'TEMPORARILY_UNAVAILABLE' });
    expect(t.notFound).toMatchObject({ status: 404, code: 'RESOURCE_DOES_NOT_EXIST' });
    expect(Object.isFrozen(wine)).toBe(true);
  });

  it("enforces a version's limit when Envoy is told to limit locally (local_ratelimit, no descriptors)", () => {
    const local = routingTableFromResources(translate(model, { ...SETTINGS, rateLimit: { mode: 'local', proxies: 3 } }));
    const wine = local.groups.get('wine') as EdgeGroup;
    expect(wine.pins.get('v1')!.policy.rateLimited).toBe(true);
    expect(wine.weighted.find((w) => w.version.name === 'v1')!.version.policy.rateLimited).toBe(true);
  });

  it('keeps checking a JWT-only version whose routes name jwt_authn instead of ext_authz', () => {
    const jwtOnly: DataPlaneModel = {
      groups: [{ groupId: 'g1', name: 'wine', versions: [{ ...dpVersion({ name: 'v1', weight: 1, ports: [9001], auth: true }), authJwtOnly: true }] }],
    };
    const jwt = { jwksUrl: 'https://idp.test/certs', issuers: ['https://idp.test'], audiences: ['sluice'], groupsClaim: 'sluice_groups' };
    const wine = routingTableFromResources(translate(jwtOnly, { ...SETTINGS, jwt })).groups.get('wine') as EdgeGroup;
    expect(wine.pins.get('v1')!.policy.auth).toBe(true);
    expect(wine.weighted[0]!.version.policy.auth).toBe(true);
  });

  it('picks by weight with the random source it is given', () => {
    const wine = table().groups.get('wine')!;
    const names = [0, 0.79, 0.8, 0.99].map((r) => {
      const p = pickVersion(wine, undefined, () => r);
      return p.kind === 'version' ? p.version.name : p.answer.code;
    });
    expect(names).toEqual(['v1', 'v1', 'v2', 'v2']);
    // pins win over the draw; an unknown pin gets the route's answer
    expect(pickVersion(wine, 'v2', seq(0))).toMatchObject({ kind: 'version', pinned: true, version: { name: 'v2' } });
    expect(pickVersion(wine, 'v7', seq(0))).toMatchObject({ kind: 'answer', answer: { status: 404 } });
  });

  it('gives the share of a version with no endpoints to the others', () => {
    const m: DataPlaneModel = {
      groups: [{ groupId: 'g', name: 'wine', versions: [dpVersion({ name: 'v1', weight: 50, ports: [] }), dpVersion({ name: 'v2', weight: 50, ports: [9003] })] }],
    };
    const wine = routingTableFromResources(translate(m, SETTINGS)).groups.get('wine')!;
    for (const r of [0, 0.3, 0.6, 0.99]) expect(pickVersion(wine, undefined, () => r)).toMatchObject({ version: { name: 'v2' } });
  });

  it('refuses routes it cannot serve from, with a reason', () => {
    const rc = (routes: object[]) =>
      decode<RouteConfiguration__Output>(
        ENVOY_TYPES.routeConfiguration,
        packAny(ENVOY_TYPES.routeConfiguration, { name: 'sluice-edge', virtual_hosts: [{ name: 'x', domains: ['*'], routes }] }).value,
      );
    expect(() => parseRouteConfiguration(rc([{ match: { path: '/services/wine/predict' }, route: { cluster_header: 'x' } }]))).toThrow(RoutingConfigError);
    expect(() =>
      parseRouteConfiguration(rc([{ match: { path: '/services/wine/predict', headers: [{ name: 'x-other', string_match: { exact: 'a' } }] }, route: { cluster: 'sluice/wine/v1' } }])),
    ).toThrow(/x-other/);
    expect(() => parseRouteConfiguration(rc([{ match: { path: '/services/wine/predict' }, route: { cluster: 'elsewhere' } }]))).toThrow(/which version/);
    // routes for other paths are not the edge's business
    expect(parseRouteConfiguration(rc([{ match: { path: '/other' }, route: { cluster: 'elsewhere' } }])).groups.size).toBe(0);
  });

  it('refuses clusters and endpoints it cannot use', () => {
    expect(() => parseCluster({ name: 'sluice/wine/v1', type: 'STATIC' })).toThrow(/only EDS/);
    expect(() => parseCluster({ name: 'sluice/wine/v1', type: 'EDS', eds_cluster_config: { eds_config: { path: '/x' } } })).toThrow(/ADS/);
    expect(() =>
      parseLoadAssignment({ cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } } }] }] }),
    ).toThrow(/bad address/);
    // unhealthy and draining endpoints are left out
    expect(
      parseLoadAssignment({
        cluster_name: 'c',
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 1 } } }, health_status: 'UNHEALTHY' },
              { endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 2 } } }, health_status: 'DRAINING' },
              { endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: 3 } } }, health_status: 'HEALTHY' },
            ],
          },
        ],
      }).map((e) => e.host),
    ).toEqual(['10.0.0.3']);
  });
});
