// The embedded database answers synchronously: statements issued back to back (one GraphQL
// operation's aliases and their relations) would hold the control plane's event loop for
// their whole chain. The serialized SQLite adapter gives the loop a turn between statements
// once it has been held for the slice, and starts a statement at once otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import { serializedAdapter } from '../../platform/db/sqlite-serial.ts';

// a statement that keeps SQLite busy for a millisecond or few
const SLOW = { sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) AS n FROM c', args: [], argTypes: [] };

/** Runs `count` statements back to back and returns the longest the loop went without a turn. */
async function longestHold(db: SqlDriverAdapter, count: number): Promise<number> {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const probe = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(probe);
  };
  setImmediate(probe);
  for (let i = 0; i < count; i++) await db.queryRaw(SLOW);
  running = false;
  const now = performance.now();
  return Math.max(longest, now - last);
}

describe('SQLite statements and the event loop', () => {
  let dir: string;
  let raw: SqlDriverAdapter;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-turns-'));
    raw = await new PrismaBetterSqlite3({ url: join(dir, 'turns.db') }).connect();
  });

  afterAll(async () => {
    await raw.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the loop a turn between back-to-back statements once it has been held for the slice', async () => {
    const unbroken = await longestHold(raw, 30);
    const yielding = await longestHold(serializedAdapter(raw), 30);
    // without the turns the chain is one stretch; with them, a slice and a statement at most
    expect(yielding).toBeLessThan(unbroken / 3);
  });

  it('starts a statement at once when the loop has not been held', async () => {
    const db = serializedAdapter(raw);
    const order: string[] = [];
    setImmediate(() => order.push('turn'));
    const answered = db.queryRaw({ sql: 'SELECT 1 AS one', args: [], argTypes: [] }).then((r) => {
      order.push('statement');
      return r;
    });
    await answered;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['statement', 'turn']);
  });
});
