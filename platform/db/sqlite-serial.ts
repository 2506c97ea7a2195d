// better-sqlite3 gives Prisma one connection per client. During an interactive transaction
// every other query of the process would run on that same connection, i.e. inside the
// transaction: it would see uncommitted rows and its writes would vanish on rollback (seen).
// This wrapper makes the rest of the process wait while a transaction holds the connection,
// which is what a connection pool gives PostgreSQL. Consequence: inside
// `$transaction(async tx => …)` use `tx`, never the outer client, or the query waits for the
// transaction's timeout.
import type { IsolationLevel, SqlDriverAdapter, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';

/** A FIFO lock: `acquire()` resolves to its release function. */
class Lock {
  #tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return ready;
  }
}

function releasingTransaction(tx: Transaction, release: () => void): Transaction {
  let released = false;
  const done = () => {
    if (!released) {
      released = true;
      release();
    }
  };
  const wrapped: Transaction = {
    provider: tx.provider,
    adapterName: tx.adapterName,
    options: tx.options,
    queryRaw: (q: SqlQuery) => tx.queryRaw(q),
    executeRaw: (q: SqlQuery) => tx.executeRaw(q),
    commit: () => tx.commit().finally(done),
    rollback: () => tx.rollback().finally(done),
  };
  if (tx.createSavepoint) wrapped.createSavepoint = tx.createSavepoint.bind(tx);
  if (tx.rollbackToSavepoint) wrapped.rollbackToSavepoint = tx.rollbackToSavepoint.bind(tx);
  if (tx.releaseSavepoint) wrapped.releaseSavepoint = tx.releaseSavepoint.bind(tx);
  return wrapped;
}

/**
 * better-sqlite3 answers synchronously, so statements issued back to back — one GraphQL
 * operation's eight aliases, each a query and its relations — run, with Prisma's mapping of
 * their rows, as one unbroken chain of microtasks: nothing else on the event loop (the
 * control plane's /healthz, other callers) gets a turn until the chain ends. Measured on
 * `npm start`: eight aliases of fifty groups with their versions held the loop ~100 ms.
 * So a statement that would start after the loop has been held for `sliceMs` first waits for
 * one turn (setImmediate: pending I/O runs first). Below the slice it starts at once.
 */
export class LoopTurns {
  private lastTurn = 0;
  private marked = false;

  constructor(private readonly sliceMs: number) {}

  /** Resolves at once, or after one turn of the loop when it has been held for the slice. */
  turn(): Promise<void> | null {
    const now = performance.now();
    if (!this.marked) {
      // no mark pending: the loop turned since the last statement, this task started recently
      this.lastTurn = now;
      this.marked = true;
      setImmediate(() => {
        this.marked = false;
      });
      return null;
    }
    if (now - this.lastTurn < this.sliceMs) return null;
    return new Promise((resolve) => setImmediate(resolve));
  }
}

export function serializedAdapter(adapter: SqlDriverAdapter, turns: LoopTurns = new LoopTurns(5)): SqlDriverAdapter {
  const lock = new Lock();
  async function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const release = await lock.acquire();
    try {
      const wait = turns.turn();
      if (wait) await wait;
      return await work();
    } finally {
      release();
    }
  }
  const wrapped: SqlDriverAdapter = {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (q: SqlQuery) => exclusive(() => adapter.queryRaw(q)),
    executeRaw: (q: SqlQuery) => exclusive(() => adapter.executeRaw(q)),
    executeScript: (s: string) => exclusive(() => adapter.executeScript(s)),
    async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
      const release = await lock.acquire();
      try {
        return releasingTransaction(await adapter.startTransaction(isolationLevel), release);
      } catch (err) {
        release();
        throw err;
      }
    },
    dispose: () => adapter.dispose(),
  };
  if (adapter.getConnectionInfo) wrapped.getConnectionInfo = adapter.getConnectionInfo.bind(adapter);
  return wrapped;
}
