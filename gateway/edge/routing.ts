// The local edge's routing table, and how it is read out of the Envoy resources the xDS
// server hands out (pure: no I/O). The edge plays Envoy's part, so it reads exactly what
// Envoy would: the `sluice-edge` listener's HTTP connection manager (which filters run, and
// its route scopes: one per group, keyed by the group name, each naming the group's own
// route configuration), those route configurations (per group: pin routes on `x-sluice-version`, then a
// weighted_clusters split or a direct 503; per-route / per-cluster-weight filter configs
// that switch ext_authz and the capture (Lua capture filter or ext_proc) on or off), the EDS clusters, and their endpoints.
//
// Every parse step throws RoutingConfigError on something the edge cannot serve from, so
// the xDS client can NACK that response and keep its last good table.
import { unpackAny } from '../../proto/envoy.ts';
import { readErrorBody } from '../../platform/scoring/errors.ts';
import type { Listener__Output } from '../../proto/generated/envoy/config/listener/v3/Listener.ts';
import type { HttpConnectionManager__Output } from '../../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
import type { RouteConfiguration__Output } from '../../proto/generated/envoy/config/route/v3/RouteConfiguration.ts';
import type { Route__Output } from '../../proto/generated/envoy/config/route/v3/Route.ts';
import type { RouteAction__Output } from '../../proto/generated/envoy/config/route/v3/RouteAction.ts';
import { stickyHash, stickyIndex } from './sticky.ts';
import type { HeaderMatcher__Output } from '../../proto/generated/envoy/config/route/v3/HeaderMatcher.ts';
import type { HeaderValueOption__Output } from '../../proto/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { Cluster__Output } from '../../proto/generated/envoy/config/cluster/v3/Cluster.ts';
import type { ClusterLoadAssignment__Output } from '../../proto/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
import type { Any__Output } from '../../proto/generated/google/protobuf/Any.ts';
import type { Duration__Output } from '../../proto/generated/google/protobuf/Duration.ts';
import type { ExtAuthzPerRoute__Output } from '../../proto/generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthzPerRoute.ts';
import type { PerRouteConfig__Output as JwtPerRoute__Output } from '../../proto/generated/envoy/extensions/filters/http/jwt_authn/v3/PerRouteConfig.ts';
import type { ExtProcPerRoute__Output } from '../../proto/generated/envoy/extensions/filters/http/ext_proc/v3/ExtProcPerRoute.ts';
import type { LuaPerRoute__Output } from '../../proto/generated/envoy/extensions/filters/http/lua/v3/LuaPerRoute.ts';
import { EDGE_LISTENER, FILTER, METADATA_NAMESPACE, PIN_HEADER, parseClusterName, parsePredictPath } from '../../xds/contract.ts';
import type { ScopedRoutes__Output } from '../../proto/generated/envoy/extensions/filters/network/http_connection_manager/v3/ScopedRoutes.ts';

export { EDGE_LISTENER, PIN_HEADER };

export class RoutingConfigError extends Error {
  readonly code = 'EDGE_BAD_XDS_CONFIG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'RoutingConfigError';
  }
}
const bad = (m: string) => new RoutingConfigError(m);

// ---------------------------------------------------------------------------------------
// The table the server reads (immutable once built)

export interface EdgeEndpoint {
  readonly host: string;
  readonly port: number;
  /** the instance name (EDS hostname), for logs; host:port when absent */
  readonly instance: string;
}

/** Which edge policies apply to requests that end up on one version. */
export interface EdgeVersionPolicy {
  /** ext_authz on for this route (the Authorizer decides) */
  readonly auth: boolean;
  /** the route carries rate_limits (the RateLimiter knows the numbers) */
  readonly rateLimited: boolean;
  /** capture on for this route (the capture filter, or ext_proc): the request/response go to the inference table */
  readonly capture: boolean;
}

export interface EdgeVersion {
  readonly name: string;
  readonly cluster: string;
  readonly policy: EdgeVersionPolicy;
  /** upstream request timeout from the route; 0 = none set */
  readonly timeoutMs: number;
  readonly endpoints: readonly EdgeEndpoint[];
  /** the cluster says the version scales to zero: with no endpoint, wait for one (cold start) */
  readonly scaleToZero?: boolean;
}

export interface WeightedVersion {
  readonly version: EdgeVersion;
  readonly weight: number;
}

