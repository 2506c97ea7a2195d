// Environment → typed settings, in one place, validated once with zod. Every variable a
// Sluice process (`npm start`, `npm run edge`, `npm run envoy:bootstrap`) reads is declared
// in SETTINGS below with its default; the README's configuration table lists exactly these
// names (test/control/settings.test.ts checks both ways). The one exception is the model
// runtime's launch contract (PORT, SLUICE_MODEL_*: set by the orchestrator for each replica,
// never by an operator), which runtime/config.ts reads.
import { resolve } from 'node:path';
import { z } from 'zod';
import { normalizeOrigin } from './origin.ts';

/** messages never echo the value: it could be a secret */
const PORT_ERROR = { error: 'is not a port (0-65535)' };
const port = (fallback: number) => z.coerce.number(PORT_ERROR).int(PORT_ERROR).min(0, PORT_ERROR).max(65535, PORT_ERROR).default(fallback);
const text = z.string().trim().min(1);
/** comma-separated list → trimmed, non-empty names */
const list = z.string().transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean));

const ROLES = ['ADMIN', 'DEVELOPER', 'VIEWER'] as const;

/** Every variable, its parser and default. The README's configuration table names the same. */
const SETTINGS = {
  // storage and fan-out
  SLUICE_DATA_DIR: text.default('./.sluice'),
  DATABASE_URL: text.optional(),
  REDIS_URL: text.optional(),
  SLUICE_OBJECT_STORE: text.optional(),
  // orchestration
  SLUICE_ORCHESTRATOR: z.enum(['local', 'kubernetes']).default('local'),
  SLUICE_K8S_NAMESPACE: text.default('sluice'),
  // the inference table
  SLUICE_INFERENCE_TABLE_INTERVAL: z.coerce.number().int().min(0).default(300),
  // alert webhooks may not reach loopback/private/link-local addresses unless listed here (host names, IPs, CIDRs)
  SLUICE_WEBHOOK_ALLOW_HOSTS: list.optional(),
  SLUICE_DUCKDB_MEMORY: z.string().trim().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, 'must be a size such as 384MB').optional(),
  // credentials and secrets
  SLUICE_ADMIN_TOKEN: text.optional(),
  SLUICE_SECRET_KEY: text.optional(),
  SLUICE_JWT_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  SLUICE_JWT_ISSUER: list.optional(),
  SLUICE_JWT_AUDIENCE: list.optional(),
  SLUICE_JWT_ALGORITHMS: list.optional(),
  SLUICE_JWT_ROLES_CLAIM: text.optional(),
  SLUICE_JWT_DEFAULT_ROLE: z
    .string()
    .trim()
    .transform((v) => v.toUpperCase())
    .pipe(z.enum([...ROLES, 'NONE'], { error: 'SLUICE_JWT_DEFAULT_ROLE must be ADMIN, DEVELOPER, VIEWER or none' }))
    .optional(),
  SLUICE_JWT_GROUPS_CLAIM: text.optional(),
  MLFLOW_TRACKING_TOKEN: text.optional(),
  MLFLOW_TRACKING_USERNAME: z.string().optional(),
  MLFLOW_TRACKING_PASSWORD: z.string().optional(),
  // the demo
  SLUICE_DEMO: z.enum(['0', '1']).default('1'),
  // where things listen and how they find each other
  SLUICE_HOST: text.default('127.0.0.1'),
  SLUICE_PORT: port(4000),
  SLUICE_EDGE_PORT: port(8080),
  SLUICE_XDS_PORT: port(18000),
  SLUICE_GATEWAY_PORT: port(18081),
  SLUICE_ENVOY_LISTENER_PORT: port(10000),
  SLUICE_XDS_HOST: text.optional(),
  SLUICE_GATEWAY_HOST: text.default('127.0.0.1'),
  SLUICE_XDS_ADDRESS: text.optional(),
  SLUICE_PUBLIC_EDGE_URL: text.optional(),
  SLUICE_EDGE_CORS_ORIGINS: z.string().trim().optional(),
  SLUICE_WEB_ROOT: text.optional(),
  SLUICE_STICKY_HEADER: z.string().trim().toLowerCase().regex(/^[!#$%&'*+.^_`|~0-9a-z-]*$/, 'must be an HTTP header name').optional(),
  // the Envoy bootstrap (npm run envoy:bootstrap)
  ENVOY_NODE_ID: text.default('sluice-edge-0'),
  ENVOY_NODE_CLUSTER: text.default('sluice-edge'),
  ENVOY_ADMIN_PORT: port(9901),
  // operations: metrics history and instance logs
  SLUICE_METRICS_INTERVAL_SECONDS: z.coerce.number().min(1).max(3600).default(15),
  SLUICE_METRICS_RETENTION_DAYS: z.coerce.number().min(1).max(3650).default(15),
  SLUICE_PROMETHEUS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  SLUICE_METRICS_EDGE_URLS: list.optional(),
  SLUICE_METRICS_DATA_PLANE: z.enum(['edge', 'envoy']).optional(),
  SLUICE_PROMETHEUS_ENVOY_TARGETS: list.optional(),
  SLUICE_PROMETHEUS_DCGM_TARGETS: list.optional(),
  SLUICE_LOG_CAP_MB: z.coerce.number().min(1).max(1_000_000).default(256),
  // inference capture durability (gateway/inference-log/spool.ts)
  SLUICE_CAPTURE_SYNC: z.enum(['background', 'always']).default('background'),
  // how Envoy enforces QPS limits: its own local_ratelimit (shares per proxy) or the gateway's RLS
  SLUICE_ENVOY_RATE_LIMIT: z.enum(['local', 'global']).default('local'),
  // the model runtime image of the Kubernetes orchestrator (deploy/docker/Dockerfile --target runtime)
  SLUICE_RUNTIME_IMAGE: text.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // what one caller may ask of the control plane (control/graphql/limits.ts, socket-quota.ts)
  SLUICE_GRAPHQL_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  SLUICE_GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).default(15),
  SLUICE_GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(10),
  SLUICE_GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(5_000),
  SLUICE_WS_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).default(20),
  SLUICE_WS_MAX_SUBSCRIPTIONS_PER_USER: z.coerce.number().int().min(1).default(100),
  NODE_ENV: z.string().optional(),
  // least privilege (control/orchestrator/local/launch.ts, control/registry/*)
  SLUICE_RUN_AS: text.default('nobody'),
  // the data plane first (control/data-plane-priority.ts): the nice value of the control plane's own threads
  SLUICE_CONTROL_PLANE_NICE: z.coerce.number().int().min(0).max(19).default(10),
  SLUICE_MODEL_IMPORT_DIR: text.optional(),
  SLUICE_MLFLOW_TRUSTED_URIS: list.optional(),
  // the gRPC ports listen on loopback unless told otherwise (and then need SLUICE_GRPC_TOKEN or mTLS)
  SLUICE_XDS_LISTEN_HOST: text.default('127.0.0.1'),
  SLUICE_GATEWAY_LISTEN_HOST: text.default('127.0.0.1'),
  SLUICE_GRPC_TOKEN: text.optional(),
  SLUICE_GRPC_TLS_CERT: text.optional(),
  SLUICE_GRPC_TLS_KEY: text.optional(),
  SLUICE_GRPC_TLS_CA: text.optional(),
};

