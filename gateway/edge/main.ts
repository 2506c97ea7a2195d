// `npm run edge`: the local edge as a process of its own, for running more edge replicas
// beside one control plane. Routes come over xDS from the control plane
// (SLUICE_XDS_ADDRESS, or SLUICE_XDS_HOST:SLUICE_XDS_PORT); policies and API keys are read
// from the same database (DATABASE_URL) and re-read whenever xDS pushes a change (and on
// Redis pub/sub notices when REDIS_URL is set, which also makes the QPS limits fleet-wide);
// inference records go to SLUICE_OBJECT_STORE through a spool under SLUICE_DATA_DIR.
// Serves SLUICE_EDGE_PORT (8080) on SLUICE_HOST.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadSettings } from '../../platform/settings.ts';
import { createDatabase } from '../../platform/db/client.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { openObjectStore } from '../../platform/objectstore/open.ts';
import { DatabasePolicySource } from '../policy/database.ts';
import { openPubSub } from '../../platform/pubsub/index.ts';
import { Authorizer, jwtSettingsFromEnv } from '../authz.ts';
import { InferenceLogWriter } from '../inference-log/writer.ts';
import { InferenceRecorder } from '../inference-log/recorder.ts';
import { adoptOrphanSpools, edgeSpoolName } from '../inference-log/orphans.ts';
import { createRateLimiter } from '../ratelimit/index.ts';
import { startEdge } from './server.ts';
import { XdsRoutingClient } from './xds-client.ts';

export interface EdgeProcess {
  port: number;
  close(): Promise<void>;
}

export async function main(env: Record<string, string | undefined> = process.env): Promise<EdgeProcess> {
  const settings = loadSettings(env);
  const log = pino({ name: 'sluice-edge', level: env.LOG_LEVEL || 'info' });
  const xdsAddress = env.SLUICE_XDS_ADDRESS || `${env.SLUICE_XDS_HOST || settings.host}:${settings.ports.xds}`;
  // the spool is per process: two edges never share one; what a dead edge left in its own
  // (killed, or stopped while the store was down) is taken over before the writer opens ours
  const spoolParent = join(settings.dataDir, 'spool');
  const spoolDir = join(spoolParent, edgeSpoolName(process.pid));
  mkdirSync(spoolDir, { recursive: true });
  const adopted = await adoptOrphanSpools({ parent: spoolParent, own: spoolDir });
  if (adopted.files > 0) log.info({ batches: adopted.files, from: adopted.from }, 'took over the inference-log spool of stopped edge processes');

  const db = await createDatabase(settings.databaseUrl);
  const prisma = db.prisma as unknown as PrismaClient;
  const pubsub = await openPubSub(settings.redisUrl ?? undefined, { onError: (err) => log.warn({ err: err.message }, 'pub/sub') });
  const policies = new DatabasePolicySource({ prisma, pubsub });
  try {
    await policies.start();
  } catch (err) {
    await pubsub.close();
    await db.close();
    throw new Error(
      `cannot read service policies from ${db.safeUrl} (${(err as Error).message.trim().split('\n').at(-1) ?? ''}); ` +
        'the edge reads the control plane\'s database: start the control plane (npm start) or run npm run db:migrate first',
    );
  }

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const authorizer = new Authorizer({ policies, jwt: jwtSettingsFromEnv(env) });
  const rateLimiter = createRateLimiter({
    policies,
    redisUrl: settings.redisUrl ?? undefined,
    registry: metrics,
    onStoreEvent: (event) => log.warn(event, 'rate limit store'),
  });
  const writer = new InferenceLogWriter({
    store: openObjectStore(settings.objectStoreUrl),
    spoolDir,
    onEvent: (event) => log.warn(event, 'inference log'),
  });
  await writer.start();
  const recorder = new InferenceRecorder({ policies, sink: writer, registry: metrics });

  const routing = new XdsRoutingClient({ address: xdsAddress, log }).start();
  // an xDS push means the data plane changed: re-read the policies that go with it
  const unwatch = routing.onChange(() => {
    policies.refresh().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'policy refresh failed'));
  });
  if (!(await routing.ready(10_000))) log.warn({ xds: xdsAddress }, 'no routes from xDS yet; answering 503 until they arrive');

  const edge = await startEdge({
    port: settings.ports.edge,
    host: settings.host,
    routing,
    policy: { authorizer, rateLimiter, recorder },
    metrics,
    log,
  });
  log.info({ url: `http://${settings.host}:${edge.port}/services/{group}/predict`, xds: xdsAddress, node: routing.nodeId, database: db.safeUrl }, 'edge ready');

  const close = async () => {
    unwatch();
    await edge.close();
    await routing.close();
    await rateLimiter.close();
    await writer.close();
    await policies.close();
    await pubsub.close();
    await db.close();
  };
  return { port: edge.port, close };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main()
    .then((edge) => {
      let stopping = false;
      const shutdown = () => {
        if (stopping) return;
        stopping = true;
        edge.close().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    })
    .catch((err: unknown) => {
      console.error(`edge failed to start: ${(err as Error).message}`);
      process.exit(1);
    });
}