/** A directly answered route (Envoy's direct_response), e.g. 503 NO_RUNNING_VERSION. */
export interface DirectAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export interface EdgeGroup {
  readonly name: string;
  /** versions a client may pin with x-sluice-version */
  readonly pins: ReadonlyMap<string, EdgeVersion>;
  /** the answer to a pin header naming no pin route (null: fall through to the split) */
  readonly unknownPin: DirectAnswer | null;
  /** the default split; empty when `direct` answers instead */
  readonly weighted: readonly WeightedVersion[];
  readonly direct: DirectAnswer | null;
  /** sticky A/B: the header whose value picks the version (the split's hash policy); null = random */
  readonly stickyHeader: string | null;
  /** shadow traffic (the split's request_mirror_policies): a copy of `fraction` of requests to `version` */
  readonly mirror: EdgeMirror | null;
}

export interface EdgeMirror {
  readonly version: EdgeVersion;
  /** 0 < fraction <= 1 */
  readonly fraction: number;
}

export interface RoutingTable {
  /** false until the first config arrived: the edge then answers 503, not 404 */
  readonly configured: boolean;
  /** the xDS versions (LDS/RDS/CDS/EDS) this table was built from, for /healthz and logs */
  readonly versions: Readonly<Record<'listener' | 'route' | 'cluster' | 'endpoint', string>>;
  readonly groups: ReadonlyMap<string, EdgeGroup>;
  /** the catch-all answer for paths no group claims */
  readonly notFound: DirectAnswer;
}

export const EMPTY_TABLE: RoutingTable = Object.freeze({
  configured: false,
  versions: Object.freeze({ listener: '', route: '', cluster: '', endpoint: '' }),
  groups: new Map<string, EdgeGroup>(),
  notFound: Object.freeze({ status: 404, code: 'NOT_FOUND', message: 'no such service' }),
});

// ---------------------------------------------------------------------------------------
// Listener → HCM

/** One route scope: requests whose scope key is `key` are routed by `routeConfigName`. */
export interface EdgeRouteScope {
  readonly key: string;
  readonly routeConfigName: string;
}

export interface EdgeListenerConfig {
  /**
   * Where the routes come from: one route configuration for every request (`rds`, key
   * null), or one per scope (scoped routes: a group's /predict requests are routed by the
   * scope whose key is the group name).
   */
  readonly scopes: readonly EdgeRouteScope[];
  /** every route configuration the listener names, sorted (what RDS subscribes to) */
  readonly routeConfigNames: readonly string[];
  /** names of the HTTP filters in the chain, in order (router last) */
  readonly httpFilters: readonly string[];
}

function unpack<T>(any: Any__Output | null | undefined, what: string): T {
  if (!any) throw bad(`${what}: missing typed config`);
  try {
    return unpackAny<T>(any);
  } catch (err) {
    throw bad(`${what}: ${(err as Error).message}`);
  }
}

function usesAds(source: { ads?: unknown; self?: unknown } | undefined): boolean {
  return Boolean(source && (source.ads || source.self));
}

export function parseListener(listener: Listener__Output): EdgeListenerConfig {
  const name = listener.name ?? '';
  let hcm: HttpConnectionManager__Output | undefined;
  for (const chain of listener.filter_chains ?? []) {
    for (const f of chain.filters ?? []) {
      if (f.name === FILTER.hcm) hcm = unpack<HttpConnectionManager__Output>(f.typed_config, `listener ${name}`);
    }
  }
  if (!hcm && listener.api_listener?.api_listener) {
    hcm = unpack<HttpConnectionManager__Output>(listener.api_listener.api_listener, `listener ${name}`);
  }
  if (!hcm) throw bad(`listener ${name} has no HTTP connection manager`);
  let scopes: EdgeRouteScope[];
  if (hcm.scoped_routes) {
    scopes = parseScopes(hcm.scoped_routes, name);
  } else {
    const rds = hcm.rds;
    if (!rds?.route_config_name) throw bad(`listener ${name}: the connection manager must use RDS (route_config_name) or scoped routes`);
    if (!usesAds(rds.config_source)) throw bad(`listener ${name}: RDS must come over ADS`);
    scopes = [{ key: '', routeConfigName: rds.route_config_name }];
  }
  const httpFilters = (hcm.http_filters ?? []).map((f) => f.name ?? '');
  if (httpFilters.at(-1) !== FILTER.router) throw bad(`listener ${name}: the router must be the last HTTP filter`);
  const routeConfigNames = Object.freeze([...new Set(scopes.map((x) => x.routeConfigName))].sort());
  return Object.freeze({ scopes: Object.freeze(scopes.map((x) => Object.freeze(x))), routeConfigNames, httpFilters: Object.freeze(httpFilters) });
}

