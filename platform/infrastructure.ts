// The shared infrastructure of a Sluice process, opened from the loaded settings by one
// factory that both composition roots call (control/main.ts for `npm start`,
// gateway/edge/main.ts for `npm run edge`): the database (SQLite or PostgreSQL), the pub/sub
// (in-process or Redis) and the object store (folder or S3). Each embedded-or-production
// choice is made here, from the settings, once.
import { createDatabase, type Database } from './db/client.ts';
import { openObjectStore, type ObjectStore } from './objectstore/open.ts';
import { openPubSub, type LocalPubSub } from './pubsub/index.ts';
import type { Settings } from './settings.ts';

export interface Infrastructure {
  db: Database;
  pubsub: LocalPubSub;
  store: ObjectStore;
  /** closes the pub/sub, then the database */
  close(): Promise<void>;
}

export interface InfrastructureHooks {
  onPubSubError?: (error: Error) => void;
  /** a slow subscriber lost notices */
  onPubSubDrop?: (topic: string, total: number) => void;
}

export async function openInfrastructure(settings: Settings, hooks: InfrastructureHooks = {}): Promise<Infrastructure> {
  const db = await createDatabase(settings.databaseUrl);
  let pubsub: LocalPubSub;
  try {
    pubsub = await openPubSub(settings.redisUrl ?? undefined, {
      ...(hooks.onPubSubError ? { onError: hooks.onPubSubError } : {}),
      ...(hooks.onPubSubDrop ? { onDrop: hooks.onPubSubDrop } : {}),
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  const store = openObjectStore(settings.objectStoreUrl);
  return {
    db,
    pubsub,
    store,
    async close() {
      await pubsub.close();
      await db.close();
    },
  };
}
