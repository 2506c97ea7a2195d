// Native JWT checks on Envoy for versions that accept only JWTs (authJwtOnly): the pushed
// jwt_authn and rbac filters, each version's per-route overrides (requirement + groups-claim
// RBAC instead of ext_authz) and the JWKS cluster, decoded field by field; the local edge
// reading those routes keeps checking such versions; the settings loader feeding the issuer.
import { describe, expect, it } from 'vitest';
import { ENVOY_TYPES, unpackAny } from '../../proto/envoy.ts';
import { FILTER, IDENTITY_HEADER, KEY_ID_HEADER, PIN_HEADER, SCOPE_HEADER } from '../../xds/contract.ts';
import { JWKS_CLUSTER, JWT_IDENTITY_VALUE, JWT_PAYLOAD_METADATA, JWT_REQUIREMENT } from '../../xds/jwt-authn.ts';
import type { DataPlaneModel, DataPlaneSettings } from '../../xds/model.ts';
import { xdsSettingsFromEnv } from '../../xds/settings.ts';
import { translate, type XdsResource } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const decodedAny = (any: { type_url?: string; value?: Uint8Array }): Obj => unpackAny<Obj>(any as never);
const find = (list: XdsResource[], name: string) => list.find((x) => x.name === name);

const JWT: DataPlaneSettings['jwt'] = {
  jwksUrl: 'https://idp.example.com:8443/realms/sluice/certs',
  issuers: ['https://idp.example.com/realms/sluice', 'https://old-idp.example.com'],
  audiences: ['sluice', 'sluice-api'],
  groupsClaim: 'sluice_groups',
};
const WITH_JWT: DataPlaneSettings = { ...SETTINGS, jwt: JWT };

// v1 accepts only JWTs, v2 API keys or JWTs (ext_authz), v3 no credential at all
const model: DataPlaneModel = {
  groups: [
    {
      groupId: 'g',
      name: 'wine',
      versions: [
        version('v1', 50, 7001, { authEnabled: true, authJwtOnly: true }),
        version('v2', 30, 7002, { authEnabled: true }),
        version('v3', 20, 7003),
      ],
    },
  ],
};

function edgeFilters(settings: DataPlaneSettings): Obj[] {
  const l = decodedAny(find(translate(model, settings).listeners, 'sluice-edge')!.resource);
  const all = decodedAny(l.filter_chains[0].filters[0].typed_config).http_filters as Obj[];
  // first of all the scope-key filter (the group's routes are picked before any filter reads them)
  expect(all[0]!.name).toBe(FILTER.lua);
  return all.slice(1);
}
function edgeRoutes(settings: DataPlaneSettings): Obj[] {
  return decodedAny(find(translate(model, settings).routes, 'sluice-edge/wine')!.resource).virtual_hosts[0].routes as Obj[];
}
function override(perFilter: Obj | undefined, filter: string, type: string): Obj | undefined {
  const any = perFilter?.[filter];
  if (!any) return undefined;
  expect(any.type_url).toBe(`type.googleapis.com/${type}`);
  return decodedAny(any);
}
const jwtOf = (pf: Obj | undefined) => override(pf, FILTER.jwtAuthn, ENVOY_TYPES.jwtAuthnPerRoute);
const rbacOf = (pf: Obj | undefined) => override(pf, FILTER.rbac, ENVOY_TYPES.rbacPerRoute);
const authzOf = (pf: Obj | undefined) => override(pf, FILTER.extAuthz, ENVOY_TYPES.extAuthzPerRoute);

const groupsPrincipal = (value: string) => ({
  metadata: {
    filter: FILTER.jwtAuthn,
    path: [{ key: JWT_PAYLOAD_METADATA }, { key: 'sluice_groups' }],
    value: { list_match: { one_of: { string_match: { exact: value } } } },
  },
});

