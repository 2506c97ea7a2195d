// The one-pass strict encoder (proto/strict-encode.ts, behind proto/envoy.ts encode/packAny)
// writes exactly what protobufjs writes, for every resource translation makes — with every
// feature on (auth, capture, QPS limits in both modes, sticky A/B, mirror, concurrency caps,
// scale to zero) — and refuses what the strict check refuses.
import { describe, expect, it } from 'vitest';
import { ENVOY_TYPES, EnvoyProtoError, encode, lookupType, packAny, unpackAny } from '../../proto/envoy.ts';
import type { DataPlaneModel, DataPlaneSettings } from '../../xds/model.ts';
import { translate } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const model: DataPlaneModel = {
  groups: [
    {
      groupId: 'g',
      name: 'wine',
      mirror: { version: 'v2', percent: 10 },
      versions: [
        version('v1', 70, 7001, { authEnabled: true, qpsLimit: 5, inferenceTable: { enabled: true, sampleRate: 1, maxBodyBytes: 20 * 1024 * 1024 }, maxConcurrency: 4, queueDepth: 8 }),
        version('v2', 30.5, 7002, { scaleToZero: true, endpoints: [] }),
      ],
    },
    { groupId: 'e', name: 'empty', versions: [] },
  ],
};
const settings: DataPlaneSettings[] = [
  SETTINGS,
  { ...SETTINGS, stickyHeader: 'x-user', gatewayToken: 'secret', rateLimit: { mode: 'local', proxies: 3 } },
];

describe('strict encoder', () => {
  it('writes a frozen value once and copies it after, for the field it was met in; an unfrozen one each time', () => {
    const type = 'envoy.config.route.v3.RouteConfiguration';
    const route = (name: string, seconds: number) => ({ name, match: { prefix: '/' }, route: { cluster: 'c', timeout: { seconds } } });
    const shared = Object.freeze(route('shared', 60)) as ReturnType<typeof route>;
    Object.freeze(shared.match);
    Object.freeze(shared.route);
    Object.freeze(shared.route.timeout);
    const config = (routes: object[]) => ({ name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] });
    const plain = (routes: object[]) => {
      const t = lookupType(type);
      return Buffer.from(t.encode(t.fromObject(config(routes))).finish());
    };
    const twice = [shared, route('own', 5), shared];
    expect(Buffer.from(encode(type, config(twice))).equals(plain(twice))).toBe(true);
    expect(Buffer.from(encode(type, config(twice))).equals(plain(twice))).toBe(true);
    // an unfrozen value is encoded each time: an edit in place shows
    const mutable = route('own', 5);
    expect(Buffer.from(encode(type, config([mutable]))).equals(plain([mutable]))).toBe(true);
    mutable.route.timeout.seconds = 7;
    expect(Buffer.from(encode(type, config([mutable]))).equals(plain([route('own', 7)]))).toBe(true);
    // a frozen value is still checked, the first time
    const bad = Object.freeze({ name: 'x', match: Object.freeze({ prefix: '/' }), nonsense: 1 });
    expect(() => encode(type, config([bad]))).toThrow(EnvoyProtoError);
  });

  it('gives protobufjs’s bytes for every translated resource', () => {
    for (const s of settings) {
      const res = translate(model, s);
      for (const r of [...res.listeners, ...res.routes, ...res.clusters, ...res.endpoints]) {
        const type = lookupType(r.resource.type_url);
        const decoded = unpackAny<Record<string, unknown>>(r.resource);
        const viaProtobufjs = type.encode(type.fromObject(decoded)).finish();
        expect(Buffer.from(encode(r.resource.type_url, decoded)).equals(Buffer.from(viaProtobufjs)), r.name).toBe(true);
        expect(Buffer.from(r.resource.value).equals(Buffer.from(viaProtobufjs)), r.name).toBe(true);
      }
    }
  });

  it('long lengths, negative and 64-bit numbers, packed repeated fields', () => {
    const type = lookupType(ENVOY_TYPES.routeConfiguration);
    const big = {
      name: 'x'.repeat(300) + 'é',
      virtual_hosts: [{ name: 'v', domains: ['*'], routes: Array.from({ length: 40 }, (_, i) => ({ name: `r${i}`, match: { prefix: '/' }, route: { cluster: 'c', timeout: { seconds: 2 ** 40, nanos: 5 } } })) }],
      max_direct_response_body_size_bytes: { value: 4000000000 },
    };
    expect(Buffer.from(encode(ENVOY_TYPES.routeConfiguration, big)).equals(Buffer.from(type.encode(type.fromObject(big)).finish()))).toBe(true);
    const cluster = lookupType(ENVOY_TYPES.cluster);
    const c = { name: 'c', connect_timeout: { seconds: '-3', nanos: -1 }, health_checks: [{ http_health_check: { path: '/', expected_statuses: [{ start: 200, end: 300 }] }, timeout: { seconds: 1 }, interval: { seconds: 1 } }], dns_lookup_family: 'V4_ONLY' };
    expect(Buffer.from(encode(ENVOY_TYPES.cluster, c)).equals(Buffer.from(cluster.encode(cluster.fromObject(c)).finish()))).toBe(true);
  });

  it('refuses what the strict check refuses, with its code and path', () => {
    const cases: [object, string, string][] = [
      [{ name: 'x', nope: 1 }, 'ENVOY_UNKNOWN_FIELD', 'nope'],
      [{ name: 'x', type: 'NOPE' }, 'ENVOY_BAD_VALUE', 'type'],
      [{ name: 7 }, 'ENVOY_BAD_VALUE', 'name'],
      [{ name: 'x', connect_timeout: { seconds: 1.5 } }, 'ENVOY_BAD_VALUE', 'connect_timeout.seconds'],
      [{ name: 'x', eds_cluster_config: { service_name: 'a', nope: true } }, 'ENVOY_UNKNOWN_FIELD', 'eds_cluster_config.nope'],
      [{ name: 'x', type: 'EDS', cluster_type: { name: 'y' } }, 'ENVOY_BAD_VALUE', ''],
      [{ name: 'x', typed_extension_protocol_options: { a: { type_url: 'x', value: 'not bytes' } } }, 'ENVOY_BAD_VALUE', 'typed_extension_protocol_options["a"]'],
    ];
    for (const [object, code, path] of cases) {
      let err: unknown;
      try {
        packAny(ENVOY_TYPES.cluster, object);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(object)).toBeInstanceOf(EnvoyProtoError);
      expect((err as EnvoyProtoError).code, JSON.stringify(object)).toBe(code);
      expect((err as EnvoyProtoError).path, JSON.stringify(object)).toBe(path);
    }
  });
});
