// The Envoy v3 API, loaded once for the whole process: type URLs, strict packing of
// resources into google.protobuf.Any, decoding, and the gRPC service definitions of ADS
// and of the four Envoy plugin services (ext_authz, rate limit, ext_proc, access log).
//
// Field names are the protos' own (snake_case), as in Envoy's docs and YAML. Message
// shapes come from the generated types in proto/generated (npm run proto:types).
//
// Why a hand-written field check: protobufjs `fromObject` silently drops field names it
// does not know and silently ignores enum strings it does not know, so a typo in a
// resource builder would ship a config that quietly lacks the setting. `packAny` walks
// the object against the message descriptor first and refuses anything it cannot place.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENVOY_INCLUDE_DIRS, ENVOY_PROTO_FILES } from './envoy-files.ts';
import { StrictEncodeRefused, strictEncode } from './strict-encode.ts';
import type { Any, Any__Output } from './generated/google/protobuf/Any.ts';
import type { AggregatedDiscoveryServiceDefinition } from './generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
import type { AggregatedDiscoveryServiceClient } from './generated/envoy/service/discovery/v3/AggregatedDiscoveryService.ts';
import type { AuthorizationDefinition } from './generated/envoy/service/auth/v3/Authorization.ts';
import type { RateLimitServiceDefinition } from './generated/envoy/service/ratelimit/v3/RateLimitService.ts';
import type { ExternalProcessorDefinition } from './generated/envoy/service/ext_proc/v3/ExternalProcessor.ts';
import type { AccessLogServiceDefinition } from './generated/envoy/service/accesslog/v3/AccessLogService.ts';
import type { AuthorizationClient } from './generated/envoy/service/auth/v3/Authorization.ts';
import type { RateLimitServiceClient } from './generated/envoy/service/ratelimit/v3/RateLimitService.ts';
import type { ExternalProcessorClient } from './generated/envoy/service/ext_proc/v3/ExternalProcessor.ts';
import type { AccessLogServiceClient } from './generated/envoy/service/accesslog/v3/AccessLogService.ts';
import type { ProtoGrpcType as AdsProto } from './generated/ads.ts';
import type { ProtoGrpcType as AuthProto } from './generated/external_auth.ts';
import type { ProtoGrpcType as RlsProto } from './generated/rls.ts';
import type { ProtoGrpcType as ExtProcProto } from './generated/external_processor.ts';
import type { ProtoGrpcType as AlsProto } from './generated/als.ts';

export type { Any };

const TYPE_PREFIX = 'type.googleapis.com/';

/** Fully qualified names of the messages Sluice packs or serves. */
export const ENVOY_TYPES = {
  listener: 'envoy.config.listener.v3.Listener',
  routeConfiguration: 'envoy.config.route.v3.RouteConfiguration',
  virtualHost: 'envoy.config.route.v3.VirtualHost',
  route: 'envoy.config.route.v3.Route',
  cluster: 'envoy.config.cluster.v3.Cluster',
  clusterLoadAssignment: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  bootstrap: 'envoy.config.bootstrap.v3.Bootstrap',
  httpConnectionManager:
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'envoy.extensions.filters.http.router.v3.Router',
  extAuthz: 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  extAuthzPerRoute: 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
  rateLimit: 'envoy.extensions.filters.http.ratelimit.v3.RateLimit',
  localRateLimit: 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  jwtAuthn: 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  jwtAuthnPerRoute: 'envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig',
  rbac: 'envoy.extensions.filters.http.rbac.v3.RBAC',
  rbacPerRoute: 'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  upstreamTlsContext: 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  lua: 'envoy.extensions.filters.http.lua.v3.Lua',
  luaPerRoute: 'envoy.extensions.filters.http.lua.v3.LuaPerRoute',
  extProc: 'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
  extProcPerRoute: 'envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
  httpGrpcAccessLog: 'envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  previousHostsPredicate: 'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  discoveryRequest: 'envoy.service.discovery.v3.DiscoveryRequest',
  discoveryResponse: 'envoy.service.discovery.v3.DiscoveryResponse',
  deltaDiscoveryRequest: 'envoy.service.discovery.v3.DeltaDiscoveryRequest',
  deltaDiscoveryResponse: 'envoy.service.discovery.v3.DeltaDiscoveryResponse',
  resource: 'envoy.service.discovery.v3.Resource',
} as const;

