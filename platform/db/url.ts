// Reads DATABASE_URL: which provider it selects and how to reach it. `file:` is SQLite (path
// relative to the working directory, as Prisma reads it), `postgres://`/`postgresql://` is
// PostgreSQL (an optional `?schema=` picks the PostgreSQL schema, as in Prisma's own URLs).
import { resolve } from 'node:path';
import { DatabaseError } from './errors.ts';

export type Provider = 'sqlite' | 'postgresql';

export type DatabaseTarget =
  | { provider: 'sqlite'; /** absolute file path */ path: string }
  | { provider: 'postgresql'; connectionString: string; schema: string | undefined };

export function parseDatabaseUrl(url: string): DatabaseTarget {
  const trimmed = url.trim();
  if (trimmed.startsWith('file:')) {
    // Prisma-style SQLite URLs may carry `?connection_limit=…` and similar: not part of the path.
    const path = trimmed.slice('file:'.length).replace(/^\/\/(?=\/)/, '').split('?')[0] ?? '';
    if (path === '' || path === ':memory:') {
      throw new DatabaseError('DB_URL_UNSUPPORTED', 'DATABASE_URL file: needs a file path (in-memory SQLite cannot be shared by the migrator and the client)');
    }
    return { provider: 'sqlite', path: resolve(path) };
  }
  if (/^postgres(ql)?:\/\//.test(trimmed)) {
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch {
      throw new DatabaseError('DB_URL_UNSUPPORTED', `DATABASE_URL is not a valid PostgreSQL URL: ${redactUrl(trimmed)}`);
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new DatabaseError('DB_URL_UNSUPPORTED', `DATABASE_URL ?schema= must be a plain PostgreSQL identifier (got "${schema}")`);
    }
    parsed.searchParams.delete('schema');
    return { provider: 'postgresql', connectionString: parsed.toString(), schema };
  }
  throw new DatabaseError('DB_URL_UNSUPPORTED', `DATABASE_URL must start with file:, postgres:// or postgresql:// (got ${redactUrl(trimmed)})`);
}

/** How long a new connection may take (the TCP connect and PostgreSQL's startup). */
export const PG_CONNECT_TIMEOUT_MS = 3_000;
/**
 * How long one statement may wait for its answer on the control plane's pool. Its queries are
 * small; a longer wait means the server is gone, and the connection is dropped (pg-pool
 * discards a client whose query failed). Migrations run without it.
 */
export const PG_QUERY_TIMEOUT_MS = 5_000;

export interface PgTimeouts {
  connectMs?: number;
  /** unset: no client-side statement timeout */
  queryMs?: number;
}

/**
 * pg pool settings for a target: a `?schema=` becomes the session's search_path, so that
 * unqualified SQL (migrations, the `_prisma_migrations` table, raw queries) lands in it, as
 * with Prisma's native engine.
 */
export function pgPoolConfig(target: Extract<DatabaseTarget, { provider: 'postgresql' }>, max: number, timeouts: PgTimeouts = {}) {
  return {
    connectionString: target.connectionString,
    max,
    // a server that stops answering (frozen, a network partition) accepts connections and
    // then says nothing: without these a call would wait for ever (unavailable.ts maps them)
    connectionTimeoutMillis: timeouts.connectMs ?? PG_CONNECT_TIMEOUT_MS,
    ...(timeouts.queryMs ? { query_timeout: timeouts.queryMs } : {}),
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  };
}

/** The URL with any password replaced, safe to print. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]+):[^@/]*@/i, '$1:***@');
}
