// Every resource the xDS server pushes passes Envoy's own validation rules (the
// protoc-gen-validate annotations in the protos, checked by proto/pgv.ts), nested typed
// configs included: ext_authz, ratelimit, local_ratelimit with per-version buckets,
// jwt_authn + rbac, the capture filter (Lua, per-route script and filter_context), the gRPC access log, clusters with
// circuit breakers, health checks, TLS to the JWKS host. And the checker itself refuses
// what Envoy would refuse.
import { describe, expect, it } from 'vitest';
import { ENVOY_TYPES, encode, packAny } from '../../proto/envoy.ts';
import { pgvViolations } from '../../proto/pgv.ts';
import type { DataPlaneModel, DataPlaneSettings } from '../../xds/model.ts';
import { translate, type EnvoyResources } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

const JWT: DataPlaneSettings['jwt'] = {
  jwksUrl: 'https://idp.example.com/realms/sluice/certs',
  issuers: ['https://idp.example.com/realms/sluice', 'https://old-idp.example.com'],
  audiences: ['sluice'],
  groupsClaim: 'sluice_groups',
};

// every feature translation knows, on at least one version
const model: DataPlaneModel = {
  groups: [
    {
      groupId: 'g1',
      name: 'wine',
      mirror: { version: 'v3', percent: 10 },
      versions: [
        version('v1', 60, 7001, { authEnabled: true, authJwtOnly: true, qpsLimit: 50, inferenceTable: { enabled: true, sampleRate: 0.5, maxBodyBytes: 65536 } }),
        version('v2', 40, 7002, { authEnabled: true, qpsLimit: 7, maxConcurrency: 4, queueDepth: 8 }),
        version('v3', 0, 7003, { scaleToZero: true, maxConcurrency: 2, queueDepth: null, endpoints: [] }),
      ],
    },
    { groupId: 'g2', name: 'iris', versions: [version('v1', 100, 7004, { authEnabled: true, inferenceTable: { enabled: true, sampleRate: 1, maxBodyBytes: 1024 } })] },
    { groupId: 'g3', name: 'idle', versions: [] },
  ],
};

const variants: Record<string, DataPlaneSettings> = {
  'global rate limit, no issuer': SETTINGS,
  'local rate limit, 3 proxies, issuer, sticky header, token': {
    ...SETTINGS,
    rateLimit: { mode: 'local', proxies: 3 },
    jwt: JWT,
    stickyHeader: 'x-user',
    gatewayToken: 'secret-token',
  },
  'global rate limit, issuer over plain http': { ...SETTINGS, jwt: { ...JWT!, jwksUrl: 'http://127.0.0.1:8080/jwks' } },
};

function allViolations(res: EnvoyResources): string[] {
  const out: string[] = [];
  for (const list of [res.listeners, res.routes, res.clusters, res.endpoints]) {
    for (const r of list) {
      const type = r.resource.type_url!.replace('type.googleapis.com/', '');
      for (const v of pgvViolations(type, r.resource.value as Uint8Array)) out.push(`${r.name}: ${v}`);
    }
  }
  return out;
}

describe('pushed resources pass Envoy’s validation rules (protoc-gen-validate)', () => {
  for (const [name, settings] of Object.entries(variants)) {
    it(`every listener, route configuration, cluster and endpoint set: ${name}`, () => {
      const res = translate(model, settings);
      // the variants do push what they are about
      const types = new Set<string>();
      const collect = (bytes: Uint8Array) => {
        for (const m of Buffer.from(bytes).toString('latin1').matchAll(/type\.googleapis\.com\/([A-Za-z0-9_.]+)/g)) types.add(m[1]!);
      };
      for (const list of [res.listeners, res.routes, res.clusters]) for (const r of list) collect(r.resource.value as Uint8Array);
      if (settings.jwt) {
        expect(types).toContain(ENVOY_TYPES.jwtAuthn);
        expect(types).toContain(ENVOY_TYPES.jwtAuthnPerRoute);
        expect(types).toContain(ENVOY_TYPES.rbacPerRoute);
      }
      if (settings.rateLimit?.mode === 'local') expect(types).toContain(ENVOY_TYPES.localRateLimit);
      // the capture filter (Lua) and its per-route script/context; no ext_proc
      expect(types).toContain(ENVOY_TYPES.lua);
      expect(types).toContain(ENVOY_TYPES.luaPerRoute);
      expect(types).not.toContain(ENVOY_TYPES.extProc);
      expect(allViolations(res)).toEqual([]);
    });
  }

  it('before the first group exists (a fresh install): the edge listener still passes', () => {
    // a scoped-routes list must hold one scope at least: the empty platform pushes one route
    // configuration that answers 404 instead
    const res = translate({ groups: [] }, SETTINGS);
    expect(res.listeners.map((l) => l.name)).toEqual(['sluice-edge']);
    expect(res.routes.map((r) => r.name)).toEqual(['sluice-edge']);
    expect(allViolations(res)).toEqual([]);
  });
});