export const typeUrl = (typeName: string): string => `${TYPE_PREFIX}${typeName}`;

/** The xDS resource type URLs (what a DiscoveryRequest names in `type_url`). */
export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;
export type XdsTypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];
/** The short names operators know the types by (as in `istioctl proxy-status`). */
export const TYPE_SHORT_NAME: Readonly<Record<XdsTypeUrl, 'LDS' | 'RDS' | 'CDS' | 'EDS'>> = {
  [TYPE_URL.listener]: 'LDS',
  [TYPE_URL.route]: 'RDS',
  [TYPE_URL.cluster]: 'CDS',
  [TYPE_URL.endpoint]: 'EDS',
};
export const XDS_TYPE_URLS: readonly XdsTypeUrl[] = [
  TYPE_URL.cluster,
  TYPE_URL.endpoint,
  TYPE_URL.listener,
  TYPE_URL.route,
];
export const isXdsTypeUrl = (s: string): s is XdsTypeUrl =>
  (XDS_TYPE_URLS as readonly string[]).includes(s);

export type EnvoyProtoErrorCode =
  | 'ENVOY_UNKNOWN_TYPE'
  | 'ENVOY_UNKNOWN_FIELD'
  | 'ENVOY_BAD_VALUE'
  | 'ENVOY_DECODE_FAILED';

/** A resource that does not fit its proto, or bytes that are not the named message. */
export class EnvoyProtoError extends Error {
  readonly code: EnvoyProtoErrorCode;
  /** dotted path to the offending field, e.g. `filter_chains[0].filters[0].name` */
  readonly path: string;
  constructor(code: EnvoyProtoErrorCode, message: string, path = '') {
    super(path ? `${message} (at ${path})` : message);
    this.name = 'EnvoyProtoError';
    this.code = code;
    this.path = path;
  }
}

// ---------------------------------------------------------------------------------------
// Loading

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of ENVOY_INCLUDE_DIRS) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // google/protobuf/* are bundled with protobufjs and resolved by name
    return target;
  };
  root.loadSync([...ENVOY_PROTO_FILES], { keepCase: true });
  addNewerEnvoyFields(root);
  root.resolveAll();
  return root;
}

/**
 * Fields of Envoy's API newer than the protos vendored in @grpc/grpc-js-xds, added by hand
 * (name, number and type exactly as in envoyproxy/envoy's api/). Older readers skip them as
 * unknown fields, as protobuf intends.
 *
 * - `WeightedCluster.use_hash_policy = 5` (google.protobuf.BoolValue, in the
 *   `random_value_specifier` oneof; Envoy ≥ 1.36): the route's hash_policy picks the
 *   weighted cluster, so a caller's header value keeps them on one version (sticky A/B).
 * - `LuaPerRoute.filter_context = 4` (google.protobuf.Struct, outside the `override` oneof):
 *   a route's own data for the Lua script, read there with `handle:filterContext()` — the
 *   capture filter's version settings (xds/contract.ts captureScript).
 */
function addNewerEnvoyFields(root: protobuf.Root): void {
  const wc = root.lookupType('envoy.config.route.v3.WeightedCluster');
  if (!wc.fields.use_hash_policy) {
    const field = new protobuf.Field('use_hash_policy', 5, 'google.protobuf.BoolValue');
    wc.add(field);
    wc.oneofs?.random_value_specifier?.add(field);
  }
  const luaPerRoute = root.lookupType('envoy.extensions.filters.http.lua.v3.LuaPerRoute');
  if (!luaPerRoute.fields.filter_context) luaPerRoute.add(new protobuf.Field('filter_context', 4, 'google.protobuf.Struct'));
}

/**
 * How proto-loader turns messages into objects, at runtime and in the generated types
 * (proto/generate.ts derives its flags from this, so the two cannot drift apart).
 *
 * `defaults: false` on purpose: an absent field stays absent (`undefined`), so code can tell
 * "not sent" from "sent as zero" where Envoy's protos make that distinction (wrappers,
 * `error_detail`, the first request's `node`), received messages stay small on the hot
 * ext_authz/ext_proc paths, and the `__Output` types say so (`field?: T`). Readers supply
 * their own fallback (`x ?? ''`).
 */
