// Translation: the data-plane model → Envoy resources (pure, deterministic).
//
// What comes out, per model:
//   LDS  `sluice-edge`        the edge listener: HCM → lua (scope key), ext_authz, ratelimit,
//                             lua (capture), router; access log to the gateway's ALS, which
//                             carries the captured bodies (no ext_proc). Its routes are
//                             scoped (Envoy's scoped routes, inline list): one scope per group,
//                             keyed by the group name, naming the group's own RDS resource
//        `{group}.sluice`     one API listener per group for proxyless gRPC clients
//                             (grpc-js-xds: channel to `xds:///{group}.sluice`)
//   RDS  `sluice-edge/{g}`    the group's edge routes: `/services/{g}/predict` (pins, split) and
//                             OIP gRPC by `:authority = {g}.sluice`; a change in one group
//                             re-sends this one resource, not every group's routes
//        `{group}.sluice`     the same split for the gRPC API listener
//   CDS  `sluice/{g}/{v}`     one EDS cluster per running version (HTTP/1.1 upstream),
//                             naming its group and version in metadata.filter_metadata.sluice;
//                             routes to a version name their group (and pinned version) there
//                             too (policy itself is read from the database: xds/contract.ts)
//   EDS  `sluice/{g}/{v}`     the version's healthy instances
//
// Same model and settings → byte-identical encoded resources: everything is emitted in
// sorted order, maps are built with sorted keys, and protobufjs encodes fields in number
// order. Each resource carries a content hash used as its version.
import { mlflowErrorBody, wireCode } from '../platform/scoring/errors.ts';
import { hash } from 'node:crypto';
import { ENVOY_TYPES, TYPE_URL, lookupType, packAny, type PackedAny, type XdsTypeUrl } from '../proto/envoy.ts';
import { Placeholders, chunkAllocator, cutTemplate, instantiate, nameBytes, type Allocate, type MessageTemplate, type NameBytes } from '../proto/splice.ts';
import type { Listener } from '../proto/generated/envoy/config/listener/v3/Listener.ts';
import type { RouteConfiguration } from '../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import type { Route } from '../proto/generated/envoy/config/route/v3/Route.ts';
import type { _envoy_config_route_v3_RouteAction_RequestMirrorPolicy as RequestMirrorPolicy } from '../proto/generated/envoy/config/route/v3/RouteAction.ts';
import type { RateLimit, _envoy_config_route_v3_RateLimit_Action as RateLimitAction } from '../proto/generated/envoy/config/route/v3/RateLimit.ts';
import type { _envoy_config_route_v3_WeightedCluster_ClusterWeight as ClusterWeight } from '../proto/generated/envoy/config/route/v3/WeightedCluster.ts';
import type { HeaderValueOption } from '../proto/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ConfigSource } from '../proto/generated/envoy/config/core/v3/ConfigSource.ts';
import type { GrpcService } from '../proto/generated/envoy/config/core/v3/GrpcService.ts';
import type { Cluster } from '../proto/generated/envoy/config/cluster/v3/Cluster.ts';
import type { ClusterLoadAssignment } from '../proto/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
import type { HttpConnectionManager } from '../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
import type { HttpFilter } from '../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
import type { ScopedRoutes } from '../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/ScopedRoutes.ts';
import type { Lua } from '../proto/generated/envoy/extensions/filters/http/lua/v3/Lua.ts';
import type { LuaPerRoute } from '../proto/generated/envoy/extensions/filters/http/lua/v3/LuaPerRoute.ts';
import type { Router } from '../proto/generated/envoy/extensions/filters/http/router/v3/Router.ts';
import type { ExtAuthz } from '../proto/generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthz.ts';
import type { ExtAuthzPerRoute } from '../proto/generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthzPerRoute.ts';
import type { RateLimit as RateLimitFilter } from '../proto/generated/envoy/extensions/filters/http/ratelimit/v3/RateLimit.ts';
import type { LocalRateLimit } from '../proto/generated/envoy/extensions/filters/http/local_ratelimit/v3/LocalRateLimit.ts';
import type { RuntimeFractionalPercent } from '../proto/generated/envoy/config/core/v3/RuntimeFractionalPercent.ts';
import type { HttpGrpcAccessLogConfig } from '../proto/generated/envoy/extensions/access_loggers/grpc/v3/HttpGrpcAccessLogConfig.ts';
import type { HttpProtocolOptions } from '../proto/generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.ts';
import type { RetryPolicy } from '../proto/generated/envoy/config/route/v3/RetryPolicy.ts';
import type { PreviousHostsPredicate } from '../proto/generated/envoy/extensions/retry/host/previous_hosts/v3/PreviousHostsPredicate.ts';
import type { Metadata } from '../proto/generated/envoy/config/core/v3/Metadata.ts';
import type { Struct } from '../proto/generated/google/protobuf/Struct.ts';
import type { Value } from '../proto/generated/google/protobuf/Value.ts';
import {
  ACCESS_LOG_NAME,
  CAPTURE_CONTEXT,
  CAPTURE_SCRIPT_NAME,
  captureScript,
  CONTEXT_KEY,
  DESCRIPTOR,
  EDGE_LISTENER,
  EDGE_ROUTE_CONFIG,
  edgeRouteConfigName,
  edgeScopeScript,
  FILTER,
  IDENTITY_HEADER,
  KEY_ID_HEADER,
  METADATA_NAMESPACE,
  PIN_HEADER,
  OIP_GRPC_PATH_PREFIX,
  oipGrpcAuthorityRegex,
  RATE_LIMIT_DOMAIN,
  SCOPE_HEADER,
  apiListenerName,
  clusterName,
  localRateLimitStatPrefix,
  predictPath,
  type SluiceClusterMetadata,
  type SluiceRouteMetadata,
} from './contract.ts';
import {
  type DataPlaneGroup,
  type DataPlaneModel,
  type DataPlaneSettings,
  type DataPlaneVersion,
} from './model.ts';
import { plainClone, plainEqual } from './plain-data.ts';
import { JWKS_CLUSTER, jwksCluster, jwtHttpFilters, jwtIdentityHeaders, jwtRouteFilterConfig, usesNativeJwt } from './jwt-authn.ts';

// ---------------------------------------------------------------------------------------
// Output

export interface XdsResource {
  name: string;
  typeUrl: XdsTypeUrl;
  /** the encoded resource, packed */
  resource: PackedAny;
  /** hex sha-256 of the encoded bytes (first 16 chars): the resource's version */
  hash: string;
  /**
   * Sent only to clients that name it, never in a wildcard answer: the gRPC API listeners
   * are for proxyless clients, and Envoy (which asks for every listener) does not take
   * API listeners over LDS.
   */
  onlyByName?: boolean;
  /**
   * Names of the next type down this resource depends on: a listener's route
   * configurations, a route configuration's clusters. The server orders updates by them
   * (make-before-break) and the snapshot check refuses a dangling one.
   */
  references?: readonly string[];
}

export interface EnvoyResources {
  listeners: XdsResource[];
  routes: XdsResource[];
  clusters: XdsResource[];
  endpoints: XdsResource[];
}

export type XdsTranslateErrorCode = 'XDS_BAD_MODEL' | 'XDS_BAD_SETTINGS';
export class XdsTranslateError extends Error {
  readonly code: XdsTranslateErrorCode;
  constructor(code: XdsTranslateErrorCode, message: string) {
    super(message);
    this.name = 'XdsTranslateError';
    this.code = code;
  }
}

// one-shot: no Hash object per resource (a fifth of a cold translation's time went there)
export const contentHash = (bytes: Uint8Array) => hash('sha256', bytes, 'hex').slice(0, 16);