/** The names of every variable the loader reads (the README's configuration table lists these). */
export const SETTINGS_VARIABLES: readonly string[] = Object.keys(SETTINGS);

const EnvSchema = z.object(SETTINGS);
type Env = z.infer<typeof EnvSchema>;

export type Role = (typeof ROLES)[number];

/** An external JWT issuer (SLUICE_JWT_*), for /predict and the GraphQL API alike. */
export interface JwtIssuerSettings {
  jwksUrl: string;
  issuer: string[];
  audience: string[];
  /** unset: every asymmetric algorithm (platform/jwt.ts) */
  algorithms?: string[];
  rolesClaim?: string;
  groupsClaim?: string;
  /** unset: VIEWER; null: a token with no mapped role is refused */
  defaultRole?: Role | null;
}

export interface Settings {
  dataDir: string;
  databaseUrl: string;
  redisUrl: string | null;
  objectStoreUrl: string;
  orchestrator: 'local' | 'kubernetes';
  kubernetesNamespace: string;
  /** seconds between scheduled runs of a group with the table on (0 = on demand / per-group schedule only); DuckDB's memory budget (null = the part's default) */
  inferenceTable: { intervalSeconds: number; duckdbMemory: string | null; webhookAllowHosts: string[] };
  demo: boolean;
  host: string;
  ports: { control: number; edge: number; xds: number; gateway: number };
  /** MLflow servers besides MLFLOW_TRACKING_URI that may receive the MLflow credentials */
  mlflowTrustedUris: string[];
  /** where the xDS and gateway gRPC servers listen (their own settings; loopback by default) */
  grpcListenHosts: { xds: string; gateway: string };
  publicEdgeUrl: string;
  /** origins whose pages may call the edge (CORS): the dashboard's own by default; [] = none */
  edgeCorsOrigins: string[];
  /** the built dashboard the control plane serves at / (null = web/dist of the installation) */
  webRoot: string | null;
  auth: { adminToken: string | null; secretKey: string | null; jwt: JwtIssuerSettings | null };
  mlflow: { token?: string; username?: string; password?: string };
  /** what the xDS server pushes and the Envoy bootstrap says */
  dataPlane: {
    /** host Envoy dials to reach the ADS server */
    xdsHost: string;
    listenerPort: number;
    gatewayHost: string;
    stickyHeader: string | null;
    /**
     * SLUICE_ENVOY_RATE_LIMIT: 'local' (default) — Envoy's own local_ratelimit, each proxy a
     * share of the QPS, no callout; 'global' — every request asks the gateway's
     * RateLimitService, exact across proxies (and per API key), which needs REDIS_URL so all
     * gateway replicas share the counters.
     */
    envoyRateLimit: 'local' | 'global';
    envoy: { nodeId: string; nodeCluster: string; adminPort: number };
  };
  /** where a stand-alone edge (`npm run edge`) finds the xDS server */
  edgeXdsAddress: string;
  logLevel: string;
  /** metrics history: scrape interval and how long rollups are kept; Prometheus instead when set */
  metrics: {
    intervalMs: number;
    retentionMs: number;
    prometheusUrl: string | null;
    edgeUrls: string[];
    /** whose names the Prometheus queries use: the local edge's or Envoy's */
    dataPlane: 'edge' | 'envoy';
    /** extra scrape targets `npm run prometheus:config` prints: Envoy admin listeners, DCGM exporters */
    envoyTargets: string[];
    dcgmTargets: string[];
  };
  /** bytes of instance logs kept per version before the oldest are dropped */
  logCapBytes: number;
  /** per-operation and per-user limits of the GraphQL API */
  graphql: {
    maxBodyBytes: number;
    maxDepth: number;
    maxAliases: number;
    maxCost: number;
    maxSocketsPerUser: number;
    maxSubscriptionsPerUser: number;
  };
  /** NODE_ENV=development: stack traces in GraphQL errors */
  development: boolean;
  /** the only folder registerModelVersion's `path` may name */
  modelImportDir: string;
  /** the user image versions' commands run as (local orchestrator, when running as root); "none" = no switch */
  runAs: string;
  /** the nice value of the control plane's threads; the edge and local replicas keep the normal priority (0: nothing lowered) */
  controlPlaneNice: number;
  /** who may call the gRPC ports: a shared token and/or TLS files (platform/grpc-auth.ts) */
  grpc: { token: string | null; tlsCert: string | null; tlsKey: string | null; tlsCa: string | null };
  /** inference capture: answer once the record is in the spool ('background', fdatasync every ≤ 50 ms) or once it is on disk ('always') */
  captureSync: 'background' | 'always';
  /** the model runtime image the Kubernetes orchestrator runs (deploy/docker/Dockerfile, target runtime); null = its default */
  runtimeImage: string | null;
}

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIGURATION';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function parseEnv(env: Record<string, string | undefined>): Env {
  // an empty variable means the same as an unset one (`DATABASE_URL= npm start`)
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in SETTINGS && v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`bad configuration: ${issues}`);
  }
  if (parsed.data.SLUICE_ENVOY_RATE_LIMIT === 'global' && !parsed.data.REDIS_URL) {
    throw new ConfigError('bad configuration: SLUICE_ENVOY_RATE_LIMIT=global needs REDIS_URL (the gateway replicas share their counters there)');
  }
  return parsed.data;
}

