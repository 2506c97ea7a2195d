// The data-plane contract: every name and format that the xDS server pushes and the gateway,
// the local edge and the inference log read back — listener, route and cluster names, the
// headers the edge and the plugins set or read, rate-limit descriptor keys, metadata
// namespaces and their shapes. Each is written once here, with its one parser; nothing else
// spells these strings (a test greps for that).

/**
 * The edge listener. Its routes are scoped per group (Envoy's scoped routes, SRDS): the
 * connection manager picks a group's own route configuration by the scope key, so a change
 * in one group re-sends that group's routes only.
 */
export const EDGE_LISTENER = 'sluice-edge';
/** The name of the edge listener's scoped-routes table (ScopedRoutes.name). */
export const EDGE_ROUTE_CONFIG = EDGE_LISTENER;
const EDGE_ROUTE_PREFIX = `${EDGE_LISTENER}/`;
/** A group's own edge route configuration (CONTRACT: `sluice-edge/{group}`); the scope key is the group name. */
export const edgeRouteConfigName = (group: string) => `${EDGE_ROUTE_PREFIX}${group}`;
/** `sluice-edge/{group}` → the group; null for any other name. */
export function parseEdgeRouteConfigName(name: string | null | undefined): string | null {
  const n = name ?? '';
  return n.startsWith(EDGE_ROUTE_PREFIX) && n.length > EDGE_ROUTE_PREFIX.length ? n.slice(EDGE_ROUTE_PREFIX.length) : null;
}
/**
 * The request header the edge's scope key is read from. The first HTTP filter (Lua, see
 * `edgeScopeScript`) sets it from the request itself — the group of a `/services/{group}/predict`
 * path, or of an OIP gRPC call's `:authority` (`{group}.sluice`) — and removes whatever a
 * client sent; each group's route configuration strips it before the request goes upstream.
 */
export const SCOPE_HEADER = 'x-sluice-scope';
/** The header a caller pins a version with, and the answer names the version in. */
export const PIN_HEADER = 'x-sluice-version';