describe('jwt_authn for JWT-only versions: the pushed resources', () => {
  it('puts jwt_authn (a provider per issuer, the JWKS as a remote source) and rbac before ext_authz', () => {
    const filters = edgeFilters(WITH_JWT);
    expect(filters.map((f) => f.name)).toEqual([FILTER.jwtAuthn, FILTER.rbac, FILTER.extAuthz, FILTER.rateLimit, FILTER.capture, FILTER.router]);
    expect(filters[0]!.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.jwtAuthn}`);
    const remote = {
      http_uri: { uri: JWT!.jwksUrl, cluster: JWKS_CLUSTER, http_upstream_type: 'cluster', timeout: { seconds: '5' } },
      cache_duration: { seconds: '300' },
      async_fetch: { fast_listener: false },
    };
    const provider = (issuer: string) => ({
      issuer,
      audiences: ['sluice', 'sluice-api'],
      remote_jwks: remote,
      jwks_source_specifier: 'remote_jwks',
      // the token stops at Envoy, as behind ext_authz (headers_to_remove: authorization)
      forward: false,
      payload_in_metadata: JWT_PAYLOAD_METADATA,
      require_expiration: true,
    });
    expect(decodedAny(filters[0]!.typed_config)).toEqual({
      providers: {
        'sluice-issuer-0': provider('https://idp.example.com/realms/sluice'),
        'sluice-issuer-1': provider('https://old-idp.example.com'),
      },
      requirement_map: {
        [JWT_REQUIREMENT]: {
          requires_any: { requirements: [{ provider_name: 'sluice-issuer-0', requires_type: 'provider_name' }, { provider_name: 'sluice-issuer-1', requires_type: 'provider_name' }] },
          requires_type: 'requires_any',
        },
      },
    });
    // rbac at the listener holds no policy: nothing is enforced unless a route says so
    expect(filters[1]!.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.rbac}`);
    expect(decodedAny(filters[1]!.typed_config)).toEqual({});
  });

  it('names the requirement and checks the groups claim on a JWT-only version, with ext_authz off there', () => {
    const routes = edgeRoutes(WITH_JWT);
    const pin = (v: string) => routes.find((r) => r.name === `wine/pin/${v}`)!.typed_per_filter_config as Obj;
    const split = routes.find((r) => r.name === 'wine/default')!.route.weighted_clusters.clusters as Obj[];
    const entry = (v: string) => split.find((c) => c.name === `sluice/wine/${v}`)!.typed_per_filter_config as Obj;
    const rbac = {
      rbac: {
        rules: {
          action: 'ALLOW',
          policies: {
            'jwt-groups-claim': {
              permissions: [{ any: true, rule: 'any' }],
              principals: [
                { ...groupsPrincipal('wine'), identifier: 'metadata' },
                { ...groupsPrincipal('*'), identifier: 'metadata' },
              ],
            },
          },
        },
      },
    };
    for (const pf of [pin('v1'), entry('v1')]) {
      expect(jwtOf(pf)).toEqual({ requirement_name: JWT_REQUIREMENT, requirement_specifier: 'requirement_name' });
      const decodedRbac = rbacOf(pf)!;
      // protobufjs fills the oneof discriminators of the nested matchers; compare what Envoy reads
      const principals = decodedRbac.rbac.rules.policies['jwt-groups-claim'].principals as Obj[];
      expect(principals.map((p) => p.metadata.value.list_match.one_of.string_match.exact)).toEqual(['wine', '*']);
      expect(principals.map((p) => p.metadata.path.map((s: Obj) => s.key))).toEqual([[JWT_PAYLOAD_METADATA, 'sluice_groups'], [JWT_PAYLOAD_METADATA, 'sluice_groups']]);
      expect(principals.every((p) => p.metadata.filter === FILTER.jwtAuthn)).toBe(true);
      expect(decodedRbac.rbac.rules.action).toBe(rbac.rbac.rules.action);
      expect(decodedRbac.rbac.rules.policies['jwt-groups-claim'].permissions).toEqual([{ any: true, rule: 'any' }]);
      expect(authzOf(pf)).toEqual({ disabled: true, override: 'disabled' });
    }
    // an API-key version keeps ext_authz (with its context) and has jwt_authn and rbac off
    for (const pf of [pin('v2'), entry('v2')]) {
      expect(jwtOf(pf)).toEqual({ disabled: true, requirement_specifier: 'disabled' });
      expect(rbacOf(pf)).toEqual({});
      expect(authzOf(pf)!.check_settings.context_extensions).toEqual({ group: 'wine', version: 'v2' });
    }
    // an open version: everything off
    expect(jwtOf(pin('v3'))).toEqual({ disabled: true, requirement_specifier: 'disabled' });
    expect(authzOf(pin('v3'))).toEqual({ disabled: true, override: 'disabled' });
  });

  it('hands the verified caller upstream as ext_authz does: x-sluice-identity from the payload, no Authorization', () => {
    const decoded = decodedAny(edgeFilters(WITH_JWT)[0]!.typed_config);
    for (const p of Object.values(decoded.providers as Obj)) expect((p as Obj).forward ?? false).toBe(false);
    // jwt:{iss}#{sub} from jwt_authn's dynamic metadata, the identity ext_authz writes for a JWT
    expect(JWT_IDENTITY_VALUE).toBe(
      'jwt:%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:iss)%#%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:sub)%',
    );
    const identity = { header: { key: IDENTITY_HEADER, value: JWT_IDENTITY_VALUE }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
    const pinHeader = (v: string) => ({ header: { key: PIN_HEADER, value: v }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
    const routes = edgeRoutes(WITH_JWT);
    const route = (name: string) => routes.find((r) => r.name === name)!;
    const entries = (name: string) => route(name).route.weighted_clusters.clusters as Obj[];
    const entry = (name: string, v: string) => entries(name).find((c) => c.name === `sluice/wine/${v}`)!;
    // /predict: the pin route and the weighted entry of the JWT-only version
    expect(route('wine/pin/v1').request_headers_to_add).toEqual([identity]);
    expect(entry('wine/default', 'v1').request_headers_to_add).toEqual([pinHeader('v1'), identity]);
    // OIP gRPC through the edge: the same
    expect(route('wine/oip-grpc/pin/v1').request_headers_to_add).toEqual([pinHeader('v1'), identity]);
    expect(entry('wine/oip-grpc/default', 'v1').request_headers_to_add).toEqual([pinHeader('v1'), identity]);
    // ext_authz identifies API-key callers (v2); an open version (v3) identifies nobody
    for (const v of ['v2', 'v3']) {
      expect(route(`wine/pin/${v}`).request_headers_to_add ?? []).toEqual([]);
      expect(entry('wine/default', v).request_headers_to_add).toEqual([pinHeader(v)]);
      expect(route(`wine/oip-grpc/pin/${v}`).request_headers_to_add).toEqual([pinHeader(v)]);
      expect(entry('wine/oip-grpc/default', v).request_headers_to_add).toEqual([pinHeader(v)]);
    }
    // without an issuer the JWT-only version is behind ext_authz, which sets the identity itself
    const plain = edgeRoutes(SETTINGS);
    expect(plain.find((r) => r.name === 'wine/pin/v1')!.request_headers_to_add ?? []).toEqual([]);
  });

  it('removes a client-sent identity and key id in the first filter, before jwt_authn, ext_authz and the rate limit read them', () => {
    for (const settings of [WITH_JWT, SETTINGS]) {
      const l = decodedAny(find(translate(model, settings).listeners, 'sluice-edge')!.resource);
      const first = (decodedAny(l.filter_chains[0].filters[0].typed_config).http_filters as Obj[])[0]!;
      expect(first.name).toBe(FILTER.lua);
      const lua = decodedAny(first.typed_config).default_source_code.inline_string as string;
      const lines = lua.split('\n').map((x) => x.trim());
      const at = (line: string) => lines.indexOf(line);
      for (const h of [IDENTITY_HEADER, KEY_ID_HEADER]) {
        // removed unconditionally, at the top of envoy_on_request (before any early return)
        expect(at(`headers:remove("${h}")`)).toBeGreaterThan(at('local headers = h:headers()'));
        expect(at(`headers:remove("${h}")`)).toBeLessThan(at('local path = headers:get(":path") or ""'));
      }
      expect(at(`headers:remove("${SCOPE_HEADER}")`)).toBeGreaterThan(0);
    }
  });

  it('pushes the JWKS cluster (DNS, TLS with SNI for https) that the remote source names', () => {
    const c = find(translate(model, WITH_JWT).clusters, JWKS_CLUSTER)!;
    const cluster = decodedAny(c.resource);
    expect(cluster.name).toBe(JWKS_CLUSTER);
    expect(cluster.type).toBe('LOGICAL_DNS');
    expect(cluster.connect_timeout).toEqual({ seconds: '5' });
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toMatchObject({ address: 'idp.example.com', port_value: 8443 });
    expect(cluster.transport_socket.name).toBe('envoy.transport_sockets.tls');
    expect(cluster.transport_socket.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.upstreamTlsContext}`);
    expect(decodedAny(cluster.transport_socket.typed_config)).toEqual({ sni: 'idp.example.com' });
    // plain http: no TLS, default port
    const http = translate(model, { ...WITH_JWT, jwt: { ...JWT!, jwksUrl: 'http://127.0.0.1/jwks.json' } });
    const plain = decodedAny(find(http.clusters, JWKS_CLUSTER)!.resource);
    expect(plain.transport_socket).toBeUndefined();
    expect(plain.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toMatchObject({ address: '127.0.0.1', port_value: 80 });
  });

  it('pushes nothing of it without an issuer: a JWT-only version stays behind ext_authz', () => {
    expect(edgeFilters(SETTINGS).map((f) => f.name)).toEqual([FILTER.extAuthz, FILTER.rateLimit, FILTER.capture, FILTER.router]);
    const routes = edgeRoutes(SETTINGS);
    const pf = routes.find((r) => r.name === 'wine/pin/v1')!.typed_per_filter_config as Obj;
    expect(jwtOf(pf)).toBeUndefined();
    expect(rbacOf(pf)).toBeUndefined();
    expect(authzOf(pf)!.check_settings.context_extensions).toEqual({ group: 'wine', version: 'v1' });
    expect(find(translate(model, SETTINGS).clusters, JWKS_CLUSTER)).toBeUndefined();
  });

  it('takes the issuer from the SLUICE_JWT_* settings', () => {
    const s = xdsSettingsFromEnv({
      SLUICE_JWT_JWKS_URL: 'https://idp.example.com/certs',
      SLUICE_JWT_ISSUER: 'https://idp.example.com',
      SLUICE_JWT_AUDIENCE: 'sluice',
      SLUICE_JWT_GROUPS_CLAIM: 'teams',
    });
    expect(s.dataPlane.jwt).toEqual({ jwksUrl: 'https://idp.example.com/certs', issuers: ['https://idp.example.com'], audiences: ['sluice'], groupsClaim: 'teams' });
    expect(xdsSettingsFromEnv({}).dataPlane.jwt).toBeNull();
  });
});