function jwtIssuer(e: Env): JwtIssuerSettings | null {
  if (!e.SLUICE_JWT_JWKS_URL) return null;
  const issuer = e.SLUICE_JWT_ISSUER ?? [];
  const audience = e.SLUICE_JWT_AUDIENCE ?? [];
  if (issuer.length === 0 || audience.length === 0) throw new ConfigError('bad configuration: SLUICE_JWT_JWKS_URL needs SLUICE_JWT_ISSUER and SLUICE_JWT_AUDIENCE');
  const role = e.SLUICE_JWT_DEFAULT_ROLE;
  return {
    jwksUrl: e.SLUICE_JWT_JWKS_URL,
    issuer,
    audience,
    ...(e.SLUICE_JWT_ALGORITHMS?.length ? { algorithms: e.SLUICE_JWT_ALGORITHMS } : {}),
    ...(e.SLUICE_JWT_ROLES_CLAIM ? { rolesClaim: e.SLUICE_JWT_ROLES_CLAIM } : {}),
    ...(e.SLUICE_JWT_GROUPS_CLAIM ? { groupsClaim: e.SLUICE_JWT_GROUPS_CLAIM } : {}),
    ...(role ? { defaultRole: role === 'NONE' ? null : role } : {}),
  };
}

/** The external JWT issuer alone (null when SLUICE_JWT_JWKS_URL is unset); ConfigError when incomplete. */
export function loadJwtIssuer(env: Record<string, string | undefined> = process.env): JwtIssuerSettings | null {
  return jwtIssuer(parseEnv(env));
}