const NAME = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?';
const CLUSTER_NAME = new RegExp(`^sluice/(${NAME})/(${NAME})$`);
const PREDICT_PATH = /^\/services\/([^/?#]+)\/predict(?:[?#].*)?$/;

/** The EDS cluster of one running version (CONTRACT: `sluice/{group}/{version}`). */
export const clusterName = (group: string, version: string) => `sluice/${group}/${version}`;
/**
 * The stat prefix of a version's local_ratelimit bucket. Envoy names its counters
 * `<prefix>.http_local_rate_limit.rate_limited` and its Prometheus output moves the prefix
 * into the `envoy_local_http_ratelimit_prefix` label (a single dot-free token, which DNS-1123
 * names joined by `_` always are), so throttling can be read per version.
 */
export const localRateLimitStatPrefix = (group: string, version: string) => `sluice_${group}_${version}`;
/** `sluice/{group}/{version}` → its parts; null for any other cluster name. */
export function parseClusterName(name: string | null | undefined): { group: string; version: string } | null {
  const m = CLUSTER_NAME.exec(name ?? '');
  return m ? { group: m[1]!, version: m[2]! } : null;
}

/** The `/predict` path of a group (CONTRACT). */
export const predictPath = (group: string) => `/services/${group}/predict`;
/**
 * A request path → the group it predicts with (percent-decoded; a query string is ignored);
 * null for any other path. The name is not checked here: an invalid name is simply a group
 * that does not exist (404), not a different kind of path.
 */
export function parsePredictPath(path: string | null | undefined): string | null {
  const raw = PREDICT_PATH.exec(path ?? '')?.[1];
  if (raw === undefined) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Headers the ext_authz service sets on an allowed request, and the request id Envoy sets. */
export const REQUEST_ID_HEADER = 'x-request-id';


/**
 * Listener and route configuration for proxyless gRPC clients of one group. A gRPC client
 * sends the listener name as its :authority, so it must be a valid host name (no '/').
 */
export const apiListenerName = (group: string) => `${group}.sluice`;

/**
 * The Open Inference Protocol's gRPC service: every call's path starts with this. Through
 * Envoy's edge listener a call is routed to a group by its `:authority`, as KServe routes
 * gRPC by host name: `{group}.sluice` (the proxyless listener's name), with or without a port.
 */
export const OIP_GRPC_PATH_PREFIX = '/inference.GRPCInferenceService/';
// group names are DNS labels ([a-z0-9-]): nothing in them needs escaping in a regex
export const oipGrpcAuthorityRegex = (group: string) => `^${group}\\.sluice(:[0-9]+)?$`;

/**
 * The Lua code of the edge's first HTTP filter: the scope key (SCOPE_HEADER) from the
 * request — the `{group}` of `/services/{group}/predict`, or for an OIP gRPC call the
 * `{group}` of `:authority = {group}.sluice[:port]` — then the route cache is cleared, so the
 * connection manager picks the scope again with the key in place. A request with neither
 * has no key and no scope (Envoy answers 404). Same parsing as parsePredictPath and
 * oipGrpcAuthorityRegex. It also removes the identity headers a client may have sent
 * (IDENTITY_HEADER, KEY_ID_HEADER): only Sluice's own filters set them.
 */
export const edgeScopeScript = () =>
  [
    'function envoy_on_request(h)',
    '  local headers = h:headers()',
    `  headers:remove("${SCOPE_HEADER}")`,
    // the caller's identity is Sluice's to say (ext_authz, or the router on a JWT-only
    // route): a client-sent one would reach the runtime, the rate limit key and the access log
    `  headers:remove("${IDENTITY_HEADER}")`,
    `  headers:remove("${KEY_ID_HEADER}")`,
    '  local path = headers:get(":path") or ""',
    '  local g = string.match(path, "^/services/([^/?#]+)/predict$") or string.match(path, "^/services/([^/?#]+)/predict[?#]")',
    `  if g == nil and string.sub(path, 1, ${OIP_GRPC_PATH_PREFIX.length}) == "${OIP_GRPC_PATH_PREFIX}" then`,
    '    g = string.match(headers:get(":authority") or "", "^([a-z0-9-]+)%.sluice:?[0-9]*$")',
    '  end',
    `  if g ~= nil then headers:add("${SCOPE_HEADER}", g) end`,
    '  h:clearRouteCache()',
    'end',
    '',
  ].join('\n');

export const FILTER = {
  lua: 'envoy.filters.http.lua',
  extAuthz: 'envoy.filters.http.ext_authz',
  rateLimit: 'envoy.filters.http.ratelimit',
  localRateLimit: 'envoy.filters.http.local_ratelimit',
  jwtAuthn: 'envoy.filters.http.jwt_authn',
  rbac: 'envoy.filters.http.rbac',
  extProc: 'envoy.filters.http.ext_proc',
  /** the inference capture (a Lua filter of its own, after the limits): see captureScript */
  capture: 'sluice.capture',
  router: 'envoy.filters.http.router',
  hcm: 'envoy.filters.network.http_connection_manager',
  grpcAccessLog: 'envoy.access_loggers.http_grpc',
} as const;

/**
 * The rate-limit domain and descriptor entries the gateway's RateLimitService receives.
 * A pin route knows its version: (group, version, key?). The weighted route does not
 * until the router has picked a cluster, and the only action that sees that pick is
 * destination_cluster: (group, destination_cluster=`sluice/{group}/{version}`, key?).
 * `parseClusterName` turns the latter back into group and version.
 */
export const RATE_LIMIT_DOMAIN = 'sluice';
export const DESCRIPTOR = {
  /** generic_key: the group name */
  group: 'group',
  /** generic_key: the version name (pin routes) */
  version: 'version',
  /** destination_cluster: `sluice/{group}/{version}`, the cluster the router picked (weighted route) */
  cluster: 'destination_cluster',
  /** request_headers: the API key id the ext_authz service set on an allowed request */
  key: 'key',
} as const;
/** Header the ext_authz service sets (headers_to_set) with the API key id of an allowed request. */
export const KEY_ID_HEADER = 'x-sluice-key-id';
/** Header the ext_authz service sets with the caller identity (key id or JWT subject), for the access log. */
export const IDENTITY_HEADER = 'x-sluice-identity';

/** ext_authz context_extensions keys, and the ext_proc gRPC metadata keys. */
export const CONTEXT_KEY = { group: 'group', version: 'version' } as const;
export const EXT_PROC_METADATA = { group: 'x-sluice-group', version: 'x-sluice-version' } as const;
/** The access log's log_name: the ALS stream names it in its identifier. */
export const ACCESS_LOG_NAME = 'sluice-edge';
/**
 * Namespace of Sluice's `filter_metadata` on clusters and routes: a version cluster and a
 * route to a version name their group (and the version), so the capture and the access log
 * can tell whose request it was from xDS attributes alone. Per-request policy (auth on/off,
 * QPS limits, inference-table settings) is NOT pushed as metadata: the one source of truth
 * is the database, read through gateway/policy (PolicySource) by the Envoy plugins and the
 * local edge alike. xDS carries only what Envoy itself acts on (per-route filter configs).
 */
export const METADATA_NAMESPACE = 'sluice';
/** Envoy attributes the ext_proc filter asks for: the gateway reads group/version from them. */
export const EXT_PROC_ATTRIBUTES = ['xds.cluster_name', 'xds.route_metadata'] as const;

/**
 * Inference capture on Envoy without a callout: the `sluice.capture` Lua filter copies the
 * request and response bodies into this dynamic-metadata namespace, and Envoy's gRPC access
 * logger carries every dynamic-metadata namespace in its entry
 * (HTTPAccessLogEntry.common_properties.metadata.filter_metadata), so the bodies reach the
 * gateway on the long-lived, batched ALS stream instead of an ext_proc stream per request.
 * Keys: CAPTURE_KEY. Bodies are base64 (a proto3 string must be UTF-8; a body cut at its limit,
 * or a CSV in another encoding, need not be).
 */
export const CAPTURE_METADATA_NAMESPACE = 'sluice.capture';
export const CAPTURE_KEY = {
  /** boolean: the request was drawn by the version's sample rate (false: no bodies, no record) */
  sampled: 'sampled',
  group: 'group',
  version: 'version',
  /** base64 of the first maxBodyBytes + 1 bytes of each body (one more than kept: the record's truncated flag) */
  request: 'request',
  response: 'response',
} as const;
/** The capture filter's named script (Lua.source_codes) routes refer to in their LuaPerRoute. */
export const CAPTURE_SCRIPT_NAME = 'capture';
/** LuaPerRoute.filter_context keys of a captured version (what the script reads). */
export const CAPTURE_CONTEXT = { group: 'group', version: 'version', sampleRate: 'sample_rate', maxBytes: 'max_bytes' } as const;

/**
 * The capture script. Per route, LuaPerRoute names it and hands it the version in
 * filter_context ({group, version, sample_rate, max_bytes}). On the request it draws the
 * sample (math.random per worker's Lua state) and records the decision; when sampled it
 * reads the body with bodyChunks — which passes every chunk on at once and buffers nothing
 * in Envoy: the script keeps its own copy of at most max_bytes — and stores it base64 in
 * CAPTURE_METADATA_NAMESPACE; the response side does the same for the answer's body. The
 * access log, written when the stream completes, then carries both. A request the filter
 * never saw (refused by ext_authz or the limit before it) has no namespace: the gateway
 * records it from the access log alone, bodiless, as before.
 */
export const captureScript = () =>
  [
    `local NS = "${CAPTURE_METADATA_NAMESPACE}"`,
    '-- the first max bytes of the body, as the chunks stream past (nil: no body at all)',
    'local function collect(h, max)',
    '  local parts, size, seen = {}, 0, false',
    '  for chunk in h:bodyChunks() do',
    '    seen = true',
    '    local n = chunk:length()',
    '    if n > max - size then n = max - size end',
    '    if n > 0 then',
    '      parts[#parts + 1] = chunk:getBytes(0, n)',
    '      size = size + n',
    '    end',
    '  end',
    '  if not seen then return nil end',
    '  return table.concat(parts)',
    'end',
    'function envoy_on_request(h)',
    '  local ctx = h:filterContext() or {}',
    `  local rate = tonumber(ctx.${CAPTURE_CONTEXT.sampleRate}) or 0`,
    `  local max = tonumber(ctx.${CAPTURE_CONTEXT.maxBytes}) or 0`,
    '  local sampled = rate >= 1 or math.random() < rate',
    '  local md = h:streamInfo():dynamicMetadata()',
    `  md:set(NS, "${CAPTURE_KEY.sampled}", sampled)`,
    `  if ctx.${CAPTURE_CONTEXT.group} ~= nil then md:set(NS, "${CAPTURE_KEY.group}", ctx.${CAPTURE_CONTEXT.group}) end`,
    `  if ctx.${CAPTURE_CONTEXT.version} ~= nil then md:set(NS, "${CAPTURE_KEY.version}", ctx.${CAPTURE_CONTEXT.version}) end`,
    '  if not sampled then return end',
    '  local body = collect(h, max)',
    `  if body ~= nil then md:set(NS, "${CAPTURE_KEY.request}", h:base64Escape(body)) end`,
    'end',
    'function envoy_on_response(h)',
    '  local md = h:streamInfo():dynamicMetadata()',
    '  local mine = md:get(NS)',
    `  if mine == nil or mine.${CAPTURE_KEY.sampled} ~= true then return end`,
    '  local ctx = h:filterContext() or {}',
    `  local max = tonumber(ctx.${CAPTURE_CONTEXT.maxBytes}) or 0`,
    '  local body = collect(h, max)',
    `  if body ~= nil then md:set(NS, "${CAPTURE_KEY.response}", h:base64Escape(body)) end`,
    'end',
    '',
  ].join('\n');

/** `filter_metadata.sluice` of a version cluster, as plain data (a google.protobuf.Struct on the wire). */
export interface SluiceClusterMetadata {
  group: string;
  version: string;
  /** present (true) when the version may scale to zero: a data plane holds a request until a replica is up */
  scale_to_zero?: boolean;
}
/** `filter_metadata.sluice` of a route to a version: the pin routes name the version too. */
export interface SluiceRouteMetadata {
  group: string;
  version?: string;
}
