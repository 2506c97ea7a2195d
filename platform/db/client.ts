// Opens Sluice's database for either provider behind one type: a Prisma client (SQLite through
// better-sqlite3, PostgreSQL through pg), a statement counter for N+1 tests, and close().
// Migrations are separate (platform/db/migrate.ts); this module never changes the schema.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import { PrismaClient } from '../../prisma/generated/sqlite/client.ts';
import { countingFactory, type StatementCounter } from './counting-adapter.ts';
import { serializedAdapter } from './sqlite-serial.ts';
import { parseDatabaseUrl, PG_QUERY_TIMEOUT_MS, pgPoolConfig, redactUrl, type Provider } from './url.ts';

export type { Provider } from './url.ts';
export { PrismaClient, Prisma } from '../../prisma/generated/sqlite/client.ts';

export interface Database {
  /**
   * The Prisma client. Typed as the SQLite-generated client for both providers: the two are
   * generated from the same models and expose the same API (see createDatabase).
   */
  prisma: PrismaClient;
  provider: Provider;
  /** The URL as given. May contain a password: never log it; use `safeUrl`. */
  url: string;
  /** `url` with any password masked. */
  safeUrl: string;
  /** SQL statements sent to the database since it was opened (monotonic; compare two readings). */
  queryCount(): number;
  /** Disconnects the client and releases the driver (closes the SQLite file or the pg pool). */
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** How long a SQLite writer waits for a lock held by another connection (default 5000 ms). */
  sqliteBusyTimeoutMs?: number;
  /** How long a PostgreSQL statement may wait for its answer before the call fails (default url.ts PG_QUERY_TIMEOUT_MS). */
  pgQueryTimeoutMs?: number;
}

// WAL lets readers run while a writer writes (the edge and the control plane may both open
// the file); NORMAL sync is durable under WAL except on power loss of the last commit, which
// is the usual trade for an embedded default. Foreign keys carry the schema's cascades.
// The connection is then serialized around transactions (see sqlite-serial.ts).
async function prepareSqlite(adapter: SqlDriverAdapter, busyTimeoutMs: number): Promise<SqlDriverAdapter> {
  await adapter.executeScript(
    `PRAGMA journal_mode = WAL; PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;`,
  );
  return serializedAdapter(adapter);
}

// SQLite runs one transaction at a time (sqlite-serial.ts) and a pg pool can run dry under a
// burst, so a transaction may queue longer than Prisma's default 2 s before it starts.
const transactionOptions = { maxWait: 10_000, timeout: 10_000 };

export async function createDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(url);
  const counter: StatementCounter = { count: 0 };
  let prisma: PrismaClient;

  if (target.provider === 'sqlite') {
    mkdirSync(dirname(target.path), { recursive: true });
    const busy = options.sqliteBusyTimeoutMs ?? 5000;
    const factory = new PrismaBetterSqlite3({ url: target.path, timeout: busy });
    prisma = new PrismaClient({ adapter: countingFactory(factory, counter, (a) => prepareSqlite(a, busy)), transactionOptions });
  } else {
    const factory = new PrismaPg(
      pgPoolConfig(target, options.poolSize ?? 10, { queryMs: options.pgQueryTimeoutMs ?? PG_QUERY_TIMEOUT_MS }),
      target.schema ? { schema: target.schema } : undefined,
    );
    // The PostgreSQL client is generated from the same models as the SQLite one (prisma/generate.ts
    // only swaps the provider), so its API is identical; we hand it out under the SQLite client's
    // type so that callers have one type. Loaded lazily: SQLite users never load it.
    const pg = await import('../../prisma/generated/postgresql/client.ts');
    prisma = new pg.PrismaClient({ adapter: countingFactory(factory, counter), transactionOptions }) as unknown as PrismaClient;
  }

  await prisma.$connect();
  let closed: Promise<void> | undefined;
  return {
    prisma,
    provider: target.provider,
    url,
    safeUrl: redactUrl(url),
    queryCount: () => counter.count,
    close: () => (closed ??= prisma.$disconnect()),
  };
}