/**
 * Scoped routes as Sluice emits them: an inline list of scopes, each with a one-fragment
 * string key and a route configuration fetched by RDS over ADS. The key builder must read one
 * whole header (the scope key the edge's first filter sets); the local edge itself keys by
 * the group of the /predict path, which is what that header carries for /predict.
 */
function parseScopes(sr: ScopedRoutes__Output, listener: string): EdgeRouteScope[] {
  const where = `listener ${listener} scoped routes`;
  if (!usesAds(sr.rds_config_source)) throw bad(`${where}: RDS must come over ADS`);
  const fragments = sr.scope_key_builder?.fragments ?? [];
  if (fragments.length !== 1 || !fragments[0]?.header_value_extractor?.name) throw bad(`${where}: a scope key of one header is expected`);
  const list = sr.scoped_route_configurations_list?.scoped_route_configurations;
  if (!list) throw bad(`${where}: only an inline list of scopes is supported (no SRDS)`);
  const seen = new Set<string>();
  return list.map((scope) => {
    const keys = scope.key?.fragments ?? [];
    const key = keys[0]?.string_key;
    if (keys.length !== 1 || !key) throw bad(`${where}: scope ${scope.name ?? ''} needs a key of one string fragment`);
    if (seen.has(key)) throw bad(`${where}: two scopes with the key ${key}`);
    seen.add(key);
    if (!scope.route_configuration_name) throw bad(`${where}: scope ${scope.name ?? ''} names no route configuration`);
    return { key, routeConfigName: scope.route_configuration_name };
  });
}

// ---------------------------------------------------------------------------------------
// Route configuration → per-group route shapes (clusters not yet resolved)

interface PolicyOverrides {
  auth: boolean | undefined;
  capture: boolean | undefined;
}

/** What one cluster choice on a route says (cluster name, version, filter overrides). */
export interface RouteTarget {
  readonly cluster: string;
  readonly version: string;
  readonly overrides: PolicyOverrides;
  readonly rateLimited: boolean;
  readonly timeoutMs: number;
}

export interface GroupRoutes {
  readonly name: string;
  readonly pins: readonly RouteTarget[];
  readonly unknownPin: DirectAnswer | null;
  readonly weighted: readonly (RouteTarget & { weight: number })[];
  readonly direct: DirectAnswer | null;
  readonly stickyHeader: string | null;
  readonly mirror: { readonly target: RouteTarget; readonly fraction: number } | null;
}

export interface EdgeRouteConfig {
  readonly name: string;
  readonly groups: ReadonlyMap<string, GroupRoutes>;
  readonly notFound: DirectAnswer;
  /** every cluster some route names, sorted */
  readonly clusters: readonly string[];
}


const durationMs = (d: Duration__Output | null | undefined): number =>
  d ? Number(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6) : 0;

function filterOverrides(map: Record<string, Any__Output> | undefined, where: string): PolicyOverrides {
  const out: PolicyOverrides = { auth: undefined, capture: undefined };
  if (!map) return out;
  const authz = map[FILTER.extAuthz];
  if (authz) {
    const cfg = unpack<ExtAuthzPerRoute__Output>(authz, `${where} ext_authz`);
    out.auth = !cfg.disabled;
  }
  // a JWT-only version: jwt_authn checks it on Envoy instead of ext_authz; the local edge
  // checks it in-process all the same (the authorizer refuses API keys there)
  const jwt = map[FILTER.jwtAuthn];
  if (jwt) {
    const cfg = unpack<JwtPerRoute__Output>(jwt, `${where} jwt_authn`);
    if (cfg.requirement_name) out.auth = true;
  }
  const proc = map[FILTER.extProc];
  if (proc) {
    const cfg = unpack<ExtProcPerRoute__Output>(proc, `${where} ext_proc`);
    out.capture = !cfg.disabled;
  }
  // the capture filter (Lua, named script, no default): on where a route names the script
  const capture = map[FILTER.capture];
  if (capture) {
    const cfg = unpack<LuaPerRoute__Output>(capture, `${where} capture`);
    out.capture = !cfg.disabled && Boolean(cfg.name);
  }
  return out;
}