function resource(typeUrl: XdsTypeUrl, typeName: string, name: string, body: object): XdsResource {
  const packed = packAny(typeName, body);
  return { name, typeUrl, resource: packed, hash: contentHash(packed.value) };
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

// ---------------------------------------------------------------------------------------
// Validation: translation refuses a model Envoy would refuse, with a reason

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_WEIGHT = 0xffffffff;

const bad = (m: string) => new XdsTranslateError('XDS_BAD_MODEL', m);
const port = (p: number) => Number.isInteger(p) && p > 0 && p < 65536;

function validateSettings(settings: DataPlaneSettings): void {
  if (!port(settings.listenerPort)) {
    throw new XdsTranslateError('XDS_BAD_SETTINGS', `listenerPort ${settings.listenerPort} is not a port`);
  }
  if (!port(settings.gatewayPort)) {
    throw new XdsTranslateError('XDS_BAD_SETTINGS', `gatewayPort ${settings.gatewayPort} is not a port`);
  }
  if (!settings.gatewayCluster || settings.gatewayCluster.startsWith('sluice/')) {
    throw new XdsTranslateError('XDS_BAD_SETTINGS', 'gatewayCluster must be set and outside sluice/');
  }
  if (settings.stickyHeader !== null && !/^[a-z0-9-]+$/.test(settings.stickyHeader)) {
    throw new XdsTranslateError('XDS_BAD_SETTINGS', `stickyHeader ${settings.stickyHeader} is not a header name`);
  }
}

/** Everything but the uniqueness of group names across the model (the caller checks that). */
function validateGroup(g: DataPlaneGroup): void {
  if (!DNS_LABEL.test(g.name)) throw bad(`group name ${JSON.stringify(g.name)} is not a DNS-1123 label`);
  if (g.mirror) {
    if (!g.versions.some((v) => v.name === g.mirror?.version)) throw bad(`mirror of ${g.name} names ${g.mirror.version}, not a running version of the group`);
    if (!Number.isInteger(g.mirror.percent) || g.mirror.percent < 1 || g.mirror.percent > 100) throw bad(`mirror percent of ${g.name} must be 1..100`);
  }
  const versions = new Set<string>();
  for (const v of g.versions) {
    if (!DNS_LABEL.test(v.name)) throw bad(`version name ${JSON.stringify(v.name)} is not a DNS-1123 label`);
    if (versions.has(v.name)) throw bad(`version ${g.name}/${v.name} appears twice`);
    versions.add(v.name);
    if (!Number.isFinite(v.weight) || v.weight < 0) throw bad(`weight of ${g.name}/${v.name} must be ≥ 0`);
    if (v.qpsLimit !== null && !(Number.isFinite(v.qpsLimit) && v.qpsLimit > 0)) {
      throw bad(`qpsLimit of ${g.name}/${v.name} must be > 0 or null`);
    }
    const instances = new Set<string>();
    for (const e of v.endpoints) {
      if (!port(e.port)) throw bad(`endpoint ${e.instance} of ${g.name}/${v.name} has port ${e.port}`);
      if (!e.host) throw bad(`endpoint ${e.instance} of ${g.name}/${v.name} has no host`);
      if (instances.has(e.instance)) throw bad(`instance ${e.instance} appears twice in ${g.name}/${v.name}`);
      instances.add(e.instance);
    }
  }
}

/** Integer weights for UInt32Value, proportional to the shares (any scale). */
function integerWeights(versions: DataPlaneVersion[]): Map<string, number> {
  const all = versions.every((v) => Number.isInteger(v.weight));
  const scale = all ? 1 : 1000;
  const out = new Map<string, number>();
  // A version with no healthy replica gives its share to the others (as the local edge's
  // pick does): Envoy's retries stay inside the picked cluster, so an empty cluster in the
  // split would answer 503 for its share. When no weighted version has one, the split stays.
  const serving = (v: DataPlaneVersion) => v.endpoints.some((e) => e.healthy);
  const anyServing = versions.some((v) => v.weight > 0 && serving(v));
  for (const v of versions) out.set(v.name, anyServing && !serving(v) ? 0 : Math.round(v.weight * scale));
  const total = [...out.values()].reduce((a, b) => a + b, 0);
  if (total > MAX_WEIGHT) throw new XdsTranslateError('XDS_BAD_MODEL', 'weights sum past 2^32-1');
  return out;
}

// ---------------------------------------------------------------------------------------
// Shared pieces

/**
 * A value every resource of a kind embeds, deeply frozen: the encoder writes a frozen value
 * once and copies its bytes wherever the same object appears again (proto/strict-encode.ts).
 */
function constant<T>(value: T): T {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) constant(v);
  return Object.freeze(value);
}

const ADS: ConfigSource = constant({ ads: {}, resource_api_version: 'V3' });

const gatewayGrpc = (s: DataPlaneSettings): GrpcService => ({
  envoy_grpc: { cluster_name: s.gatewayCluster },
  timeout: { seconds: 1 },
  // the gateway answers only callers with the token (platform/grpc-auth.ts)
  ...(s.gatewayToken ? { initial_metadata: [{ key: 'authorization', value: `Bearer ${s.gatewayToken}` }] } : {}),
});