export const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  oneofs: true,
  defaults: false,
  includeDirs: [...ENVOY_INCLUDE_DIRS],
} as const satisfies protoLoader.Options;

/** protobufjs conversion used by `decode`/`unpackAny`: the same as the gRPC services use. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  oneofs: LOADER_OPTIONS.oneofs,
  defaults: LOADER_OPTIONS.defaults,
};

let rootCache: protobuf.Root | undefined;
/** The protobufjs root holding every loaded Envoy message (lazy, loaded once). */
export function envoyRoot(): protobuf.Root {
  rootCache ??= loadRoot();
  return rootCache;
}

const typeCache = new Map<string, protobuf.Type>();
export function lookupType(typeName: string): protobuf.Type {
  const name = typeName.startsWith(TYPE_PREFIX) ? typeName.slice(TYPE_PREFIX.length) : typeName;
  const hit = typeCache.get(name);
  if (hit) return hit;
  let found: protobuf.ReflectionObject | null;
  try {
    found = envoyRoot().lookup(name);
  } catch {
    found = null;
  }
  if (!(found instanceof protobuf.Type)) {
    throw new EnvoyProtoError('ENVOY_UNKNOWN_TYPE', `unknown message type ${name}`);
  }
  typeCache.set(name, found);
  return found;
}

// ---------------------------------------------------------------------------------------
// Strict field check

const ANY_NAME = '.google.protobuf.Any';
const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function badScalar(t: string, value: unknown, path: string): EnvoyProtoError {
  return new EnvoyProtoError('ENVOY_BAD_VALUE', `field of type ${t} cannot hold ${JSON.stringify(value)}`, path);
}

function checkScalar(field: protobuf.Field, value: unknown, path: string): void {
  const t = field.type;
  if (t === 'string') {
    if (typeof value !== 'string') throw badScalar(t, value, path);
  } else if (t === 'bool') {
    if (typeof value !== 'boolean') throw badScalar(t, value, path);
  } else if (t === 'bytes') {
    if (!(value instanceof Uint8Array) && typeof value !== 'string') throw badScalar(t, value, path);
  } else if (t === 'double' || t === 'float') {
    if (typeof value !== 'number') throw badScalar(t, value, path);
  } else if (INT32_TYPES.has(t)) {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw badScalar(t, value, path);
    if (t.startsWith('u') || t === 'fixed32') {
      if (value < 0 || value > 0xffffffff) throw badScalar(t, value, path);
    } else if (value < -0x80000000 || value > 0x7fffffff) throw badScalar(t, value, path);
  } else if (INT64_TYPES.has(t)) {
    const ok =
      (typeof value === 'number' && Number.isInteger(value)) ||
      (typeof value === 'string' && /^-?\d+$/.test(value)) ||
      (isPlainObject(value) && 'low' in value && 'high' in value);
    if (!ok) throw badScalar(t, value, path);
  }
}

function checkSingle(field: protobuf.Field, value: unknown, path: string): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) {
    const known =
      (typeof value === 'string' && Object.hasOwn(rt.values, value)) ||
      (typeof value === 'number' && Object.values(rt.values).includes(value));
    if (!known) {
      throw new EnvoyProtoError(
        'ENVOY_BAD_VALUE',
        `${JSON.stringify(value)} is not a value of enum ${rt.fullName.slice(1)}`,
        path,
      );
    }
    return;
  }
  if (rt instanceof protobuf.Type) {
    checkMessage(rt, value, path);
    return;
  }
  checkScalar(field, value, path);
}

// ReflectionObject.fullName walks the parent chain on every read: the Any check is by identity
let anyType: protobuf.Type | undefined;

