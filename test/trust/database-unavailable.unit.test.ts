// PostgreSQL unreachable → a quick, stable DATABASE_UNAVAILABLE, never a hang: the control
// plane's pool against a server that accepts connections and then says nothing (what a frozen
// or partitioned PostgreSQL looks like; the drill in drill-postgres.test.ts freezes a real
// one) and against a closed port, each through Prisma, then through the GraphQL error
// formatter. A loopback socket server stands in for the silent server.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { createDatabase, isDatabaseUnavailable } from '../../platform/db/index.ts';
import { PG_CONNECT_TIMEOUT_MS } from '../../platform/db/url.ts';
import { formatError } from '../../control/graphql/errors.ts';
import { freePort } from '../fixtures/sluice-process.ts';

describe('database unavailable', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => { sockets.push(s); s.on('error', () => {}); }); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  // as Apollo hands a resolver's error to formatError: wrapped, with a path
  const formatted = (error: unknown) => {
    const wrapped = new GraphQLError('x', { originalError: error as Error, path: ['serviceGroups'] });
    return formatError(wrapped.toJSON(), wrapped, () => {});
  };

  it('a server that accepts and never answers: the query fails within the connect timeout, as DATABASE_UNAVAILABLE', async () => {
    const db = await createDatabase(`postgresql://sluice@127.0.0.1:${silentPort}/sluice`);
    try {
      const t = Date.now();
      const error = await db.prisma.user.findMany().then(() => null, (e: unknown) => e);
      const ms = Date.now() - t;
      expect(error).not.toBeNull();
      expect(ms).toBeLessThan(PG_CONNECT_TIMEOUT_MS * 5); // bounded (a few seconds), not for ever; loose for a loaded machine
      expect(isDatabaseUnavailable(error)).toBe(true);
      const out = formatted(error);
      expect(out.extensions?.code).toBe('DATABASE_UNAVAILABLE');
      expect(out.message).toMatch(/database is unavailable/);
    } finally {
      await db.close();
    }
  }, 30_000);

  it('a closed port (PostgreSQL stopped): DATABASE_UNAVAILABLE', async () => {
    const port = await freePort();
    const db = await createDatabase(`postgresql://sluice@127.0.0.1:${port}/sluice`).catch((e: unknown) => e);
    const error = db instanceof Error || !(typeof db === 'object' && db && 'prisma' in db)
      ? db
      : await (db as Awaited<ReturnType<typeof createDatabase>>).prisma.user.count().then(() => null, (e: unknown) => e);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(formatted(error).extensions?.code).toBe('DATABASE_UNAVAILABLE');
    if (typeof db === 'object' && db && 'close' in db) await (db as { close(): Promise<void> }).close();
  }, 30_000);

  it('other errors are not taken for an outage', () => {
    expect(isDatabaseUnavailable(new Error('unique constraint failed'))).toBe(false);
    expect(isDatabaseUnavailable({ code: 'P2002' })).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(isDatabaseUnavailable(loop)).toBe(false);
    // wrapped: found through the cause chain and Prisma's adapter metadata
    expect(isDatabaseUnavailable(new Error('outer', { cause: new Error('Query read timeout') }))).toBe(true);
    expect(isDatabaseUnavailable({ code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } } })).toBe(true);
  });
});
