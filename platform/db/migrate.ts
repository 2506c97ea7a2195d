// Applies the pending migrations of the right provider to a database, as `prisma migrate
// deploy` would (same folders, same `_prisma_migrations` bookkeeping), but through the
// WebAssembly schema engine so that no engine binary is needed. Idempotent: applied
// migrations are recorded and skipped. `npm start` and the test fixtures call this.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { DatabaseError } from './errors.ts';
import { migrationNames, migrationsDirs, readMigrationList } from './migrations-folder.ts';
import { openSchemaEngine, sqliteScriptAware } from './schema-engine.ts';
import { parseDatabaseUrl, pgPoolConfig, redactUrl, type DatabaseTarget, type Provider } from './url.ts';

export const noSchemaFilter = { externalTables: [] as string[], externalEnums: [] as string[] };

/**
 * Keeps every connection the engine opens so they can all be released afterwards (the engine
 * does not always dispose them when freed); disposal is idempotent because a pg pool may be
 * ended only once.
 */
export function trackedFactory(factory: SqlMigrationAwareDriverAdapterFactory): {
  factory: SqlMigrationAwareDriverAdapterFactory;
  disposeAll(): Promise<void>;
} {
  const open = new Set<SqlDriverAdapter>();
  const track = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    let disposed: Promise<void> | undefined;
    const wrapped: SqlDriverAdapter = {
      provider: adapter.provider,
      adapterName: adapter.adapterName,
      queryRaw: (q) => adapter.queryRaw(q),
      executeRaw: (q) => adapter.executeRaw(q),
      executeScript: (s) => adapter.executeScript(s),
      startTransaction: (level) => adapter.startTransaction(level),
      dispose: () => {
        open.delete(wrapped);
        return (disposed ??= adapter.dispose());
      },
    };
    if (adapter.getConnectionInfo) wrapped.getConnectionInfo = adapter.getConnectionInfo.bind(adapter);
    open.add(wrapped);
    return wrapped;
  };
  return {
    factory: {
      provider: factory.provider,
      adapterName: factory.adapterName,
      connect: async () => track(await factory.connect()),
      connectToShadowDb: async () => track(await factory.connectToShadowDb()),
    },
    async disposeAll() {
      await Promise.allSettled([...open].map((a) => a.dispose()));
    },
  };
}

/** The migration-capable adapter factory for a database target. */
export function migrationFactory(target: DatabaseTarget): SqlMigrationAwareDriverAdapterFactory {
  if (target.provider === 'sqlite') {
    mkdirSync(dirname(target.path), { recursive: true });
    return sqliteScriptAware(new PrismaBetterSqlite3({ url: target.path, timeout: 15_000 }));
  }
  return new PrismaPg(pgPoolConfig(target, 2), target.schema ? { schema: target.schema } : undefined);
}

/** A `?schema=` must exist before unqualified DDL can be created in it. */
async function ensurePgSchema(target: Extract<DatabaseTarget, { provider: 'postgresql' }>): Promise<void> {
  if (!target.schema) return;
  const client = new pg.Client({ connectionString: target.connectionString });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
  } finally {
    await client.end();
  }
}

function engineMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Two callers in one process (the control plane and a test helper, say) must not race on the
// same database: the engine takes no lock on SQLite.
const inFlight = new Map<string, Promise<unknown>>();

export async function applyMigrations(url: string, options: { migrationsDir?: string } = {}): Promise<{ applied: string[] }> {
  const target = parseDatabaseUrl(url);
  const previous = inFlight.get(url) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => applyNow(target, url, options.migrationsDir));
  inFlight.set(url, run);
  try {
    return await run;
  } finally {
    if (inFlight.get(url) === run) inFlight.delete(url);
  }
}

/**
 * The migrations an SQLite database has not applied yet, read without the schema engine;
 * null when that cannot be told (no file, no bookkeeping table yet, another provider). A
 * start with nothing pending then leaves the file alone: the engine takes locks that a
 * process still using the database (the edge that outlived a crashed control plane) would
 * make it wait for in vain.
 */
export function pendingMigrations(url: string, migrationsDir?: string): string[] | null {
  const target = parseDatabaseUrl(url);
  if (target.provider !== 'sqlite' || !existsSync(target.path)) return null;
  const wanted = migrationNames(migrationsDir ?? migrationsDirs.sqlite);
  let db: Database.Database | undefined;
  try {
    db = new Database(target.path, { readonly: true, fileMustExist: true, timeout: 5_000 });
    const rows = db.prepare('SELECT migration_name AS name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL').all() as { name: string }[];
    const applied = new Set(rows.map((r) => r.name));
    return wanted.filter((name) => !applied.has(name));
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

async function applyNow(target: DatabaseTarget, url: string, migrationsDir?: string): Promise<{ applied: string[] }> {
  const provider: Provider = target.provider;
  const dir = migrationsDir ?? migrationsDirs[provider];
  if (migrationNames(dir).length === 0) {
    throw new DatabaseError('DB_MIGRATIONS_MISSING', `no ${provider} migrations found in ${dir}`);
  }
  if (pendingMigrations(url, dir)?.length === 0) return { applied: [] };
  const tracked = trackedFactory(migrationFactory(target));
  let opened: Awaited<ReturnType<typeof openSchemaEngine>> | undefined;
  try {
    if (target.provider === 'postgresql') await ensurePgSchema(target);
    opened = await openSchemaEngine(tracked.factory);
    const out = await opened.engine.applyMigrations({ migrationsList: readMigrationList(dir), filters: noSchemaFilter });
    return { applied: out.appliedMigrationNames };
  } catch (err) {
    throw new DatabaseError('DB_MIGRATION_FAILED', `applying ${provider} migrations to ${redactUrl(url)} failed: ${engineMessage(err)}`, { cause: err });
  } finally {
    opened?.close();
    await tracked.disposeAll();
  }
}