function merge(outer: PolicyOverrides, inner: PolicyOverrides): PolicyOverrides {
  return { auth: inner.auth ?? outer.auth, capture: inner.capture ?? outer.capture };
}

function hasLocalRateLimit(config: Record<string, unknown> | null | undefined): boolean {
  return config !== null && config !== undefined && FILTER.localRateLimit in config;
}

function headerValue(list: HeaderValueOption__Output[] | undefined, name: string): string | undefined {
  for (const h of list ?? []) if (h.header?.key?.toLowerCase() === name) return h.header.value;
  return undefined;
}

function versionOfCluster(cluster: string, group: string, hinted: string | undefined, where: string): string {
  const parsed = parseClusterName(cluster);
  const fromName = parsed?.group === group ? parsed.version : undefined;
  const version = hinted ?? fromName;
  if (!version) throw bad(`${where}: cannot tell which version cluster ${cluster} serves`);
  return version;
}

function directAnswer(route: Route__Output, where: string): DirectAnswer {
  const d = route.direct_response;
  const status = d?.status ?? 0;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw bad(`${where}: direct_response status ${status}`);
  const text = d?.body?.inline_string ?? (d?.body?.inline_bytes ? Buffer.from(d.body.inline_bytes).toString('utf8') : '');
  let code = status === 404 ? 'NOT_FOUND' : status === 503 ? 'UNAVAILABLE' : `HTTP_${status}`;
  let message = text || `answered ${status} by route ${route.name ?? ''}`;
  const parsed = readErrorBody(text);
  if (parsed) {
    code = parsed.code;
    if (parsed.message) message = parsed.message;
  } else {
    try {
      // the shape older control planes pushed
      const old = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof old.error?.code === 'string') code = old.error.code;
      if (typeof old.error?.message === 'string') message = old.error.message;
    } catch {
      // a plain-text body is the message as it is
    }
  }
  return Object.freeze({ status, code, message });
}

type PinMatch = { kind: 'none' } | { kind: 'exact'; version: string } | { kind: 'present' };

function pinMatch(headers: HeaderMatcher__Output[] | undefined, where: string): PinMatch {
  if (!headers || headers.length === 0) return { kind: 'none' };
  if (headers.length > 1) throw bad(`${where}: more than one header matcher`);
  const h = headers[0] as HeaderMatcher__Output;
  if ((h.name ?? '').toLowerCase() !== PIN_HEADER) throw bad(`${where}: header matcher on ${h.name}, only ${PIN_HEADER} is understood`);
  if (h.invert_match) throw bad(`${where}: inverted header matchers are not supported`);
  const exact = h.string_match?.exact ?? h.exact_match;
  if (exact !== undefined && exact !== '' && !h.string_match?.ignore_case) return { kind: 'exact', version: exact };
  if (h.present_match) return { kind: 'present' };
  throw bad(`${where}: only exact and present matches on ${PIN_HEADER} are understood`);
}

/**
 * The sticky header of a weighted route: Envoy picks the cluster from the route's hash
 * policy when `use_hash_policy` is set (xds/translate.ts stickyVersionChoice); the edge
 * understands a single header hash policy, as Sluice emits.
 */
function stickyHeaderOf(action: RouteAction__Output): string | null {
  const wc = action.weighted_clusters as (RouteAction__Output['weighted_clusters'] & { use_hash_policy?: { value?: boolean } | null }) | null | undefined;
  if (!wc?.use_hash_policy?.value) return null;
  const header = (action.hash_policy ?? []).find((h) => h.header?.header_name)?.header?.header_name;
  return header ? header.toLowerCase() : null;
}

const DENOMINATOR: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000, 0: 100, 1: 10_000, 2: 1_000_000 };

/** The first request mirror policy of a route (Sluice emits at most one): cluster and fraction. */
function mirrorOf(action: RouteAction__Output, where: string): { cluster: string; fraction: number } | null {
  const p = (action.request_mirror_policies ?? [])[0];
  if (!p) return null;
  if (!p.cluster) throw bad(`${where}: a request mirror policy without a cluster`);
  const d = p.runtime_fraction?.default_value;
  // no fraction: every request is mirrored (Envoy's default)
  const fraction = d ? (d.numerator ?? 0) / (DENOMINATOR[String(d.denominator ?? 'HUNDRED')] ?? 100) : 1;
  if (!(fraction > 0)) return null;
  return { cluster: p.cluster, fraction: Math.min(1, fraction) };
}