const setHeader = (key: string, value: string): HeaderValueOption => ({
  header: { key, value },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

/** Sorted-key object from entries, so maps encode in a stable order. */
function sortedMap<V>(entries: [string, V][]): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
  return out;
}

type StructData = { readonly [key: string]: string | number | boolean | StructData | undefined };

/** Plain data → google.protobuf.Struct; keys sorted (stable bytes), undefined members left out. */
function toStruct(data: StructData): Struct {
  const fields: [string, Value][] = [];
  for (const [key, v] of Object.entries(data)) {
    if (v === undefined) continue;
    if (typeof v === 'string') fields.push([key, { stringValue: v }]);
    else if (typeof v === 'number') fields.push([key, { numberValue: v }]);
    else if (typeof v === 'boolean') fields.push([key, { boolValue: v }]);
    else fields.push([key, { structValue: toStruct(v) }]);
  }
  return { fields: sortedMap(fields) };
}

const sluiceMetadata = (data: SluiceClusterMetadata | SluiceRouteMetadata): Metadata => ({
  filter_metadata: { [METADATA_NAMESPACE]: toStruct({ ...data }) },
});

export function clusterMetadata(group: DataPlaneGroup, v: DataPlaneVersion): SluiceClusterMetadata {
  return { group: group.name, version: v.name, scale_to_zero: v.scaleToZero ? true : undefined };
}

// the /predict and OIP gRPC routes of a version carry the same packed overrides: built once
// per group translation (`groupEpoch` moves on with each; a model's objects may be edited in
// place between translations)
const filterConfigMemo = new WeakMap<DataPlaneVersion, { epoch: number; group: DataPlaneGroup; s: DataPlaneSettings; out: Record<string, PackedAny> }>();
let groupEpoch = 0;

/** Per-filter overrides for one version: auth on/off with context, capture on/off. */
function versionFilterConfig(group: DataPlaneGroup, v: DataPlaneVersion, s: DataPlaneSettings): Record<string, PackedAny> {
  const hit = filterConfigMemo.get(v);
  if (hit && hit.epoch === groupEpoch && hit.group === group && hit.s === s) return hit.out;
  const out = buildVersionFilterConfig(group, v, s);
  constant(out);
  filterConfigMemo.set(v, { epoch: groupEpoch, group, s, out });
  return out;
}

function buildVersionFilterConfig(group: DataPlaneGroup, v: DataPlaneVersion, s: DataPlaneSettings): Record<string, PackedAny> {
  // a JWT-only version is checked by jwt_authn + rbac (xds/jwt-authn.ts), not ext_authz
  const authz: ExtAuthzPerRoute = v.authEnabled && !usesNativeJwt(v, s)
    ? {
        check_settings: {
          context_extensions: sortedMap([
            [CONTEXT_KEY.group, group.name],
            [CONTEXT_KEY.version, v.name],
          ]),
        },
      }
    : { disabled: true };
  const local = localRateLimitFor(group, v, s);
  return sortedMap([
    [FILTER.capture, packAny(ENVOY_TYPES.luaPerRoute, captureFor(group, v))],
    [FILTER.extAuthz, packAny(ENVOY_TYPES.extAuthzPerRoute, authz)],
    ...(local ? [[FILTER.localRateLimit, packAny(ENVOY_TYPES.localRateLimit, local)] as [string, PackedAny]] : []),
    ...jwtRouteFilterConfig(group.name, v, s),
  ]);
}

/** LuaPerRoute with `filter_context` (Envoy's field 4; proto/envoy.ts adds it to the vendored proto). */
export type LuaPerRouteWithContext = LuaPerRoute & { filter_context?: Struct };

/**
 * The capture filter's per-version override: the named capture script with the version's
 * settings as its filter_context — the sample rate, and the most body bytes to copy: one
 * more than the table keeps, so the record can say it was truncated. Off when the
 * version's inference table is.
 */
function captureFor(group: DataPlaneGroup, v: DataPlaneVersion): LuaPerRouteWithContext {
  if (!v.inferenceTable.enabled) return { disabled: true };
  return {
    name: CAPTURE_SCRIPT_NAME,
    filter_context: toStruct({
      [CAPTURE_CONTEXT.group]: group.name,
      [CAPTURE_CONTEXT.version]: v.name,
      [CAPTURE_CONTEXT.sampleRate]: Math.min(1, Math.max(0, v.inferenceTable.sampleRate)),
      [CAPTURE_CONTEXT.maxBytes]: v.inferenceTable.maxBodyBytes + 1,
    }),
  };
}

// ---------------------------------------------------------------------------------------
// Local rate limiting (settings.rateLimit.mode 'local'): no callout per request

const localRateLimitMode = (s: DataPlaneSettings) => s.rateLimit?.mode === 'local';

/** This proxy's share of a version's QPS: ceil(qps / proxies), so the sum never falls short. */
export function localShare(qps: number, proxies: number): number {
  return Math.max(1, Math.ceil(qps / Math.max(1, proxies)));
}

const ALWAYS: RuntimeFractionalPercent = constant({ default_value: { numerator: 100, denominator: 'HUNDRED' } });

/**
 * The per-version override of the local_ratelimit filter: a token bucket of this proxy's
 * share, refilled every second, enabled and enforced for every request, answering 429
 * with the Retry-After the gateway's limiter gives. Null when the version has no limit.
 */
function localRateLimitFor(group: DataPlaneGroup, v: DataPlaneVersion, s: DataPlaneSettings): LocalRateLimit | null {
  if (!localRateLimitMode(s) || v.qpsLimit === null) return null;
  const share = localShare(v.qpsLimit, s.rateLimit?.proxies ?? 1);
  return {
    stat_prefix: localRateLimitStatPrefix(group.name, v.name),
    token_bucket: { max_tokens: share, tokens_per_fill: { value: share }, fill_interval: { seconds: 1 } },
    filter_enabled: ALWAYS,
    filter_enforced: ALWAYS,
    response_headers_to_add: [{ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  };
}

// the listener-level filter's own prefix (it holds no bucket; each version's override names its own)
const LOCAL_RATE_LIMIT_STAT_PREFIX = 'sluice_local_rate_limit';

/** The listener-level local_ratelimit filter: no bucket of its own; routes switch it on per version. */
function localRateLimitFilter(): HttpFilter {
  return {
    name: FILTER.localRateLimit,
    typed_config: packAny(ENVOY_TYPES.localRateLimit, { stat_prefix: LOCAL_RATE_LIMIT_STAT_PREFIX } satisfies LocalRateLimit),
  };
}

const JSON_HEADERS = constant([setHeader('content-type', 'application/json')]);

function errorRoute(name: string, match: Route['match'], status: number, code: string, message: string): Route {
  // (a Route's fields in the order they are numbered: the encoder's fast path)
  return {
    match,
    direct_response: {
      status,
      // MLflow's / Databricks' error shape, the code named as they name it
      body: { inline_string: mlflowErrorBody(wireCode(code), message) },
    },
    response_headers_to_add: JSON_HEADERS,
    // no version is involved, so neither policy nor capture applies
    typed_per_filter_config: policiesOff(),
    name,
  };
}

let policiesOffCache: Record<string, PackedAny> | undefined;
function policiesOff(): Record<string, PackedAny> {
  policiesOffCache ??= constant(sortedMap([
    [FILTER.capture, packAny(ENVOY_TYPES.luaPerRoute, { disabled: true } satisfies LuaPerRoute)],
    [FILTER.extAuthz, packAny(ENVOY_TYPES.extAuthzPerRoute, { disabled: true } satisfies ExtAuthzPerRoute)],
  ]));
  return policiesOffCache;
}

const keyAction: RateLimitAction = constant({
  request_headers: { header_name: KEY_ID_HEADER, descriptor_key: DESCRIPTOR.key, skip_if_absent: true },
});

/**
 * Pin route: (group, version, key?) when any version of the group has a QPS limit (the
 * gateway answers OK for a version without one; the local edge reads it the same way).
 */
function pinRateLimits(group: DataPlaneGroup, v: DataPlaneVersion): RateLimit[] {
  if (!group.versions.some((x) => x.qpsLimit !== null)) return [];
  return [
    {
      actions: [
        { generic_key: { descriptor_value: group.name, descriptor_key: DESCRIPTOR.group } },
        { generic_key: { descriptor_value: v.name, descriptor_key: DESCRIPTOR.version } },
        keyAction,
      ],
    },
  ];
}

/** Weighted route: (group, destination_cluster, key?) when any version in the split has a limit. */
function splitRateLimits(group: DataPlaneGroup, split: DataPlaneVersion[]): RateLimit[] {
  if (!split.some((v) => v.qpsLimit !== null)) return [];
  return [
    {
      actions: [
        { generic_key: { descriptor_value: group.name, descriptor_key: DESCRIPTOR.group } },
        { destination_cluster: {} },
        keyAction,
      ],
    },
  ];
}

const sortedVersions = (g: DataPlaneGroup) => [...g.versions].sort(byName);

const hashPolicies = new Map<string, readonly { header: { header_name: string } }[]>();
/** The routes' hash policy: by the sticky header, when there is one (shared, frozen). */
function hashPolicyOf(s: DataPlaneSettings): { header: { header_name: string } }[] {
  const key = s.stickyHeader ?? '';
  let p = hashPolicies.get(key);
  if (!p) {
    p = constant(s.stickyHeader ? [{ header: { header_name: s.stickyHeader } }] : []);
    hashPolicies.set(key, p);
  }
  return p as { header: { header_name: string } }[];
}

// ---------------------------------------------------------------------------------------
// Edge (Envoy)

const ROUTE_TIMEOUT = constant({ seconds: 60 });

function edgeRoutes(group: DataPlaneGroup, s: DataPlaneSettings): Route[] {
  const path = predictPath(group.name);
  const versions = sortedVersions(group);
  // the pin route and the weighted entry of a version carry the same overrides
  const filterConfig = new Map(versions.map((v) => [v.name, versionFilterConfig(group, v, s)]));
  const hashPolicy = hashPolicyOf(s);
  const routes: Route[] = [];
  for (const v of versions) {
    routes.push({
      match: { path, headers: [{ name: PIN_HEADER, string_match: { exact: v.name } }] },
      route: {
        cluster: clusterName(group.name, v.name),
        timeout: ROUTE_TIMEOUT,
        rate_limits: pinRateLimits(group, v),
        hash_policy: hashPolicy,
        request_mirror_policies: group.mirror?.version === v.name ? [] : mirrorPolicies(group),
      },
      metadata: sluiceMetadata({ group: group.name, version: v.name }),
      ...identityOf(v, s),
      response_headers_to_add: [setHeader(PIN_HEADER, v.name)],
      typed_per_filter_config: filterConfig.get(v.name),
      name: `${group.name}/pin/${v.name}`,
    });
  }
  routes.push(
    errorRoute(
      `${group.name}/pin/unknown`,
      { path, headers: [{ name: PIN_HEADER, present_match: true }] },
      404,
      'VERSION_NOT_FOUND',
      `service ${group.name} has no running version of that name`,
    ),
  );
  const weights = integerWeights(versions);
  const weighted = versions.filter((v) => (weights.get(v.name) ?? 0) > 0);
  if (weighted.length === 0) {
    routes.push(
      errorRoute(`${group.name}/default`, { path }, 503, 'NO_RUNNING_VERSION', `service ${group.name} has no running version`),
    );
    return routes;
  }
  routes.push({
    match: { path },
    route: {
      weighted_clusters: {
        ...stickyVersionChoice(s),
        clusters: weighted.map(
          (v): ClusterWeight => ({
            name: clusterName(group.name, v.name),
            weight: { value: weights.get(v.name) ?? 0 },
            // the router adds these once this cluster is picked, so the runtime, the
            // client and the access log all see which version answered
            request_headers_to_add: [setHeader(PIN_HEADER, v.name), ...jwtIdentityHeaders(v, s)],
            response_headers_to_add: [setHeader(PIN_HEADER, v.name)],
            typed_per_filter_config: filterConfig.get(v.name),
          }),
        ),
      },
      timeout: ROUTE_TIMEOUT,
      rate_limits: splitRateLimits(group, weighted),
      hash_policy: hashPolicy,
      request_mirror_policies: mirrorPolicies(group),
    },
    // the version is the router's pick: the cluster (and its metadata) names it
    metadata: sluiceMetadata({ group: group.name }),
    name: `${group.name}/default`,
  });
  return routes;
}

/** The verified caller of a JWT-only version (jwt-authn.ts), added by the router on its pin route. */
function identityOf(v: DataPlaneVersion, s: DataPlaneSettings): Pick<Route, 'request_headers_to_add'> {
  const headers = jwtIdentityHeaders(v, s);
  return headers.length > 0 ? { request_headers_to_add: headers } : {};
}

/**
 * Shadow traffic: Envoy's router sends a copy of `percent` % of the route's requests to the
 * mirror version's cluster and drops its answer (fire and forget; the live answer never
 * waits on it). The copy's Host gets Envoy's `-shadow` suffix.
 */
function mirrorPolicies(group: DataPlaneGroup): RequestMirrorPolicy[] {
  if (!group.mirror) return [];
  return [
    {
      cluster: clusterName(group.name, group.mirror.version),
      runtime_fraction: { default_value: { numerator: group.mirror.percent, denominator: 'HUNDRED' } },
    },
  ];
}

/**
 * Sticky A/B (SLUICE_STICKY_HEADER): the weighted split picks the version from the route's
 * hash_policy (the sticky header) instead of a random number — Envoy's
 * `WeightedCluster.use_hash_policy` (Envoy >= 1.36): xxHash64(header value) mod the total
 * weight, over the clusters in order. Clusters are sorted by version name and the shares
 * total 100, so a caller's slot stays put while the weights do, and moving weight from
 * one version to the next moves only the callers whose slot changes hands. A request
 * without the header is split at random. The local edge reads this same field back and
 * computes the same hash (gateway/edge/sticky.ts): a caller lands on the same version
 * through any edge or Envoy, before and after restarts.
 */
function stickyVersionChoice(s: DataPlaneSettings): { use_hash_policy?: { value: boolean } } {
  return s.stickyHeader ? { use_hash_policy: { value: true } } : {};
}

/**
 * A group's edge route configuration (`sluice-edge/{group}`), the scope its name keys: the
 * /predict routes, the OIP gRPC routes, then the catch-all 404 for anything else that lands
 * in the scope. The scope key header goes no further than Envoy.
 */
function edgeRouteConfig(group: DataPlaneGroup, s: DataPlaneSettings): RouteConfiguration {
  return {
    name: edgeRouteConfigName(group.name),
    virtual_hosts: [
      { name: group.name, domains: ['*'], routes: [...edgeRoutes(group, s), ...oipGrpcEdgeRoutes(group, s), notFoundRoute()], retry_policy: EDGE_RETRY_POLICY },
    ],
    request_headers_to_remove: [SCOPE_HEADER],
  };
}

/** The edge's only route configuration while there is no group: every path is 404. */
function edgeEmptyRouteConfig(): RouteConfiguration {
  return { name: EDGE_ROUTE_CONFIG, virtual_hosts: [{ name: 'none', domains: ['*'], routes: [notFoundRoute()] }] };
}

/**
 * The edge's retries, as the local edge makes them (gateway/edge/server.ts `forward`): one
 * retry, on another replica of the picked version, when nothing reached a model or the
 * model never answered — a refused or failed connection, a connection reset before the
 * answer's headers (a replica killed mid-call: predictions are safe to repeat), or a 503
 * from a runtime still loading. A timeout is not retried (504). Within a version only:
 * Envoy keeps a retry in the picked cluster, so a version with no healthy replica leaves
 * the split instead (integerWeights).
 */
export const EDGE_RETRY_POLICY: RetryPolicy = constant({
  retry_on: 'connect-failure,refused-stream,reset,retriable-status-codes',
  retriable_status_codes: [503],
  num_retries: { value: 1 },
  retry_host_predicate: [
    {
      name: 'envoy.retry_host_predicates.previous_hosts',
      typed_config: packAny(ENVOY_TYPES.previousHostsPredicate, {} satisfies PreviousHostsPredicate),
    },
  ],
  host_selection_retry_max_attempts: 3,
});
let notFoundCache: Route | undefined;
const notFoundRoute = () => (notFoundCache ??= constant(errorRoute('not-found', { prefix: '/' }, 404, 'NOT_FOUND', 'no such service')));

/**
 * Inference capture on Envoy, with no callout of its own: a second Lua filter whose named
 * script (xds/contract.ts captureScript) each captured version's routes switch on with
 * LuaPerRoute (its settings in filter_context). It copies the sampled request's bodies —
 * streamed past, never buffered by Envoy — into dynamic metadata, which the gRPC access log
 * entry carries to the gateway on its long-lived, batched stream. No default script: a
 * route that does not name it (errors, OIP gRPC, a version with the table off) runs nothing.
 * It sits after ext_authz and the rate limit, as ext_proc did: a refused request is logged
 * (from the access log alone) but its body is not copied.
 */
function captureFilter(): HttpFilter {
  const lua: Lua = { source_codes: { [CAPTURE_SCRIPT_NAME]: { inline_string: captureScript() } }, stat_prefix: 'sluice_capture' };
  return { name: FILTER.capture, typed_config: packAny(ENVOY_TYPES.lua, lua) };
}

/**
 * The scope key filter, first in the chain: sets SCOPE_HEADER from the request's path or
 * authority (contract.ts edgeScopeScript) and clears the route cache, so the scope — the
 * group's own route configuration — is picked with the key in place.
 */
function scopeKeyFilter(): HttpFilter {
  const lua: Lua = { default_source_code: { inline_string: edgeScopeScript() } };
  return { name: FILTER.lua, typed_config: packAny(ENVOY_TYPES.lua, lua) };
}

function edgeHttpFilters(s: DataPlaneSettings): HttpFilter[] {
  const extAuthz: ExtAuthz = {
    grpc_service: gatewayGrpc(s),
    transport_api_version: 'V3',
    // a gateway outage must not open the door
    failure_mode_allow: false,
    status_on_error: { code: 'ServiceUnavailable' },
    include_peer_certificate: false,
  };
  const rateLimit: RateLimitFilter = {
    domain: RATE_LIMIT_DOMAIN,
    rate_limit_service: { grpc_service: gatewayGrpc(s), transport_api_version: 'V3' },
    // throttling is a protection, not a gate: fail open if the gateway is down
    failure_mode_deny: false,
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    timeout: { seconds: 0, nanos: 200_000_000 },
  };
  return [
    // first: the scope (the group's routes) must be picked before any filter reads its route
    scopeKeyFilter(),
    ...jwtHttpFilters(s),
    { name: FILTER.extAuthz, typed_config: packAny(ENVOY_TYPES.extAuthz, extAuthz) },
    localRateLimitMode(s) ? localRateLimitFilter() : { name: FILTER.rateLimit, typed_config: packAny(ENVOY_TYPES.rateLimit, rateLimit) },
    captureFilter(),
    { name: FILTER.router, typed_config: packAny(ENVOY_TYPES.router, {} satisfies Router) },
  ];
}

/**
 * The edge's routes, scoped per group: the scope key is SCOPE_HEADER (set by the first
 * filter), each group's scope names its own route configuration, fetched by RDS over ADS.
 * The scopes themselves are inline (they change only when a group comes or goes).
 */
function edgeScopedRoutes(groups: readonly string[]): ScopedRoutes {
  return {
    name: EDGE_ROUTE_CONFIG,
    scope_key_builder: { fragments: [{ header_value_extractor: { name: SCOPE_HEADER, index: 0 } }] },
    rds_config_source: ADS,
    scoped_route_configurations_list: {
      scoped_route_configurations: groups.map((g) => ({
        name: g,
        route_configuration_name: edgeRouteConfigName(g),
        key: { fragments: [{ string_key: g }] },
      })),
    },
  };
}

/** The contract's default body limit: the edge's per-connection buffer is never below it. */
const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

/** The largest body a group's versions capture (ext_proc buffers whole bodies). */
function groupBodyLimit(g: DataPlaneGroup): number {
  let max = 0;
  for (const v of g.versions) max = Math.max(max, v.inferenceTable.maxBodyBytes);
  return max;
}

/** The edge listener for the groups `names` (sorted), its buffer `maxBody` bytes. */
function edgeListener(names: readonly string[], maxBody: number, s: DataPlaneSettings): Listener {
  const accessLog: HttpGrpcAccessLogConfig = {
    common_config: {
      log_name: ACCESS_LOG_NAME,
      grpc_service: gatewayGrpc(s),
      transport_api_version: 'V3',
    },
    additional_request_headers_to_log: [PIN_HEADER, IDENTITY_HEADER, KEY_ID_HEADER, 'x-request-id', 'x-client-request-id'],
    additional_response_headers_to_log: [PIN_HEADER],
  };
  const hcm: HttpConnectionManager = {
    stat_prefix: 'sluice_edge',
    codec_type: 'AUTO',
    // Envoy wants at least one scope: with no group yet, one route configuration that only
    // answers the 404 (edgeEmptyRouteConfig) stands in for the scopes
    ...(names.length > 0
      ? { scoped_routes: edgeScopedRoutes(names) }
      : { rds: { config_source: ADS, route_config_name: EDGE_ROUTE_CONFIG } }),
    http_filters: edgeHttpFilters(s),
    access_log: [{ name: FILTER.grpcAccessLog, typed_config: packAny(ENVOY_TYPES.httpGrpcAccessLog, accessLog) }],
    generate_request_id: { value: true },
  };
  return {
    name: EDGE_LISTENER,
    address: { socket_address: { address: '0.0.0.0', port_value: s.listenerPort } },
    // ext_proc buffers whole bodies; the contract's default body limit is 10 MiB
    per_connection_buffer_limit_bytes: { value: maxBody },
    filter_chains: [
      { filters: [{ name: FILTER.hcm, typed_config: packAny(ENVOY_TYPES.httpConnectionManager, hcm) }] },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Open Inference Protocol gRPC through the edge listener

/**
 * OIP gRPC calls (`/inference.GRPCInferenceService/…`) to a group, told apart by their
 * `:authority` (`{group}.sluice`, as KServe routes gRPC by host), pinned by x-sluice-version
 * or split by the group's weights exactly as its /predict route. Credentials and rate limits
 * apply as on /predict; the body capture is off: the bodies are protobuf, not the
 * JSON the inference table reads.
 */
function oipGrpcEdgeRoutes(group: DataPlaneGroup, s: DataPlaneSettings): Route[] {
  const authority = { name: ':authority', string_match: { safe_regex: { regex: oipGrpcAuthorityRegex(group.name) } } };
  const match = (pin?: string): Route['match'] => ({
    prefix: OIP_GRPC_PATH_PREFIX,
    headers: pin === undefined ? [authority] : [authority, { name: PIN_HEADER, string_match: { exact: pin } }],
    grpc: {},
  });
  const versions = sortedVersions(group);
  const filters = new Map(versions.map((v) => [v.name, oipGrpcFilterConfig(group, v, s)]));
  const hashPolicy = hashPolicyOf(s);
  const routes: Route[] = versions.map((v) => ({
    match: match(v.name),
    route: { cluster: clusterName(group.name, v.name), timeout: ROUTE_TIMEOUT, rate_limits: pinRateLimits(group, v), hash_policy: hashPolicy },
    metadata: sluiceMetadata({ group: group.name, version: v.name }),
    request_headers_to_add: [setHeader(PIN_HEADER, v.name), ...jwtIdentityHeaders(v, s)],
    response_headers_to_add: [setHeader(PIN_HEADER, v.name)],
    typed_per_filter_config: filters.get(v.name),
    name: `${group.name}/oip-grpc/pin/${v.name}`,
  }));
  const weights = integerWeights(versions);
  const weighted = versions.filter((v) => (weights.get(v.name) ?? 0) > 0);
  if (weighted.length === 0) return routes;
  routes.push({
    match: match(),
    route: {
      weighted_clusters: {
        clusters: weighted.map(
          (v): ClusterWeight => ({
            name: clusterName(group.name, v.name),
            weight: { value: weights.get(v.name) ?? 0 },
            request_headers_to_add: [setHeader(PIN_HEADER, v.name), ...jwtIdentityHeaders(v, s)],
            response_headers_to_add: [setHeader(PIN_HEADER, v.name)],
            typed_per_filter_config: filters.get(v.name),
          }),
        ),
      },
      timeout: ROUTE_TIMEOUT,
      rate_limits: splitRateLimits(group, weighted),
      hash_policy: hashPolicy,
    },
    metadata: sluiceMetadata({ group: group.name }),
    name: `${group.name}/oip-grpc/default`,
  });
  return routes;
}

/** The version's ext_authz settings as on /predict; no capture of protobuf bodies. */
function oipGrpcFilterConfig(group: DataPlaneGroup, v: DataPlaneVersion, s: DataPlaneSettings): Record<string, PackedAny> {
  const predict = versionFilterConfig(group, v, s);
  return sortedMap([
    ...Object.entries(predict).filter(([name]) => name !== FILTER.capture),
    // capture off, packed once (policiesOff's)
    [FILTER.capture, policiesOff()[FILTER.capture]!],
  ]);
}

// ---------------------------------------------------------------------------------------
// Proxyless gRPC (API listeners)

function apiListener(group: DataPlaneGroup): Listener {
  const hcm: HttpConnectionManager = {
    stat_prefix: `sluice_api_${group.name}`,
    rds: { config_source: ADS, route_config_name: apiListenerName(group.name) },
    // grpc-js-xds requires the router, and last
    http_filters: [{ name: FILTER.router, typed_config: packAny(ENVOY_TYPES.router, {} satisfies Router) }],
  };
  return {
    name: apiListenerName(group.name),
    api_listener: { api_listener: packAny(ENVOY_TYPES.httpConnectionManager, hcm) },
  };
}

function apiRouteConfig(group: DataPlaneGroup, s: DataPlaneSettings): RouteConfiguration {
  const versions = sortedVersions(group);
  const hashPolicy = hashPolicyOf(s);
  const routes: Route[] = versions.map((v) => ({
    match: { prefix: '/', headers: [{ name: PIN_HEADER, string_match: { exact: v.name } }] },
    route: { cluster: clusterName(group.name, v.name), hash_policy: hashPolicy },
    metadata: sluiceMetadata({ group: group.name, version: v.name }),
    name: `${group.name}/pin/${v.name}`,
  }));
  const weights = integerWeights(versions);
  const weighted = versions.filter((v) => (weights.get(v.name) ?? 0) > 0);
  if (weighted.length > 0) {
    routes.push({
      match: { prefix: '/' },
      route: {
        // proxyless gRPC clients (grpc-js-xds 1.14) ignore use_hash_policy and pick at random
        weighted_clusters: {
          ...stickyVersionChoice(s),
          clusters: weighted.map((v) => ({
            name: clusterName(group.name, v.name),
            weight: { value: weights.get(v.name) ?? 0 },
          })),
        },
        hash_policy: hashPolicy,
      },
      metadata: sluiceMetadata({ group: group.name }),
      name: `${group.name}/default`,
    });
  }
  return {
    name: apiListenerName(group.name),
    virtual_hosts: [{ name: group.name, domains: ['*'], routes }],
  };
}

// ---------------------------------------------------------------------------------------
// Clusters and endpoints

/**
 * Runtimes answer HTTP/1.1 (MLflow, OIP REST) and HTTP/2 (OIP gRPC) on one port: Envoy
 * speaks to them what the client spoke to Envoy.
 */
function runtimeProtocolOptions(): HttpProtocolOptions {
  return { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } };
}

// what every version's cluster carries alike, encoded once (frozen)
let clusterConstants:
  | Pick<Cluster, 'connect_timeout' | 'typed_extension_protocol_options' | 'health_checks' | 'outlier_detection'>
  | undefined;
function sharedClusterParts() {
  clusterConstants ??= constant({
    connect_timeout: { seconds: 2 },
    // model runtimes speak HTTP/1.1, and HTTP/2 for gRPC
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(ENVOY_TYPES.httpProtocolOptions, runtimeProtocolOptions()),
    },
    health_checks: [
      {
        timeout: { seconds: 1 },
        interval: { seconds: 5 },
        unhealthy_threshold: { value: 2 },
        healthy_threshold: { value: 1 },
        http_health_check: { path: '/healthz' },
      },
    ],
    outlier_detection: {
      consecutive_5xx: { value: 5 },
      // success-rate ejection is off: Envoy enables it by default, and grpc-js 1.14's
      // version of it throws from a timer (crashing the client) when a round has no data
      enforcing_success_rate: { value: 0 },
      interval: { seconds: 5 },
      base_ejection_time: { seconds: 30 },
      max_ejection_percent: { value: 50 },
    },
  });
  return clusterConstants;
}

function versionCluster(group: DataPlaneGroup, v: DataPlaneVersion, s: DataPlaneSettings): Cluster {
  const name = clusterName(group.name, v.name);
  const shared = sharedClusterParts();
  // fields in the order they are numbered (the encoder's fast path)
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: name },
    connect_timeout: shared.connect_timeout,
    lb_policy: s.stickyHeader ? 'RING_HASH' : 'ROUND_ROBIN',
    health_checks: shared.health_checks,
    ...concurrencyLimit(v),
    outlier_detection: shared.outlier_detection,
    metadata: sluiceMetadata(clusterMetadata(group, v)),
    alt_stat_name: `sluice_${group.name}_${v.name}`,
    typed_extension_protocol_options: shared.typed_extension_protocol_options,
  };
}

/**
 * A version's max concurrency on Envoy: the cluster's circuit breaker. Over HTTP/1.1 a
 * connection carries one request, over HTTP/2 (gRPC) many, so connections and requests
 * are both capped; in
 * QUEUE mode up to `queueDepth` requests wait for a connection (bounded by the route
 * timeout), in REJECT mode one at most. Past that Envoy answers 503 with
 * `x-envoy-overloaded` (the local edge answers 429 REQUEST_LIMIT_EXCEEDED).
 */
function concurrencyLimit(v: DataPlaneVersion): Pick<Cluster, 'circuit_breakers'> {
  if (!v.maxConcurrency) return {};
  return {
    circuit_breakers: {
      thresholds: [
        {
          priority: 'DEFAULT',
          max_connections: { value: v.maxConcurrency },
          max_requests: { value: v.maxConcurrency },
          max_pending_requests: { value: v.queueDepth ?? 1 },
        },
      ],
    },
  };
}

function loadAssignment(group: DataPlaneGroup, v: DataPlaneVersion): ClusterLoadAssignment {
  const healthy = v.endpoints
    .filter((e) => e.healthy)
    .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  return {
    cluster_name: clusterName(group.name, v.name),
    endpoints:
      healthy.length === 0
        ? []
        : [
            {
              locality: { region: 'sluice' },
              lb_endpoints: healthy.map((e) => ({
                endpoint: {
                  address: { socket_address: { address: e.host, port_value: e.port } },
                  hostname: e.instance,
                },
                health_status: 'HEALTHY',
              })),
              // gRPC clients ignore a locality without a weight
              load_balancing_weight: { value: 1 },
            },
          ],
  };
}

// ---------------------------------------------------------------------------------------

/** What one group contributes; reused while the group and the settings are unchanged. */
interface GroupOutput {
  apiListener: XdsResource;
  apiRoute: XdsResource;
  /** the group's edge route configuration (`sluice-edge/{group}`) */
  edgeRoute: XdsResource;
  clusters: XdsResource[];
  endpoints: XdsResource[];
}

function translateGroup(g: DataPlaneGroup, settings: DataPlaneSettings): GroupOutput {
  groupEpoch += 1;
  const out: GroupOutput = {
    apiListener: {
      ...resource(TYPE_URL.listener, ENVOY_TYPES.listener, apiListenerName(g.name), apiListener(g)),
      onlyByName: true,
    },
    apiRoute: resource(TYPE_URL.route, ENVOY_TYPES.routeConfiguration, apiListenerName(g.name), apiRouteConfig(g, settings)),
    clusters: [],
    endpoints: [],
    edgeRoute: resource(TYPE_URL.route, ENVOY_TYPES.routeConfiguration, edgeRouteConfigName(g.name), edgeRouteConfig(g, settings)),
  };
  for (const v of sortedVersions(g)) {
    const name = clusterName(g.name, v.name);
    out.clusters.push(resource(TYPE_URL.cluster, ENVOY_TYPES.cluster, name, versionCluster(g, v, settings)));
    out.endpoints.push(resource(TYPE_URL.endpoint, ENVOY_TYPES.clusterLoadAssignment, name, loadAssignment(g, v)));
  }
  return withGroupReferences(g, out);
}

/**
 * What a group's resources depend on, for make-before-break ordering and the snapshot
 * check: its API listener names its route configuration; that configuration (and the
 * group's part of the edge one) names every version's cluster (pin routes name each).
 */
function withGroupReferences(g: DataPlaneGroup, out: GroupOutput): GroupOutput {
  out.apiListener.references = [apiListenerName(g.name)];
  out.apiRoute.references = sortedVersions(g).map((v) => clusterName(g.name, v.name));
  out.edgeRoute.references = out.apiRoute.references;
  return out;
}

// ---------------------------------------------------------------------------------------
// Group templates: groups alike but for their names are encoded once
//
// A fleet's groups mostly look alike: the same number of versions, the same switches
// (auth, limits, capture, mirror), the same weights — their route configurations,
// listeners and clusters differ only in the names they carry. Building, checking and
// encoding each group's objects was most of a cold translation's time. So a group's
// *shape* (everything translation reads of it but its names and its endpoints' addresses)
// keys a template: its resources encoded once for placeholder names (proto/splice.ts),
// then filled in with each group's names — the strings and the lengths around them
// rewritten, nothing else touched.
//
// The shape is the group's data itself with the names and endpoint details left out
// (`groupShape`), so a field the model gains later is part of it by default. Endpoints
// count only as "has a healthy one" (integerWeights): only the endpoint resources
// (loadAssignment), which are never templated, read more of them. A template is made when
// a shape is seen the second time (a one-off group costs nothing more) and is kept only if
// filling it in with that group's names gives exactly the bytes the ordinary translation
// gave; otherwise the shape is translated the ordinary way from then on.

interface GroupTemplate {
  apiListener: MessageTemplate;
  apiRoute: MessageTemplate;
  edgeRoute: MessageTemplate;
  /** one per version, in name order */
  clusters: MessageTemplate[];
}

const placeholders = new Placeholders();
/** shapes remembered per translation state at most (a model with more starts over) */
const MAX_SHAPES = 4096;
/** groups of a shape (in a full pass, or met over passes) before a template is made for it (TranslationOptions) */
const TEMPLATE_AFTER = 16;

/** JSON that keeps apart what JSON alone would not (non-finite numbers, -0). */
const exactNumbers = (_key: string, v: unknown) =>
  typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `#${String(Object.is(v, -0) ? '-0' : v)}` : v;

/** What translation reads of `g` but its names and its endpoints' addresses (`versions`: sorted by name). */
function groupShape(g: DataPlaneGroup, versions: readonly DataPlaneVersion[]): string {
  const { groupId: _id, name: _name, versions: _versions, mirror, ...rest } = g;
  let mirrorShape: unknown = mirror;
  if (mirror) {
    const { version, ...m } = mirror;
    mirrorShape = [versions.findIndex((v) => v.name === version), m];
  }
  const versionShapes = versions.map(({ versionId: _vid, name: _vname, endpoints, ...v }) => [v, endpoints.some((e) => e.healthy)]);
  return JSON.stringify([rest, mirrorShape, versionShapes], exactNumbers);
}

/** `g` with placeholder names (0: the group, i + 1: its i-th version by name) and one stand-in endpoint per serving version. */
function placeholderGroup(g: DataPlaneGroup, versions: readonly DataPlaneVersion[]): DataPlaneGroup {
  const mirror = g.mirror;
  return {
    ...g,
    groupId: '',
    name: placeholders.name(0),
    versions: versions.map((v, i) => ({
      ...v,
      versionId: '',
      name: placeholders.name(i + 1),
      endpoints: v.endpoints.some((e) => e.healthy) ? [{ instance: 'e', host: 'h', port: 1, healthy: true }] : [],
    })),
    mirror: mirror ? { ...mirror, version: placeholders.name(1 + versions.findIndex((v) => v.name === mirror.version)) } : mirror,
  };
}

function lookupOrNull(typeUrl: string) {
  try {
    return lookupType(typeUrl);
  } catch {
    return null;
  }
}

/** The template of `g`'s shape, or null when one of its resources cannot be cut into one. */
function groupTemplate(g: DataPlaneGroup, versions: readonly DataPlaneVersion[], s: DataPlaneSettings): GroupTemplate | null {
  const out = translateGroup(placeholderGroup(g, versions), s);
  const cut = (r: XdsResource) => cutTemplate(lookupType(r.resource.type_url), r.resource.value, placeholders, lookupOrNull);
  const apiListener = cut(out.apiListener);
  const apiRoute = cut(out.apiRoute);
  const edgeRoute = cut(out.edgeRoute);
  const clusters = out.clusters.map(cut);
  if (!apiListener || !apiRoute || !edgeRoute || clusters.some((c) => !c)) return null;
  return { apiListener, apiRoute, edgeRoute, clusters: clusters as MessageTemplate[] };
}

function filled(typeUrl: XdsTypeUrl, name: string, t: MessageTemplate, names: NameBytes, allocate: Allocate): XdsResource {
  const value = instantiate(t, names, allocate);
  return { name, typeUrl, resource: { type_url: typeUrl, value }, hash: contentHash(value) };
}

/** `g`'s output from its shape's template (endpoints translated the ordinary way). */
function fromTemplate(t: GroupTemplate, g: DataPlaneGroup, versions: readonly DataPlaneVersion[], allocate: Allocate): GroupOutput {
  const names = nameBytes([g.name, ...versions.map((v) => v.name)]);
  const out: GroupOutput = {
    apiListener: { ...filled(TYPE_URL.listener, apiListenerName(g.name), t.apiListener, names, allocate), onlyByName: true },
    apiRoute: filled(TYPE_URL.route, apiListenerName(g.name), t.apiRoute, names, allocate),
    edgeRoute: filled(TYPE_URL.route, edgeRouteConfigName(g.name), t.edgeRoute, names, allocate),
    clusters: versions.map((v, i) => filled(TYPE_URL.cluster, clusterName(g.name, v.name), t.clusters[i]!, names, allocate)),
    endpoints: versions.map((v) => resource(TYPE_URL.endpoint, ENVOY_TYPES.clusterLoadAssignment, clusterName(g.name, v.name), loadAssignment(g, v))),
  };
  return withGroupReferences(g, out);
}

const sameBytes = (a: XdsResource, b: XdsResource) => a.name === b.name && a.hash === b.hash && Buffer.from(a.resource.value).equals(b.resource.value);

/** Whether two outputs of one group are the same resources. */
function sameOutput(a: GroupOutput, b: GroupOutput): boolean {
  return (
    sameBytes(a.apiListener, b.apiListener) &&
    sameBytes(a.apiRoute, b.apiRoute) &&
    sameBytes(a.edgeRoute, b.edgeRoute) &&
    a.clusters.length === b.clusters.length &&
    a.clusters.every((c, i) => sameBytes(c, b.clusters[i]!))
  );
}

/** Shape templates are made, refused (filling one in did not give the ordinary bytes), used. */
export const templateStats = { made: 0, refused: 0, used: 0 };

/** Per translation state (one settings): the templates of the shapes seen. */
class GroupTemplates {
  constructor(private readonly after: number) {}
  private readonly shapes = new Map<string, { seen: number; tried: boolean; template: GroupTemplate | null }>();
  private settingsKey: string | undefined;
  /** instances of this pass are written here (chunkAllocator) */
  private allocate: Allocate = Buffer.allocUnsafe;
  /** a full pass: how many of its groups each shape has, and each group's shape */
  private expected = new Map<string, number>();
  private shapeOf = new WeakMap<DataPlaneGroup, string>();
  /** A pass begins: starts over unless the templates were made for these settings (`key`: all they are). */
  useFor(key: string): void {
    this.allocate = chunkAllocator();
    this.expected = new Map();
    this.shapeOf = new WeakMap();
    if (key === this.settingsKey) return;
    this.shapes.clear();
    this.settingsKey = key;
  }
  /**
   * A full pass is about to translate `groups`: their shapes are counted first, so that a
   * template is made only for a shape enough of them share. Making one costs some ten
   * ordinary group translations (the placeholder group, cutting, the check) and saves about
   * half of one per group filled in: a model whose groups all differ (weights spread over
   * a hundred values, say) would otherwise translate slower than without templates.
   */
  expect(groups: readonly DataPlaneGroup[]): void {
    for (const g of groups) {
      const key = groupShape(g, sortedVersions(g));
      this.shapeOf.set(g, key);
      this.expected.set(key, (this.expected.get(key) ?? 0) + 1);
    }
  }
  /** What translateGroup gives for `g` (validated), from its shape's template when there is one. */
  translate(g: DataPlaneGroup, s: DataPlaneSettings): GroupOutput {
    const versions = sortedVersions(g);
    if (versions.length + 1 > Placeholders.MAX) return translateGroup(g, s);
    const key = this.shapeOf.get(g) ?? groupShape(g, versions);
    let shape = this.shapes.get(key);
    if (!shape) {
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      shape = { seen: 0, tried: false, template: null };
      this.shapes.set(key, shape);
    }
    shape.seen += 1;
    if (shape.template) {
      templateStats.used += 1;
      return fromTemplate(shape.template, g, versions, this.allocate);
    }
    const out = translateGroup(g, s);
    // worth making: enough groups of this pass share the shape, or enough passes met it
    const worth = (this.expected.get(key) ?? 0) >= this.after || shape.seen >= this.after;
    if (!shape.tried && shape.seen >= 2 && worth) {
      shape.tried = true;
      const t = groupTemplate(g, versions, s);
      // kept only if it gives this group exactly what the ordinary translation gave
      if (t && sameOutput(fromTemplate(t, g, versions, Buffer.allocUnsafe), out)) {
        shape.template = t;
        templateStats.made += 1;
      } else templateStats.refused += 1;
    }
    return out;
  }
}

export type Translate = (model: DataPlaneModel, settings: DataPlaneSettings) => EnvoyResources;

/** What one translation pass produced, and how it differs from the pass before. */
export interface TranslationPass {
  /** every resource, each list sorted by name (built on call: O(all)) */
  all(): EnvoyResources;
  /**
   * Resources translated again (new or changed groups, the edge listener when its scopes
   * changed) and the names of resources gone, per type, since the previous pass; null when
   * everything was translated (the first pass, or the settings changed).
   */
  changes: SnapshotChangeList | null;
  /** resources translated (encoded) by this pass: what a change cost */
  translated: number;
}

export interface SnapshotChangeList {
  listeners: TypeChange;
  routes: TypeChange;
  clusters: TypeChange;
  endpoints: TypeChange;
}
export interface TypeChange {
  set: XdsResource[];
  removed: string[];
}

const groupResources = (o: GroupOutput) => ({
  listeners: [o.apiListener],
  routes: [o.apiRoute, o.edgeRoute],
  clusters: o.clusters,
  endpoints: o.endpoints,
});
/** Groups checked and translated again so far (tests count a change's cost by it). */
export const translationStats = { groupsTranslated: 0 };

/** A group as last translated: a copy of its content (to compare the next model's with), its output. */
interface GroupMemo {
  group: DataPlaneGroup;
  bodyLimit: number;
  out: GroupOutput;
}

const outputSize = (o: GroupOutput) => 3 + o.clusters.length + o.endpoints.length;

/**
 * The translation state behind `createTranslator` and the snapshot builder: each group's
 * output is remembered under the group's name with the group's content as its key, and a
 * pass translates only the groups whose content changed (and the edge listener when the set
 * of groups or its body limit changed), reporting what it translated and what is gone.
 */
export interface TranslationOptions {
  /**
   * Whether groups alike but for their names are encoded once and filled in (group
   * templates; the default), or each group is built and encoded on its own (the reference
   * the templates are held to, in tests and the benchmark). Same resources either way.
   */
  shapeTemplates?: boolean;
  /**
   * Groups of one shape (in a full pass, or met over passes) before a template is made for
   * it (default 16: making one costs about ten ordinary group translations). Tests lower it.
   */
  templateAfter?: number;
}

export function createTranslationCore(options: TranslationOptions = {}): (model: DataPlaneModel, settings: DataPlaneSettings) => TranslationPass {
  const templates = options.shapeTemplates === false ? null : new GroupTemplates(options.templateAfter ?? TEMPLATE_AFTER);
  let settingsKey: string | undefined;
  let proxies: number | undefined;
  let memo = new Map<string, GroupMemo>();
  // how many groups ask for each body limit (the edge listener carries the largest)
  let bodyLimits = new Map<number, number>();
  let shared: { names: string; maxBody: number; listener: XdsResource; emptyRoutes: XdsResource | null; jwks: XdsResource | null } | undefined;
  return (model, settings) => {
    // the proxy count of local rate limiting (it changes as proxies come and go) shapes the
    // groups with a QPS limit only: those are translated again, not the whole model
    const sk = JSON.stringify({ ...settings, rateLimit: settings.rateLimit && { ...settings.rateLimit, proxies: undefined } });
    const fresh = sk !== settingsKey;
    if (fresh) validateSettings(settings);
    const shares = localRateLimitMode(settings) ? (settings.rateLimit?.proxies ?? 1) : undefined;
    const sharesChanged = !fresh && shares !== proxies;
    // templates are of one settings and proxy count (kept apart from the state below: a
    // pass that fails leaves that as it was, not these)
    templates?.useFor(`${shares}|${sk}`);
    if (fresh) templates?.expect(model.groups);
    // nothing below changes the state until the pass is through (a bad group throws first)
    const prevMemo = fresh ? new Map<string, GroupMemo>() : memo;
    const limits = fresh ? new Map<number, number>() : new Map(bodyLimits);
    const countLimit = (limit: number, by: 1 | -1) => {
      const n = (limits.get(limit) ?? 0) + by;
      if (n === 0) limits.delete(limit);
      else limits.set(limit, n);
    };
    let translated = 0;
    const next = new Map<string, GroupMemo>();
    const changed: GroupOutput[] = [];
    const gone: GroupOutput[] = [];
    let namesChanged = false;
    let added = 0;
    for (const g of model.groups) {
      if (next.has(g.name)) throw bad(`group ${g.name} appears twice`);
      // compared with the copy kept of it: a model is rebuilt per pass, or edited in place
      const had = prevMemo.get(g.name);
      if (had && plainEqual(had.group, g) && !(sharesChanged && g.versions.some((v) => v.qpsLimit !== null))) {
        next.set(g.name, had);
        continue;
      }
      validateGroup(g);
      translationStats.groupsTranslated += 1;
      if (!had) {
        namesChanged = true;
        added += 1;
      } else {
        gone.push(had.out);
        countLimit(had.bodyLimit, -1);
      }
      const out = templates ? templates.translate(g, settings) : translateGroup(g, settings);
      translated += outputSize(out);
      changed.push(out);
      const bodyLimit = groupBodyLimit(g);
      countLimit(bodyLimit, 1);
      next.set(g.name, { group: plainClone(g), bodyLimit, out });
    }
    // a group gone shows as fewer of the old names than there were
    if (next.size - added < prevMemo.size) {
      for (const [name, m] of prevMemo) {
        if (!next.has(name)) {
          gone.push(m.out);
          countLimit(m.bodyLimit, -1);
          namesChanged = true;
        }
      }
    }
    if (fresh) {
      settingsKey = sk;
      shared = undefined;
    }
    proxies = shares;
    memo = next;
    bodyLimits = limits;
    const prevShared = shared;
    // the edge listener names every group's scope and carries the largest body limit
    const sorted = namesChanged || !shared ? [...next.keys()].sort() : null;
    const namesKey = sorted ? sorted.join(',') : shared!.names;
    const maxBody = Math.max(DEFAULT_BODY_LIMIT, ...limits.keys());
    if (!shared || shared.names !== namesKey || shared.maxBody !== maxBody) {
      const names = sorted ?? [...next.keys()].sort();
      const edge = resource(TYPE_URL.listener, ENVOY_TYPES.listener, EDGE_LISTENER, edgeListener(names, maxBody, settings));
      translated += 1;
      const emptyRoutes = names.length > 0 ? null : (shared?.emptyRoutes ?? resource(TYPE_URL.route, ENVOY_TYPES.routeConfiguration, EDGE_ROUTE_CONFIG, edgeEmptyRouteConfig()));
      let jwks = shared?.jwks;
      if (jwks === undefined) {
        const c = jwksCluster(settings);
        jwks = c ? resource(TYPE_URL.cluster, ENVOY_TYPES.cluster, JWKS_CLUSTER, c) : null;
      }
      shared = {
        names: namesKey,
        maxBody,
        listener: { ...edge, references: names.length > 0 ? names.map((n) => edgeRouteConfigName(n)) : [EDGE_ROUTE_CONFIG] },
        emptyRoutes,
        jwks,
      };
    }
    const cur = shared;
    const all = (): EnvoyResources => {
      const listeners: XdsResource[] = [];
      const routes: XdsResource[] = [];
      const clusters: XdsResource[] = [];
      const endpoints: XdsResource[] = [];
      for (const { out } of next.values()) {
        listeners.push(out.apiListener);
        routes.push(out.apiRoute, out.edgeRoute);
        clusters.push(...out.clusters);
        endpoints.push(...out.endpoints);
      }
      if (cur.jwks) clusters.push(cur.jwks);
      listeners.push(cur.listener);
      if (cur.emptyRoutes) routes.push(cur.emptyRoutes);
      return { listeners: listeners.sort(byName), routes: routes.sort(byName), clusters: clusters.sort(byName), endpoints: endpoints.sort(byName) };
    };
    if (fresh || !prevShared) return { all, changes: null, translated };
    const changes: SnapshotChangeList = {
      listeners: { set: [], removed: [] },
      routes: { set: [], removed: [] },
      clusters: { set: [], removed: [] },
      endpoints: { set: [], removed: [] },
    };
    const kinds = ['listeners', 'routes', 'clusters', 'endpoints'] as const;
    const kept = new Set<string>();
    for (const o of changed) {
      const r = groupResources(o);
      for (const k of kinds) for (const x of r[k]) {
        changes[k].set.push(x);
        kept.add(`${k}:${x.name}`);
      }
    }
    for (const o of gone) {
      const r = groupResources(o);
      for (const k of kinds) for (const x of r[k]) if (!kept.has(`${k}:${x.name}`)) changes[k].removed.push(x.name);
    }
    if (cur !== prevShared) {
      changes.listeners.set.push(cur.listener);
      if (cur.emptyRoutes) changes.routes.set.push(cur.emptyRoutes);
      else if (prevShared.emptyRoutes) changes.routes.removed.push(prevShared.emptyRoutes.name);
    }
    return { all, changes, translated };
  };
}

/**
 * A translate function that remembers each group's output from the previous call and
 * reuses it while the group (and the settings) are unchanged: a weight change in one
 * group of thousands re-encodes that group's resources only (its edge and API route
 * configurations, clusters, endpoints); the edge listener is re-encoded only when the set
 * of groups (its scopes) or its body limit changes. The output is the same as `translate`
 * gives for the same input.
 */
export function createTranslator(options: TranslationOptions = {}): Translate {
  const core = createTranslationCore(options);
  return (model, settings) => core(model, settings).all();
}

/** The model as Envoy resources, each list sorted by name. Throws XdsTranslateError on a bad model. */
export function translate(model: DataPlaneModel, settings: DataPlaneSettings): EnvoyResources {
  return createTranslator()(model, settings);
}
