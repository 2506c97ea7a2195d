// The data-plane half of every composition root: the database PolicySource (the one source
// of per-request policy) and the policies built on it (authorizer, rate limiter, inference
// recorder, Envoy capture), from the loaded settings. `npm start` (control/main.ts) and a
// stand-alone edge (gateway/edge/main.ts) both call this, so they cannot drift apart.
import type { Registry } from 'prom-client';
import type { PrismaClient } from '../platform/db/prisma.ts';
import type { ObjectStore } from '../platform/objectstore/port.ts';
import type { PubSub } from '../platform/pubsub/port.ts';
import type { Settings } from '../platform/settings.ts';
import { DatabasePolicySource } from './policy/database.ts';
import type { EdgeLogger } from './edge/log.ts';
import { createGatewayPolicies, type GatewayPolicies, type GatewayPoliciesOptions } from './server.ts';

export interface DataPlanePolicies extends GatewayPolicies {
  policies: DatabasePolicySource;
}

export interface DataPlaneDeps {
  prisma: PrismaClient;
  pubsub: PubSub;
  store: ObjectStore;
  registry: Registry;
  onEvent?: GatewayPoliciesOptions['onEvent'];
  /** default `${dataDir}/spool/inference` */
  spoolDir?: string;
  /** where a failed policy read (the database down) is logged; it is served from the last read meanwhile */
  log?: Pick<EdgeLogger, 'warn'>;
}

/**
 * Loads the policies from the database (throws if it cannot: e.g. no tables yet) and builds
 * the gateway policies over them. close() flushes the inference log, then stops the source.
 */
export async function openDataPlanePolicies(settings: Settings, deps: DataPlaneDeps): Promise<DataPlanePolicies> {
  const policies = new DatabasePolicySource({
    prisma: deps.prisma,
    pubsub: deps.pubsub,
    onError: (what, error) => deps.log?.warn({ what, err: error instanceof Error ? error.message : String(error) }, 'policy read failed: serving the last policies read'),
  });
  try {
    await policies.start();
  } catch (error) {
    await policies.close();
    throw error;
  }
  const gateway = await createGatewayPolicies({
    policies,
    store: deps.store,
    dataDir: settings.dataDir,
    ...(deps.spoolDir ? { spoolDir: deps.spoolDir } : {}),
    redisUrl: settings.redisUrl ?? undefined,
    registry: deps.registry,
    jwt: settings.auth.jwt ?? undefined,
    captureSync: settings.captureSync,
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
  });
  return {
    ...gateway,
    policies,
    async close() {
      await gateway.close();
      await policies.close();
    },
  };
}