export function parseRouteConfiguration(rc: RouteConfiguration__Output, listenerFilters: readonly string[] = []): EdgeRouteConfig {
  const name = rc.name ?? '';
  const hosts = rc.virtual_hosts ?? [];
  const vhost = hosts.find((h) => (h.domains ?? []).includes('*')) ?? hosts[0];
  const groups = new Map<string, { name: string; pins: RouteTarget[]; unknownPin: DirectAnswer | null; weighted: (RouteTarget & { weight: number })[]; direct: DirectAnswer | null; done: boolean; stickyHeader: string | null; mirror: GroupRoutes['mirror'] }>();
  let notFound: DirectAnswer = EMPTY_TABLE.notFound;
  const authFilter = listenerFilters.length === 0 || listenerFilters.includes(FILTER.extAuthz);
  const procFilter = listenerFilters.length === 0 || listenerFilters.includes(FILTER.extProc);
  const rlFilter = listenerFilters.length === 0 || listenerFilters.includes(FILTER.rateLimit);
  const clusters = new Set<string>();
  const vhostOverrides = filterOverrides(vhost?.typed_per_filter_config, `route config ${name}`);

  for (const route of vhost?.routes ?? []) {
    const where = `route ${route.name ?? '(unnamed)'}`;
    const m = route.match;
    if (!m) throw bad(`${where}: no match`);
    if (m.prefix !== undefined && m.path === undefined) {
      // the catch-all: the first one wins, later ones are shadowed
      if (m.prefix === '/' && route.direct_response && notFound === EMPTY_TABLE.notFound) notFound = directAnswer(route, where);
      continue;
    }
    const path = m.path ?? '';
    const group = parsePredictPath(path);
    if (group === null) continue; // not a /predict route: nothing the edge serves
    let g = groups.get(group);
    if (!g) {
      g = { name: group, pins: [], unknownPin: null, weighted: [], direct: null, done: false, stickyHeader: null, mirror: null };
      groups.set(group, g);
    }
    if (g.done) continue; // shadowed by an earlier match-all route for this path
    const pin = pinMatch(m.headers, where);
    const routeOverrides = merge(vhostOverrides, filterOverrides(route.typed_per_filter_config, where));
    if (route.direct_response) {
      const answer = directAnswer(route, where);
      if (pin.kind === 'none') {
        g.direct = answer;
        g.done = true;
      } else if (pin.kind === 'present') {
        g.unknownPin ??= answer;
      }
      // an exact pin answered directly: treat the version as not pinnable
      continue;
    }
    const action = route.route;
    if (!action) throw bad(`${where}: neither a route nor a direct_response`);
    const timeoutMs = durationMs(action.timeout);
    // A version is limited either by the global rate limit filter (descriptors on the route) or,
    // in Envoy's local mode, by a local_ratelimit bucket in its per-filter config; either way
    // this edge enforces the version's whole limit with its own limiter (it is the only proxy).
    const globallyLimited = rlFilter && (action.rate_limits ?? []).length > 0;
    const routeLocallyLimited = hasLocalRateLimit(route.typed_per_filter_config);
    const target = (cluster: string, hinted: string | undefined, overrides: PolicyOverrides, locallyLimited = routeLocallyLimited): RouteTarget => {
      clusters.add(cluster);
      const rateLimited = globallyLimited || locallyLimited;
      return Object.freeze({ cluster, version: versionOfCluster(cluster, group, hinted, where), overrides, rateLimited, timeoutMs });
    };
    if (action.cluster) {
      const hinted = pin.kind === 'exact' ? pin.version : headerValue(route.request_headers_to_add, PIN_HEADER);
      const t = target(action.cluster, hinted, routeOverrides);
      if (pin.kind === 'exact') {
        if (!g.pins.some((p) => p.version === pin.version)) g.pins.push(t);
      } else if (pin.kind === 'none') {
        g.weighted.push(Object.freeze({ ...t, weight: 1 }));
        g.done = true;
      } else {
        throw bad(`${where}: a present-match pin route must answer directly`);
      }
      continue;
    }
    if (action.weighted_clusters) {
      if (pin.kind !== 'none') throw bad(`${where}: weighted clusters on a pin route are not supported`);
      for (const cw of action.weighted_clusters.clusters ?? []) {
        const weight = cw.weight?.value ?? 0;
        if (!cw.name) throw bad(`${where}: a weighted cluster without a name`);
        if (weight <= 0) continue;
        const overrides = merge(routeOverrides, filterOverrides(cw.typed_per_filter_config, `${where} cluster ${cw.name}`));
        const hinted = headerValue(cw.request_headers_to_add, PIN_HEADER);
        const locallyLimited = routeLocallyLimited || hasLocalRateLimit(cw.typed_per_filter_config);
        g.weighted.push(Object.freeze({ ...target(cw.name, hinted, overrides, locallyLimited), weight }));
      }
      g.stickyHeader = stickyHeaderOf(action);
      const m = mirrorOf(action, where);
      if (m) g.mirror = Object.freeze({ target: target(m.cluster, undefined, routeOverrides), fraction: m.fraction });
      g.done = true;
      continue;
    }
    throw bad(`${where}: only cluster and weighted_clusters route actions are supported`);
  }

  const out = new Map<string, GroupRoutes>();
  for (const g of groups.values()) {
    const resolve = (t: RouteTarget): RouteTarget => {
      // A filter with no per-route word applies as configured on the listener.
      const overrides = { auth: t.overrides.auth ?? authFilter, capture: t.overrides.capture ?? procFilter };
      return Object.freeze({ ...t, overrides: Object.freeze(overrides) });
    };
    const weighted = g.weighted.map((w) => Object.freeze({ ...resolve(w), weight: w.weight }));
    const direct = weighted.length === 0 ? (g.direct ?? { status: 503, code: 'NO_RUNNING_VERSION', message: `service ${g.name} has no running version` }) : null;
    out.set(
      g.name,
      Object.freeze({ name: g.name, pins: Object.freeze(g.pins.map(resolve)), unknownPin: g.unknownPin, weighted: Object.freeze(weighted), direct, stickyHeader: g.stickyHeader, mirror: g.mirror ? Object.freeze({ target: resolve(g.mirror.target), fraction: g.mirror.fraction }) : null }),
    );
  }
  return Object.freeze({ name, groups: out, notFound, clusters: Object.freeze([...clusters].sort()) });
}