describe('the checker refuses what Envoy would refuse', () => {
  it('numeric bounds, string lengths, a required oneof and a required duration, inside a typed_config', () => {
    const bad = packAny(ENVOY_TYPES.localRateLimit, {
      stat_prefix: '',
      token_bucket: { max_tokens: 0, tokens_per_fill: { value: 0 } },
      stage: 11,
    });
    const listener = encode(ENVOY_TYPES.httpConnectionManager, {
      stat_prefix: 'x',
      rds: { route_config_name: 'r', config_source: { ads: {}, resource_api_version: 'V3' } },
      http_filters: [{ name: 'envoy.filters.http.local_ratelimit', typed_config: bad }],
    });
    const v = pgvViolations(ENVOY_TYPES.httpConnectionManager, listener);
    expect(v).toEqual(
      expect.arrayContaining([
        'http_filters[0].typed_config<LocalRateLimit>.stat_prefix: must have at least 1 characters',
        'http_filters[0].typed_config<LocalRateLimit>.token_bucket.max_tokens: must be > 0',
        'http_filters[0].typed_config<LocalRateLimit>.token_bucket.tokens_per_fill: must be > 0',
        'http_filters[0].typed_config<LocalRateLimit>.token_bucket.fill_interval: is required',
        'http_filters[0].typed_config<LocalRateLimit>.stage: must be <= 10',
      ]),
    );
  });

  it('a jwt_authn remote source without its cluster, and a route with no action', () => {
    const authn = encode(ENVOY_TYPES.jwtAuthn, {
      providers: { p: { issuer: 'i', remote_jwks: { http_uri: { uri: 'https://x/jwks' } } } },
    });
    expect(pgvViolations(ENVOY_TYPES.jwtAuthn, authn)).toEqual(
      expect.arrayContaining([
        'providers[p].remote_jwks.http_uri: one of cluster is required',
        'providers[p].remote_jwks.http_uri.timeout: is required',
      ]),
    );
    const route = encode(ENVOY_TYPES.route, { name: 'r', match: { prefix: '/' } });
    expect(pgvViolations(ENVOY_TYPES.route, route)).toEqual([expect.stringMatching(/^Route: one of route, redirect, direct_response, .* is required$/)]);
  });

  it('a header name Envoy would not take (its rule is not strict: no NUL, CR or LF), and an enum value outside its rule', () => {
    const route = encode(ENVOY_TYPES.route, {
      match: { prefix: '/' },
      direct_response: { status: 200 },
      response_headers_to_add: [{ header: { key: 'bad\nheader', value: 'v' } }],
    });
    expect(pgvViolations(ENVOY_TYPES.route, route)).toEqual(['response_headers_to_add[0].header.key: must be a valid HTTP_HEADER_NAME']);
    // HttpHealthCheck.method: not CONNECT (not_in 6); GET passes
    const check = (method: string) =>
      pgvViolations(ENVOY_TYPES.cluster, encode(ENVOY_TYPES.cluster, { name: 'c', health_checks: [{ timeout: { seconds: 1 }, interval: { seconds: 1 }, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/h', method } }] }));
    expect(check('GET')).toEqual([]);
    expect(check('CONNECT')).toEqual(['health_checks[0].http_health_check.method: must not be one of 6']);
  });
});
