// Environment → typed settings, in one place. Every variable Sluice reads is here, with
// its default; README's configuration table lists the same names.
import { resolve } from 'node:path';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const EnvSchema = z.object({
  SLUICE_DATA_DIR: z.string().min(1).default('./.sluice'),
  DATABASE_URL: z.string().optional(),
  REDIS_URL: z.string().optional(),
  SLUICE_OBJECT_STORE: z.string().optional(),
  SLUICE_ORCHESTRATOR: z.enum(['local', 'kubernetes']).default('local'),
  SLUICE_ADMIN_TOKEN: z.string().optional(),
  SLUICE_DEMO: z.enum(['0', '1']).default('1'),
  SLUICE_HOST: z.string().default('127.0.0.1'),
  SLUICE_PORT: port(4000),
  SLUICE_EDGE_PORT: port(8080),
  SLUICE_XDS_PORT: port(18000),
  SLUICE_GATEWAY_PORT: port(18081),
  SLUICE_PUBLIC_EDGE_URL: z.string().optional(),
  SLUICE_K8S_NAMESPACE: z.string().default('sluice'),
  SLUICE_METRICS_INTERVAL_SECONDS: z.coerce.number().min(1).max(3600).default(15),
  SLUICE_METRICS_RETENTION_DAYS: z.coerce.number().min(1).max(3650).default(15),
  SLUICE_PROMETHEUS_URL: z.string().url().optional(),
  SLUICE_METRICS_EDGE_URLS: z.string().optional(),
  SLUICE_LOG_CAP_MB: z.coerce.number().min(1).max(1_000_000).default(256),
});

export interface Settings {
  dataDir: string;
  databaseUrl: string;
  redisUrl: string | null;
  objectStoreUrl: string;
  orchestrator: 'local' | 'kubernetes';
  demo: boolean;
  host: string;
  ports: { control: number; edge: number; xds: number; gateway: number };
  publicEdgeUrl: string;
  kubernetesNamespace: string;
  /** metrics history: scrape interval and how long rollups are kept; Prometheus instead when set */
  metrics: { intervalMs: number; retentionMs: number; prometheusUrl: string | null; edgeUrls: string[] };
  /** bytes of instance logs kept per version before the oldest are dropped */
  logCapBytes: number;
  /** the raw environment, for the parts that read their own variables (auth, AWS SDK) */
  env: Record<string, string | undefined>;
}

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIGURATION';
}

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  // an empty variable means the same as an unset one (`DATABASE_URL= npm start`)
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`bad configuration: ${issues}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.SLUICE_DATA_DIR);
  return {
    dataDir,
    databaseUrl: e.DATABASE_URL ?? `file:${resolve(dataDir, 'sluice.db')}`,
    redisUrl: e.REDIS_URL || null,
    objectStoreUrl: e.SLUICE_OBJECT_STORE ?? `file://${resolve(dataDir, 'objects')}`,
    orchestrator: e.SLUICE_ORCHESTRATOR,
    demo: e.SLUICE_DEMO === '1',
    host: e.SLUICE_HOST,
    ports: { control: e.SLUICE_PORT, edge: e.SLUICE_EDGE_PORT, xds: e.SLUICE_XDS_PORT, gateway: e.SLUICE_GATEWAY_PORT },
    publicEdgeUrl: e.SLUICE_PUBLIC_EDGE_URL ?? `http://127.0.0.1:${e.SLUICE_EDGE_PORT}`,
    kubernetesNamespace: e.SLUICE_K8S_NAMESPACE,
    metrics: {
      intervalMs: e.SLUICE_METRICS_INTERVAL_SECONDS * 1000,
      retentionMs: e.SLUICE_METRICS_RETENTION_DAYS * 86_400_000,
      prometheusUrl: e.SLUICE_PROMETHEUS_URL ?? null,
      edgeUrls: (e.SLUICE_METRICS_EDGE_URLS ?? '').split(',').map((u) => u.trim()).filter(Boolean),
    },
    logCapBytes: Math.floor(e.SLUICE_LOG_CAP_MB * 1024 * 1024),
    env,
  };
}