function checkMessage(type: protobuf.Type, value: unknown, path: string): void {
  if (!isPlainObject(value)) {
    throw new EnvoyProtoError(
      'ENVOY_BAD_VALUE',
      `expected a ${type.fullName.slice(1)} object, got ${Array.isArray(value) ? 'an array' : typeof value}`,
      path,
    );
  }
  anyType ??= envoyRoot().lookupType(ANY_NAME);
  if (type === anyType) {
    // a nested Any must already be packed (by packAny), so its payload was checked too
    for (const key of Object.keys(value)) {
      if (key !== 'type_url' && key !== 'value') {
        throw new EnvoyProtoError('ENVOY_UNKNOWN_FIELD', `google.protobuf.Any has no field ${key}`, path);
      }
    }
    if (typeof value.type_url !== 'string' || !(value.value instanceof Uint8Array)) {
      throw new EnvoyProtoError('ENVOY_BAD_VALUE', 'an Any must be built with packAny', path);
    }
    return;
  }
  const fields = type.fields;
  for (const key in value) {
    const v = value[key];
    if (v === undefined) continue;
    const at = path ? `${path}.${key}` : key;
    const field = fields[key];
    if (!field) {
      // the oneof discriminator that proto-loader writes with `oneofs: true`
      const oneof = type.oneofs?.[key];
      if (oneof && typeof v === 'string' && oneof.oneof.includes(v)) continue;
      throw new EnvoyProtoError('ENVOY_UNKNOWN_FIELD', `${type.fullName.slice(1)} has no field ${key}`, at);
    }
    if (v === null) continue;
    if (field.map) {
      if (!isPlainObject(v)) throw new EnvoyProtoError('ENVOY_BAD_VALUE', 'a map field needs an object', at);
      for (const [k, mv] of Object.entries(v)) checkSingle(field, mv, `${at}[${JSON.stringify(k)}]`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new EnvoyProtoError('ENVOY_BAD_VALUE', 'a repeated field needs an array', at);
      v.forEach((item, i) => checkSingle(field, item, `${at}[${i}]`));
    } else {
      checkSingle(field, v, at);
    }
  }
  for (const oneof of type.oneofsArray) {
    if (oneof.oneof.length < 2) continue;
    const set = oneof.oneof.filter((name) => value[name] !== undefined && value[name] !== null);
    if (set.length > 1) {
      throw new EnvoyProtoError(
        'ENVOY_BAD_VALUE',
        `oneof ${oneof.name} has more than one member set: ${set.join(', ')}`,
        path,
      );
    }
  }
}

/** Throws EnvoyProtoError unless every field name and enum value of `object` exists in `typeName`. */
export function checkFields(typeName: string, object: unknown): void {
  checkMessage(lookupType(typeName), object, '');
}

// ---------------------------------------------------------------------------------------
// Encoding

/**
 * Encodes `object` as `typeName`, strictly (as checkFields): the same bytes protobufjs
 * writes (fields in number order), in one checked pass (proto/strict-encode.ts). On a
 * refusal the full check runs again for the exact error and its path.
 */
export function encode(typeName: string, object: object): Uint8Array {
  const type = lookupType(typeName);
  try {
    return strictEncode(type, object);
  } catch (err) {
    if (!(err instanceof StrictEncodeRefused)) throw err;
    checkMessage(type, object, '');
    throw new EnvoyProtoError('ENVOY_BAD_VALUE', `cannot encode as ${type.fullName.slice(1)}: ${err.message}`);
  }
}

/** Decodes bytes as `typeName` into the snake_case object form (longs and enums as strings). */
export function decode<T = Record<string, unknown>>(typeName: string, bytes: Uint8Array): T {
  const type = lookupType(typeName);
  try {
    return type.toObject(type.decode(bytes), TO_OBJECT) as T;
  } catch (err) {
    throw new EnvoyProtoError(
      'ENVOY_DECODE_FAILED',
      `bytes are not a ${type.fullName.slice(1)}: ${(err as Error).message}`,
    );
  }
}

/** A packed Any whose `value` is definitely bytes (what the server sends). */
export interface PackedAny {
  type_url: string;
  value: Uint8Array;
}

/** Packs `object` as `typeName` into a google.protobuf.Any, refusing unknown fields. */
const urlCache = new WeakMap<protobuf.Type, string>();

export function packAny(typeName: string, object: object): PackedAny {
  const type = lookupType(typeName);
  let url = urlCache.get(type);
  if (url === undefined) {
    url = typeUrl(type.fullName.slice(1));
    urlCache.set(type, url);
  }
  return { type_url: url, value: encode(typeName, object) };
}

/** Decodes an Any by its type URL. */
export function unpackAny<T = Record<string, unknown>>(any: Any__Output | PackedAny): T {
  const url = any.type_url ?? '';
  if (!url.startsWith(TYPE_PREFIX)) {
    throw new EnvoyProtoError('ENVOY_UNKNOWN_TYPE', `unsupported type URL ${JSON.stringify(url)}`);
  }
  const raw = any.value ?? new Uint8Array();
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'base64') : raw;
  return decode<T>(url, bytes);
}

