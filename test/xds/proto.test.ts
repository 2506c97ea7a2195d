// The Envoy proto loader: strict packing (protobufjs alone drops unknown names silently),
// decoding, and the service definitions other stages mount.
import { describe, expect, it } from 'vitest';
import {
  ENVOY_TYPES,
  EnvoyProtoError,
  TYPE_URL,
  checkFields,
  decode,
  encode,
  envoyServices,
  packAny,
  unpackAny,
} from '../../proto/envoy.ts';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EnvoyProtoError);
    return (e as EnvoyProtoError).code;
  }
  throw new Error('did not throw');
}

describe('packAny', () => {
  it('round-trips a cluster through Any', () => {
    const any = packAny(ENVOY_TYPES.cluster, {
      name: 'c',
      type: 'EDS',
      connect_timeout: { seconds: 2, nanos: 5 },
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'c' },
    });
    expect(any.type_url).toBe(TYPE_URL.cluster);
    const back = unpackAny<Record<string, unknown>>(any);
    expect(back).toMatchObject({
      name: 'c',
      type: 'EDS',
      connect_timeout: { seconds: '2', nanos: 5 },
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'c' },
    });
  });

  it('rejects an unknown top-level field, naming it', () => {
    expect(() => packAny(ENVOY_TYPES.cluster, { name: 'c', nmae: 'typo' })).toThrow(/has no field nmae/);
    expect(codeOf(() => packAny(ENVOY_TYPES.cluster, { name: 'c', nmae: 'typo' }))).toBe('ENVOY_UNKNOWN_FIELD');
  });

  it('rejects an unknown nested field with its path', () => {
    expect(() =>
      packAny(ENVOY_TYPES.routeConfiguration, {
        name: 'r',
        virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', bogus: 1 } }] }],
      }),
    ).toThrow(/virtual_hosts\[0\]\.routes\[0\]\.match\.bogus/);
  });

  it('rejects camelCase names (the protos are snake_case)', () => {
    expect(codeOf(() => packAny(ENVOY_TYPES.cluster, { name: 'c', connectTimeout: { seconds: 1 } }))).toBe(
      'ENVOY_UNKNOWN_FIELD',
    );
  });

  it('rejects enum values that do not exist', () => {
    expect(codeOf(() => packAny(ENVOY_TYPES.cluster, { name: 'c', type: 'EDSS' }))).toBe('ENVOY_BAD_VALUE');
    expect(codeOf(() => packAny(ENVOY_TYPES.cluster, { name: 'c', lb_policy: 99 }))).toBe('ENVOY_BAD_VALUE');
  });

  it('rejects wrong scalar types and out-of-range numbers', () => {
    expect(codeOf(() => packAny(ENVOY_TYPES.cluster, { name: 7 }))).toBe('ENVOY_BAD_VALUE');
    expect(
      codeOf(() =>
        packAny(ENVOY_TYPES.clusterLoadAssignment, {
          cluster_name: 'c',
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: -1 } } } }] }],
        }),
      ),
    ).toBe('ENVOY_BAD_VALUE');
    expect(codeOf(() => packAny(ENVOY_TYPES.routeConfiguration, { name: 'r', virtual_hosts: {} }))).toBe(
      'ENVOY_BAD_VALUE',
    );
  });

  it('rejects two members of one oneof', () => {
    expect(
      codeOf(() =>
        packAny(ENVOY_TYPES.routeConfiguration, {
          name: 'r',
          virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', path: '/x' } }] }],
        }),
      ),
    ).toBe('ENVOY_BAD_VALUE');
  });

  it('checks map values and accepts nested Any only when packed', () => {
    const router = packAny(ENVOY_TYPES.router, {});
    expect(() =>
      packAny(ENVOY_TYPES.routeConfiguration, {
        name: 'r',
        typed_per_filter_config: { 'envoy.filters.http.router': router },
      }),
    ).not.toThrow();
    expect(
      codeOf(() =>
        packAny(ENVOY_TYPES.routeConfiguration, {
          name: 'r',
          typed_per_filter_config: { x: { '@type': 'type.googleapis.com/x', foo: 1 } },
        }),
      ),
    ).toBe('ENVOY_UNKNOWN_FIELD');
  });

  it('refuses unknown message types', () => {
    expect(codeOf(() => packAny('envoy.config.nope.v3.Nope', {}))).toBe('ENVOY_UNKNOWN_TYPE');
    expect(codeOf(() => unpackAny({ type_url: 'example.com/x', value: new Uint8Array() }))).toBe('ENVOY_UNKNOWN_TYPE');
  });

  it('checkFields and encode/decode agree', () => {
    expect(() => checkFields(ENVOY_TYPES.listener, { name: 'l', extra: true })).toThrow(EnvoyProtoError);
    const bytes = encode(ENVOY_TYPES.listener, { name: 'l' });
    expect(decode(ENVOY_TYPES.listener, bytes)).toEqual({ name: 'l' });
  });

  it('reports garbage bytes as a decode error', () => {
    expect(codeOf(() => decode(ENVOY_TYPES.cluster, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])))).toBe(
      'ENVOY_DECODE_FAILED',
    );
  });
});

describe('envoyServices', () => {
  it('exposes ADS and the four plugin services with their method paths', () => {
    const s = envoyServices();
    expect(s.ads.StreamAggregatedResources.path).toBe(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    );
    expect(s.ads.DeltaAggregatedResources.requestStream).toBe(true);
    expect(s.authorization.Check.path).toBe('/envoy.service.auth.v3.Authorization/Check');
    expect(s.rateLimit.ShouldRateLimit.path).toBe('/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit');
    expect(s.externalProcessor.Process.path).toBe('/envoy.service.ext_proc.v3.ExternalProcessor/Process');
    expect(s.externalProcessor.Process.requestStream && s.externalProcessor.Process.responseStream).toBe(true);
    expect(s.accessLog.StreamAccessLogs.path).toBe('/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs');
    // a CheckRequest survives the service's own serializers, snake_case in and out
    const req = { attributes: { request: { http: { method: 'POST', path: '/services/a/predict' } } } };
    const back = s.authorization.Check.requestDeserialize(s.authorization.Check.requestSerialize(req));
    expect(back.attributes?.request?.http?.path).toBe('/services/a/predict');
  });
});
