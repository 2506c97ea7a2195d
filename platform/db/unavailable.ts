// Recognises "the database cannot be reached right now" among the errors a query can end
// with — PostgreSQL stopped, frozen or restarting: a refused or reset connection, a connect
// or query that ran past the pool's timeouts (url.ts pgPoolConfig), or Prisma's codes for
// the same — so callers answer a stable DATABASE_UNAVAILABLE (a retryable condition) instead
// of an internal error or a hang. Errors are walked through their `cause` chain and Prisma's
// driver-adapter metadata, since each layer wraps the one below.

/** Prisma's codes for an unreachable or timed-out database (P1001 can't reach, P1002/P1008 timed out, P1017 closed, P2024 pool timeout). */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** The driver adapter's error kinds for the same. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
/** node-postgres's own messages: query_timeout, connectionTimeoutMillis, a connection that died under a query */
const PG_MESSAGES = /Query read timeout|timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = error;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null && !seen.has(e); depth++) {
    seen.add(e);
    const o = e as { code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
    if (typeof o.code === 'string' && (PRISMA_CODES.has(o.code) || SOCKET_CODES.has(o.code))) return true;
    if (typeof o.kind === 'string' && ADAPTER_KINDS.has(o.kind)) return true;
    if (typeof o.message === 'string' && PG_MESSAGES.test(o.message)) return true;
    e = o.meta?.driverAdapterError ?? o.cause;
  }
  return false;
}

export const DATABASE_UNAVAILABLE_MESSAGE = 'the database is unavailable right now; try again shortly';