// ---------------------------------------------------------------------------------------
// gRPC services

type ClientConstructor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => C;

interface EnvoyServices {
  ads: AggregatedDiscoveryServiceDefinition;
  authorization: AuthorizationDefinition;
  rateLimit: RateLimitServiceDefinition;
  externalProcessor: ExternalProcessorDefinition;
  accessLog: AccessLogServiceDefinition;
  // client constructors, for tests, benchmarks and tools that call a service as Envoy does
  AdsClient: ClientConstructor<AggregatedDiscoveryServiceClient>;
  AuthorizationClient: ClientConstructor<AuthorizationClient>;
  RateLimitClient: ClientConstructor<RateLimitServiceClient>;
  ExternalProcessorClient: ClientConstructor<ExternalProcessorClient>;
  AccessLogClient: ClientConstructor<AccessLogServiceClient>;
}

/** The loaded gRPC package tree (`pkg.envoy.service.auth.v3.Authorization`, …) of the services Sluice serves. */
export type EnvoyPackage = AdsProto & AuthProto & RlsProto & ExtProcProto & AlsProto;

let packageCache: EnvoyPackage | undefined;
/** The gRPC package of every loaded Envoy proto, parsed once per process. */
export function envoyPackage(): EnvoyPackage {
  packageCache ??= grpc.loadPackageDefinition(
    protoLoader.loadSync([...ENVOY_PROTO_FILES], LOADER_OPTIONS),
  ) as unknown as EnvoyPackage;
  return packageCache;
}

let servicesCache: EnvoyServices | undefined;

function serviceAt(pkg: grpc.GrpcObject, path: string): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`service ${path} not loaded`);
  return node as grpc.ServiceClientConstructor;
}

/**
 * The service definitions, ready for `server.addService(...)`:
 * `envoyServices().authorization` is envoy.service.auth.v3.Authorization (Check), and so on.
 * Messages are snake_case objects, longs and enums as strings, oneofs named.
 */
export function envoyServices(): EnvoyServices {
  if (servicesCache) return servicesCache;
  const pkg = envoyPackage() as unknown as grpc.GrpcObject;
  const ads = serviceAt(pkg, 'envoy.service.discovery.v3.AggregatedDiscoveryService');
  const authorization = serviceAt(pkg, 'envoy.service.auth.v3.Authorization');
  const rateLimit = serviceAt(pkg, 'envoy.service.ratelimit.v3.RateLimitService');
  const externalProcessor = serviceAt(pkg, 'envoy.service.ext_proc.v3.ExternalProcessor');
  const accessLog = serviceAt(pkg, 'envoy.service.accesslog.v3.AccessLogService');
  servicesCache = {
    ads: ads.service as AggregatedDiscoveryServiceDefinition,
    authorization: authorization.service as AuthorizationDefinition,
    rateLimit: rateLimit.service as RateLimitServiceDefinition,
    externalProcessor: externalProcessor.service as ExternalProcessorDefinition,
    accessLog: accessLog.service as AccessLogServiceDefinition,
    AdsClient: ads as unknown as EnvoyServices['AdsClient'],
    AuthorizationClient: authorization as unknown as EnvoyServices['AuthorizationClient'],
    RateLimitClient: rateLimit as unknown as EnvoyServices['RateLimitClient'],
    ExternalProcessorClient: externalProcessor as unknown as EnvoyServices['ExternalProcessorClient'],
    AccessLogClient: accessLog as unknown as EnvoyServices['AccessLogClient'],
  };
  return servicesCache;
}
