// Wraps a Prisma driver adapter factory so that every SQL statement sent to the database is
// counted, on SQLite and PostgreSQL alike. N+1 tests read the counter around a request.
// Counting at the adapter (not Prisma's query log) sees exactly what reaches the driver:
// each queryRaw/executeRaw is one statement, a transaction start is one (BEGIN; the adapters
// issue it themselves), and savepoints are one each.
import type {
  IsolationLevel,
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  SqlResultSet,
  Transaction,
} from '@prisma/driver-adapter-utils';

export const SQLITE_MAX_BIND_VALUES = 32_766;

export interface StatementCounter {
  count: number;
}

function countingTransaction(tx: Transaction, counter: StatementCounter): Transaction {
  const wrapped: Transaction = {
    provider: tx.provider,
    adapterName: tx.adapterName,
    options: tx.options,
    queryRaw(query: SqlQuery): Promise<SqlResultSet> {
      counter.count++;
      return tx.queryRaw(query);
    },
    executeRaw(query: SqlQuery): Promise<number> {
      counter.count++;
      return tx.executeRaw(query);
    },
    commit: () => tx.commit(),
    rollback: () => tx.rollback(),
  };
  if (tx.createSavepoint) {
    const create = tx.createSavepoint.bind(tx);
    wrapped.createSavepoint = (name: string) => { counter.count++; return create(name); };
  }
  if (tx.rollbackToSavepoint) {
    const rollbackTo = tx.rollbackToSavepoint.bind(tx);
    wrapped.rollbackToSavepoint = (name: string) => { counter.count++; return rollbackTo(name); };
  }
  if (tx.releaseSavepoint) {
    const release = tx.releaseSavepoint.bind(tx);
    wrapped.releaseSavepoint = (name: string) => { counter.count++; return release(name); };
  }
  return wrapped;
}

export function countingAdapter(adapter: SqlDriverAdapter, counter: StatementCounter): SqlDriverAdapter {
  const wrapped: SqlDriverAdapter = {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw(query: SqlQuery): Promise<SqlResultSet> {
      counter.count++;
      return adapter.queryRaw(query);
    },
    executeRaw(query: SqlQuery): Promise<number> {
      counter.count++;
      return adapter.executeRaw(query);
    },
    executeScript(script: string): Promise<void> {
      counter.count++;
      return adapter.executeScript(script);
    },
    async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
      counter.count++;
      return countingTransaction(await adapter.startTransaction(isolationLevel), counter);
    },
    dispose: () => adapter.dispose(),
  };
  if (adapter.getConnectionInfo) wrapped.getConnectionInfo = adapter.getConnectionInfo.bind(adapter);
  else if (adapter.provider === 'sqlite') {
    // The better-sqlite3 adapter reports no bind limit, so Prisma assumes SQLite's old 999 and
    // refuses relation loads over ~1,000 parents (P2029). better-sqlite3 bundles a SQLite
    // built with the modern default of 32,766 bound parameters.
    wrapped.getConnectionInfo = () => ({ maxBindValues: SQLITE_MAX_BIND_VALUES, supportsRelationJoins: false });
  }
  return wrapped;
}

/**
 * A factory whose connections count statements into `counter`. `prepare` runs on each fresh
 * connection first and may wrap it (session settings it sends are not counted).
 */
export function countingFactory(
  factory: SqlDriverAdapterFactory,
  counter: StatementCounter,
  prepare?: (adapter: SqlDriverAdapter) => Promise<SqlDriverAdapter>,
): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = await factory.connect();
      return countingAdapter(prepare ? await prepare(adapter) : adapter, counter);
    },
  };
}