/**
 * The routes of a listener from its scopes' route configurations (all present): a scope
 * keyed by a group contributes that group's routes only (Envoy routes the group's requests
 * by that scope alone); an unscoped configuration (plain RDS) contributes all its groups.
 * The catch-all answer is the first configuration's.
 */
export function mergeRouteConfigs(listener: EdgeListenerConfig, configs: ReadonlyMap<string, EdgeRouteConfig>): EdgeRouteConfig {
  const groups = new Map<string, GroupRoutes>();
  const clusters = new Set<string>();
  let notFound: DirectAnswer | undefined;
  for (const scope of listener.scopes) {
    const rc = configs.get(scope.routeConfigName);
    if (!rc) continue;
    notFound ??= rc.notFound;
    for (const g of rc.groups.values()) {
      if (scope.key !== '' && g.name !== scope.key) continue;
      if (groups.has(g.name)) continue;
      groups.set(g.name, g);
      for (const t of [...g.pins, ...g.weighted, ...(g.mirror ? [g.mirror.target] : [])]) clusters.add(t.cluster);
    }
  }
  const name = listener.scopes.length === 1 ? (listener.scopes[0]?.routeConfigName ?? '') : listener.routeConfigNames.join(',');
  return Object.freeze({ name, groups, notFound: notFound ?? EMPTY_TABLE.notFound, clusters: Object.freeze([...clusters].sort()) });
}

// ---------------------------------------------------------------------------------------
// Clusters and endpoints

export interface EdgeCluster {
  readonly name: string;
  /** the EDS resource name carrying its endpoints */
  readonly edsName: string;
  readonly connectTimeoutMs: number;
  /** filter_metadata.sluice.scale_to_zero */
  readonly scaleToZero?: boolean;
}

