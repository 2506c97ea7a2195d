// Native JWT checks on Envoy for versions that accept only JWTs (DataPlaneVersion.authJwtOnly):
// envoy.filters.http.jwt_authn verifies the token against the issuer's JWKS (a remote
// source, fetched by Envoy through the `sluice_jwks` cluster and cached), and
// envoy.filters.http.rbac checks the groups claim the verified payload carries, so such a
// request costs Envoy no ext_authz callout into the gateway. The listener-level filters
// require nothing; each version's route entry switches them on (or off) per route, exactly
// where ext_authz would be. API keys on such a version get jwt_authn's 401, as the local edge
// answers (gateway/authz.ts refuses them there).
//
// What goes upstream is what ext_authz lets through for a JWT (gateway/authz.ts
// toCheckResponse): no Authorization header (the provider does not forward it) and the
// verified caller in x-sluice-identity, `jwt:{iss}#{sub}` from the verified payload, set by
// the router on the JWT-only version's routes (so the runtime and the access log see it).
// A client-sent x-sluice-identity or x-sluice-key-id never gets that far: the edge's first
// filter removes both from every request (contract.ts edgeScopeScript).
import { isIP } from 'node:net';
import { ENVOY_TYPES, packAny, type PackedAny } from '../proto/envoy.ts';
import type { Cluster } from '../proto/generated/envoy/config/cluster/v3/Cluster.ts';
import type { HttpFilter } from '../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
import type { JwtAuthentication } from '../proto/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.ts';
import type { JwtProvider } from '../proto/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtProvider.ts';
import type { JwtRequirement } from '../proto/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtRequirement.ts';
import type { PerRouteConfig } from '../proto/generated/envoy/extensions/filters/http/jwt_authn/v3/PerRouteConfig.ts';
import type { RBAC } from '../proto/generated/envoy/extensions/filters/http/rbac/v3/RBAC.ts';
import type { RBACPerRoute } from '../proto/generated/envoy/extensions/filters/http/rbac/v3/RBACPerRoute.ts';
import type { Principal } from '../proto/generated/envoy/config/rbac/v3/Principal.ts';
import type { UpstreamTlsContext } from '../proto/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.ts';
import type { HeaderValueOption } from '../proto/generated/envoy/config/core/v3/HeaderValueOption.ts';
import { FILTER, IDENTITY_HEADER } from './contract.ts';
import type { DataPlaneJwtIssuer, DataPlaneSettings, DataPlaneVersion } from './model.ts';

/** The cluster Envoy fetches the issuer's JWKS through. */
export const JWKS_CLUSTER = 'sluice_jwks';
/** The requirement each JWT-only route names (JwtAuthentication.requirement_map). */
export const JWT_REQUIREMENT = 'sluice-jwt';
/** Where jwt_authn leaves the verified payload (dynamic metadata of FILTER.jwtAuthn). */
export const JWT_PAYLOAD_METADATA = 'jwt_payload';
/** How long Envoy keeps the fetched JWKS before fetching it again. */
const JWKS_CACHE_SECONDS = 300;

const providerName = (i: number) => `sluice-issuer-${i}`;

/** The issuer when Envoy should verify JWTs itself (an issuer is configured); else null. */
export const jwtIssuerOf = (s: DataPlaneSettings): DataPlaneJwtIssuer | null => s.jwt ?? null;

/** Whether a version's routes use jwt_authn instead of ext_authz. */
export const usesNativeJwt = (v: DataPlaneVersion, s: DataPlaneSettings): boolean =>
  v.authEnabled && v.authJwtOnly === true && jwtIssuerOf(s) !== null;

function jwksUri(jwt: DataPlaneJwtIssuer): URL {
  return new URL(jwt.jwksUrl);
}

/** The listener-level jwt_authn and rbac filters (before ext_authz); none without an issuer. */
export function jwtHttpFilters(s: DataPlaneSettings): HttpFilter[] {
  const jwt = jwtIssuerOf(s);
  if (!jwt) return [];
  const providers: Record<string, JwtProvider> = {};
  jwt.issuers.forEach((issuer, i) => {
    providers[providerName(i)] = {
      issuer,
      audiences: [...jwt.audiences],
      remote_jwks: {
        http_uri: { uri: jwt.jwksUrl, cluster: JWKS_CLUSTER, timeout: { seconds: 5 } },
        cache_duration: { seconds: JWKS_CACHE_SECONDS },
        // fetched when the listener comes up, so the first request does not wait for it
        async_fetch: { fast_listener: false },
      },
      // the credential stops here, as ext_authz removes it (headers_to_remove): the runtime
      // learns the caller from x-sluice-identity, never from a replayable token
      forward: false,
      payload_in_metadata: JWT_PAYLOAD_METADATA,
      require_expiration: true,
    };
  });
  const names = Object.keys(providers);
  const requirement: JwtRequirement =
    names.length === 1
      ? { provider_name: names[0]! }
      : { requires_any: { requirements: names.map((provider_name) => ({ provider_name })) } };
  const authn: JwtAuthentication = { providers, requirement_map: { [JWT_REQUIREMENT]: requirement } };
  // no rules: the filter enforces nothing unless a route names the requirement
  const rbac: RBAC = {};
  return [
    { name: FILTER.jwtAuthn, typed_config: packAny(ENVOY_TYPES.jwtAuthn, authn) },
    { name: FILTER.rbac, typed_config: packAny(ENVOY_TYPES.rbac, rbac) },
  ];
}