/**
 * SLUICE_EDGE_CORS_ORIGINS: unset = the dashboard's own origins (the control plane's port on
 * 127.0.0.1, localhost and SLUICE_HOST); `none` = no cross-origin caller; else exact origins.
 * A wildcard is refused: the edge's answers are per-key secrets.
 */
function corsOrigins(value: string | undefined, host: string, controlPort: number): string[] {
  if (value === undefined) {
    const hosts = new Set(['127.0.0.1', 'localhost']);
    if (!['0.0.0.0', '::', '[::]'].includes(host)) hosts.add(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
    return [...hosts].map((h) => `http://${h}:${controlPort}`);
  }
  if (value.toLowerCase() === 'none') return [];
  const origins: string[] = [];
  for (const item of value.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (item.includes('*')) throw new ConfigError('bad configuration: SLUICE_EDGE_CORS_ORIGINS: a wildcard is not allowed; list the exact origins (scheme://host:port)');
    const origin = normalizeOrigin(item);
    if (origin === null) throw new ConfigError(`bad configuration: SLUICE_EDGE_CORS_ORIGINS: ${JSON.stringify(item)} is not an origin (scheme://host[:port], no path)`);
    origins.push(origin);
  }
  return origins;
}

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const e = parseEnv(env);
  const dataDir = resolve(e.SLUICE_DATA_DIR);
  const host = e.SLUICE_HOST;
  return {
    dataDir,
    databaseUrl: e.DATABASE_URL ?? `file:${resolve(dataDir, 'sluice.db')}`,
    redisUrl: e.REDIS_URL ?? null,
    objectStoreUrl: e.SLUICE_OBJECT_STORE ?? `file://${resolve(dataDir, 'objects')}`,
    orchestrator: e.SLUICE_ORCHESTRATOR,
    kubernetesNamespace: e.SLUICE_K8S_NAMESPACE,
    inferenceTable: { intervalSeconds: e.SLUICE_INFERENCE_TABLE_INTERVAL, duckdbMemory: e.SLUICE_DUCKDB_MEMORY ?? null, webhookAllowHosts: e.SLUICE_WEBHOOK_ALLOW_HOSTS ?? [] },
    demo: e.SLUICE_DEMO === '1',
    host,
    ports: { control: e.SLUICE_PORT, edge: e.SLUICE_EDGE_PORT, xds: e.SLUICE_XDS_PORT, gateway: e.SLUICE_GATEWAY_PORT },
    publicEdgeUrl: e.SLUICE_PUBLIC_EDGE_URL ?? `http://127.0.0.1:${e.SLUICE_EDGE_PORT}`,
    edgeCorsOrigins: corsOrigins(e.SLUICE_EDGE_CORS_ORIGINS, host, e.SLUICE_PORT),
    webRoot: e.SLUICE_WEB_ROOT ? resolve(e.SLUICE_WEB_ROOT) : null,
    auth: { adminToken: e.SLUICE_ADMIN_TOKEN ?? null, secretKey: e.SLUICE_SECRET_KEY ?? null, jwt: jwtIssuer(e) },
    mlflow: {
      ...(e.MLFLOW_TRACKING_TOKEN ? { token: e.MLFLOW_TRACKING_TOKEN } : {}),
      ...(e.MLFLOW_TRACKING_USERNAME !== undefined ? { username: e.MLFLOW_TRACKING_USERNAME } : {}),
      ...(e.MLFLOW_TRACKING_PASSWORD !== undefined ? { password: e.MLFLOW_TRACKING_PASSWORD } : {}),
    },
    dataPlane: {
      xdsHost: e.SLUICE_XDS_HOST ?? '127.0.0.1',
      listenerPort: e.SLUICE_ENVOY_LISTENER_PORT,
      gatewayHost: e.SLUICE_GATEWAY_HOST,
      stickyHeader: e.SLUICE_STICKY_HEADER || null,
      envoyRateLimit: e.SLUICE_ENVOY_RATE_LIMIT,
      envoy: { nodeId: e.ENVOY_NODE_ID, nodeCluster: e.ENVOY_NODE_CLUSTER, adminPort: e.ENVOY_ADMIN_PORT },
    },
    edgeXdsAddress: e.SLUICE_XDS_ADDRESS ?? `${e.SLUICE_XDS_HOST ?? host}:${e.SLUICE_XDS_PORT}`,
    logLevel: e.LOG_LEVEL,
    metrics: {
      intervalMs: e.SLUICE_METRICS_INTERVAL_SECONDS * 1000,
      retentionMs: e.SLUICE_METRICS_RETENTION_DAYS * 86_400_000,
      prometheusUrl: e.SLUICE_PROMETHEUS_URL ?? null,
      edgeUrls: e.SLUICE_METRICS_EDGE_URLS ?? [],
      // Kubernetes replicas sit behind Envoy; the local orchestrator's behind the local edge
      dataPlane: e.SLUICE_METRICS_DATA_PLANE ?? (e.SLUICE_ORCHESTRATOR === 'kubernetes' ? 'envoy' : 'edge'),
      envoyTargets: e.SLUICE_PROMETHEUS_ENVOY_TARGETS ?? [],
      dcgmTargets: e.SLUICE_PROMETHEUS_DCGM_TARGETS ?? [],
    },
    logCapBytes: Math.floor(e.SLUICE_LOG_CAP_MB * 1024 * 1024),
    graphql: {
      maxBodyBytes: e.SLUICE_GRAPHQL_MAX_BODY_BYTES,
      maxDepth: e.SLUICE_GRAPHQL_MAX_DEPTH,
      maxAliases: e.SLUICE_GRAPHQL_MAX_ALIASES,
      maxCost: e.SLUICE_GRAPHQL_MAX_COST,
      maxSocketsPerUser: e.SLUICE_WS_MAX_SOCKETS_PER_USER,
      maxSubscriptionsPerUser: e.SLUICE_WS_MAX_SUBSCRIPTIONS_PER_USER,
    },
    development: e.NODE_ENV === 'development',
    runAs: e.SLUICE_RUN_AS,
    controlPlaneNice: e.SLUICE_CONTROL_PLANE_NICE,
    modelImportDir: resolve(e.SLUICE_MODEL_IMPORT_DIR ?? resolve(dataDir, 'import')),
    mlflowTrustedUris: e.SLUICE_MLFLOW_TRUSTED_URIS ?? [],
    grpcListenHosts: { xds: e.SLUICE_XDS_LISTEN_HOST, gateway: e.SLUICE_GATEWAY_LISTEN_HOST },
    grpc: { token: e.SLUICE_GRPC_TOKEN ?? null, tlsCert: e.SLUICE_GRPC_TLS_CERT ?? null, tlsKey: e.SLUICE_GRPC_TLS_KEY ?? null, tlsCa: e.SLUICE_GRPC_TLS_CA ?? null },
    captureSync: e.SLUICE_CAPTURE_SYNC,
    runtimeImage: e.SLUICE_RUNTIME_IMAGE ?? null,
  };
}