export function parseCluster(c: Cluster__Output): EdgeCluster {
  const name = c.name ?? '';
  if (!name) throw bad('a cluster without a name');
  if (c.type !== undefined && c.type !== 'EDS') throw bad(`cluster ${name}: type ${String(c.type)}, only EDS is supported`);
  const eds = c.eds_cluster_config;
  if (!eds) throw bad(`cluster ${name}: no eds_cluster_config`);
  if (!usesAds(eds.eds_config)) throw bad(`cluster ${name}: EDS must come over ADS`);
  const scaleToZero = c.metadata?.filter_metadata?.[METADATA_NAMESPACE]?.fields?.scale_to_zero?.boolValue === true;
  return Object.freeze({ name, edsName: eds.service_name || name, connectTimeoutMs: durationMs(c.connect_timeout), ...(scaleToZero ? { scaleToZero } : {}) });
}

// Envoy routes to HEALTHY and UNKNOWN (never health-checked) hosts; DEGRADED only when
// nothing better is there, which the edge does not model.
const USABLE = new Set(['HEALTHY', 'UNKNOWN', 0, 1]);

export function parseLoadAssignment(cla: ClusterLoadAssignment__Output): EdgeEndpoint[] {
  const name = cla.cluster_name ?? '';
  const out: EdgeEndpoint[] = [];
  for (const locality of cla.endpoints ?? []) {
    for (const lb of locality.lb_endpoints ?? []) {
      if (lb.health_status !== undefined && !USABLE.has(lb.health_status as string | number)) continue;
      const sa = lb.endpoint?.address?.socket_address;
      if (!sa) throw bad(`endpoints of ${name}: an endpoint without a socket address`);
      const host = sa.address ?? '';
      const port = sa.port_value ?? 0;
      if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) throw bad(`endpoints of ${name}: bad address ${host}:${port}`);
      out.push(Object.freeze({ host, port, instance: lb.endpoint?.hostname || `${host}:${port}` }));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Assembly

export interface RoutingInputs {
  listener: EdgeListenerConfig | null;
  routes: EdgeRouteConfig | null;
  clusters: ReadonlyMap<string, EdgeCluster>;
  /** by EDS resource name */
  endpoints: ReadonlyMap<string, readonly EdgeEndpoint[]>;
  versions: RoutingTable['versions'];
}

/**
 * The table the server serves from. A route naming a cluster the edge has no CDS/EDS for
 * (yet) gets a version with no endpoints: the picker then sends its share elsewhere.
 */
export function buildRoutingTable(inputs: RoutingInputs): RoutingTable {
  if (!inputs.listener || !inputs.routes) {
    // no listener: nothing is served (404s); a listener whose routes are still on the way: not ready
    return Object.freeze({ ...EMPTY_TABLE, configured: !inputs.listener, versions: Object.freeze({ ...inputs.versions }) });
  }
  const versionOf = (t: RouteTarget): EdgeVersion => {
    const cluster = inputs.clusters.get(t.cluster);
    const endpoints = cluster ? (inputs.endpoints.get(cluster.edsName) ?? []) : [];
    return Object.freeze({
      name: t.version,
      cluster: t.cluster,
      policy: Object.freeze({ auth: t.overrides.auth ?? true, rateLimited: t.rateLimited, capture: t.overrides.capture ?? true }),
      timeoutMs: t.timeoutMs,
      endpoints: Object.freeze([...endpoints]),
      ...(cluster?.scaleToZero ? { scaleToZero: true } : {}),
    });
  };
  const groups = new Map<string, EdgeGroup>();
  for (const g of inputs.routes.groups.values()) {
    const pins = new Map<string, EdgeVersion>();
    for (const p of g.pins) pins.set(p.version, versionOf(p));
    groups.set(
      g.name,
      Object.freeze({
        name: g.name,
        pins,
        unknownPin: g.unknownPin,
        weighted: Object.freeze(g.weighted.map((w) => Object.freeze({ version: versionOf(w), weight: w.weight }))),
        direct: g.direct,
        stickyHeader: g.stickyHeader,
        mirror: g.mirror ? Object.freeze({ version: pins.get(g.mirror.target.version) ?? versionOf(g.mirror.target), fraction: g.mirror.fraction }) : null,
      }),
    );
  }
  return Object.freeze({ configured: true, versions: Object.freeze({ ...inputs.versions }), groups, notFound: inputs.routes.notFound });
}

// ---------------------------------------------------------------------------------------
// Picking

export type PickResult =
  | { kind: 'version'; version: EdgeVersion; pinned: boolean }
  | { kind: 'answer'; answer: DirectAnswer };

/**
 * Chooses the version for a request: a pin header selects its pin route (or the group's
 * unknown-pin answer); otherwise a weighted draw with `random()` in [0, 1) over the split,
 * skipping versions with no endpoints so their share goes to the others. A retry never comes
 * back here: it stays in the picked version, as Envoy's does in the picked cluster.
 */
export function pickVersion(group: EdgeGroup, pin: string | undefined, random: () => number, stickyKey?: string): PickResult {
  if (pin !== undefined && pin !== '') {
    const v = group.pins.get(pin);
    if (v) return { kind: 'version', version: v, pinned: true };
    if (group.unknownPin) return { kind: 'answer', answer: group.unknownPin };
  }
  if (group.direct) return { kind: 'answer', answer: group.direct };
  if (stickyKey !== undefined && group.stickyHeader !== null) {
    const sticky = pickSticky(group.weighted, stickyHash(stickyKey));
    if (sticky) return { kind: 'version', version: sticky, pinned: false };
  }
  let total = 0;
  for (const w of group.weighted) if (w.version.endpoints.length > 0) total += w.weight;
  if (total === 0) {
    // Nothing has endpoints: still pick by weight so the caller can answer for that version.
    const first = group.weighted[0];
    return first
      ? { kind: 'version', version: first.version, pinned: false }
      : { kind: 'answer', answer: { status: 503, code: 'NO_RUNNING_VERSION', message: `service ${group.name} has no running version` } };
  }
  let r = random() * total;
  let last: EdgeVersion | undefined;
  for (const w of group.weighted) {
    if (w.version.endpoints.length === 0) continue;
    last = w.version;
    if (r < w.weight) return { kind: 'version', version: w.version, pinned: false };
    r -= w.weight;
  }
  return { kind: 'version', version: last as EdgeVersion, pinned: false };
}

/**
 * The sticky pick (Envoy's choice for the same hash, see sticky.ts). When that version has
 * no endpoints, the same hash picks among the rest, so the caller's fallback is stable too;
 * null when nothing is left.
 */
function pickSticky(weighted: readonly WeightedVersion[], hash: bigint): EdgeVersion | null {
  const first = weighted[stickyIndex(weighted.map((w) => w.weight), hash)]?.version;
  if (first && first.endpoints.length > 0) return first;
  const rest = weighted.filter((w) => w.version.endpoints.length > 0);
  return rest[stickyIndex(rest.map((w) => w.weight), hash)]?.version ?? null;
}

// ---------------------------------------------------------------------------------------
// Convenience: the whole table straight from translated resources (tests, tools)

export interface RawResources {
  listeners: readonly { name: string; resource: Any__Output | { type_url: string; value: Uint8Array } }[];
  routes: readonly { name: string; resource: Any__Output | { type_url: string; value: Uint8Array } }[];
  clusters: readonly { name: string; resource: Any__Output | { type_url: string; value: Uint8Array } }[];
  endpoints: readonly { name: string; resource: Any__Output | { type_url: string; value: Uint8Array } }[];
}

export function routingTableFromResources(res: RawResources, listenerName = EDGE_LISTENER): RoutingTable {
  const l = res.listeners.find((x) => x.name === listenerName);
  const listener = l ? parseListener(unpackAny<Listener__Output>(l.resource)) : null;
  const configs = new Map<string, EdgeRouteConfig>();
  for (const name of listener?.routeConfigNames ?? []) {
    const raw = res.routes.find((r) => r.name === name);
    if (raw && listener) configs.set(name, parseRouteConfiguration(unpackAny<RouteConfiguration__Output>(raw.resource), listener.httpFilters));
  }
  const routes = listener && configs.size === listener.routeConfigNames.length ? mergeRouteConfigs(listener, configs) : null;
  const clusters = new Map<string, EdgeCluster>();
  // as the xDS client subscribes: only the clusters the routes name (not e.g. the JWKS one)
  const named = routes ? new Set(routes.clusters) : null;
  for (const c of res.clusters) {
    if (named && !named.has(c.name)) continue;
    const parsed = parseCluster(unpackAny<Cluster__Output>(c.resource));
    clusters.set(parsed.name, parsed);
  }
  const endpoints = new Map<string, readonly EdgeEndpoint[]>();
  for (const e of res.endpoints) endpoints.set(e.name, parseLoadAssignment(unpackAny<ClusterLoadAssignment__Output>(e.resource)));
  return buildRoutingTable({ listener, routes, clusters, endpoints, versions: { listener: '', route: '', cluster: '', endpoint: '' } });
}