/** Envoy's header substitution for one claim of the verified payload (jwt_authn's dynamic metadata). */
const claim = (name: string) => `%DYNAMIC_METADATA(${FILTER.jwtAuthn}:${JWT_PAYLOAD_METADATA}:${name})%`;
/** x-sluice-identity of a verified JWT, as ext_authz writes it (gateway/authz.ts): `jwt:{iss}#{sub}`. */
export const JWT_IDENTITY_VALUE = `jwt:${claim('iss')}#${claim('sub')}`;

/**
 * The headers the router adds on a JWT-only version's routes: the verified caller in
 * x-sluice-identity (replacing anything of that name). None for any other version
 * (ext_authz sets it there, or nobody is identified).
 */
export function jwtIdentityHeaders(v: DataPlaneVersion, s: DataPlaneSettings): HeaderValueOption[] {
  if (!usesNativeJwt(v, s)) return [];
  return [{ header: { key: IDENTITY_HEADER, value: JWT_IDENTITY_VALUE }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
}

/** A principal whose verified groups claim lists `value`. */
function groupsClaimHas(jwt: DataPlaneJwtIssuer, value: string): Principal {
  return {
    metadata: {
      filter: FILTER.jwtAuthn,
      path: [{ key: JWT_PAYLOAD_METADATA }, { key: jwt.groupsClaim }],
      value: { list_match: { one_of: { string_match: { exact: value } } } },
    },
  };
}

/**
 * A version's jwt_authn and rbac overrides (empty without an issuer): for a JWT-only
 * version the requirement and a groups-claim check (the group's name or '*'); for any
 * other version both off.
 */
export function jwtRouteFilterConfig(group: string, v: DataPlaneVersion, s: DataPlaneSettings): [string, PackedAny][] {
  const jwt = jwtIssuerOf(s);
  if (!jwt) return [];
  if (!usesNativeJwt(v, s)) {
    return [
      [FILTER.jwtAuthn, packAny(ENVOY_TYPES.jwtAuthnPerRoute, { disabled: true } satisfies PerRouteConfig)],
      // no rbac: the filter's policy (none) is off on this route
      [FILTER.rbac, packAny(ENVOY_TYPES.rbacPerRoute, {} satisfies RBACPerRoute)],
    ];
  }
  const rbac: RBACPerRoute = {
    rbac: {
      rules: {
        action: 'ALLOW',
        policies: {
          'jwt-groups-claim': {
            permissions: [{ any: true }],
            principals: [groupsClaimHas(jwt, group), groupsClaimHas(jwt, '*')],
          },
        },
      },
    },
  };
  return [
    [FILTER.jwtAuthn, packAny(ENVOY_TYPES.jwtAuthnPerRoute, { requirement_name: JWT_REQUIREMENT } satisfies PerRouteConfig)],
    [FILTER.rbac, packAny(ENVOY_TYPES.rbacPerRoute, rbac)],
  ];
}

/** The cluster Envoy fetches the JWKS through (DNS-resolved host of the URL, TLS for https); null without an issuer. */
export function jwksCluster(s: DataPlaneSettings): Cluster | null {
  const jwt = jwtIssuerOf(s);
  if (!jwt) return null;
  const url = jwksUri(jwt);
  const tls = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  const tlsContext: UpstreamTlsContext = isIP(host) ? {} : { sni: host };
  return {
    name: JWKS_CLUSTER,
    type: 'LOGICAL_DNS',
    connect_timeout: { seconds: 5 },
    dns_lookup_family: 'V4_PREFERRED',
    load_assignment: {
      cluster_name: JWKS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
    },
    ...(tls
      ? { transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: packAny(ENVOY_TYPES.upstreamTlsContext, tlsContext) } }
      : {}),
  };
}
