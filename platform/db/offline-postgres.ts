// A PostgreSQL "connection" for the schema engine that reaches no server. Diffing one
// datamodel against another needs no database, but the engine still probes the server
// version when it opens; this answers that probe (as a PostgreSQL 16 server would) and
// refuses every other statement, so that `db:migration` works offline and can never touch a
// real database by accident.
import {
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
} from '@prisma/driver-adapter-utils';

const ASSUMED_SERVER = { version: 'PostgreSQL 16.0 (offline diff)', numeric: 160000 };

function refuse(what: string): never {
  throw new Error(`offline PostgreSQL diff: ${what} needs a real database`);
}

function offlineAdapter(): SqlDriverAdapter {
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
      if (query.sql.includes("current_setting('server_version_num')")) {
        return {
          columnNames: ['exists', 'version', 'numeric_version'],
          columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
          rows: [[true, ASSUMED_SERVER.version, ASSUMED_SERVER.numeric]],
        };
      }
      return refuse(`query ${query.sql.slice(0, 80)}`);
    },
    executeRaw: async (query: SqlQuery) => refuse(`statement ${query.sql.slice(0, 80)}`),
    executeScript: async () => refuse('a script'),
    startTransaction: async () => refuse('a transaction'),
    getConnectionInfo: () => ({ schemaName: 'public', supportsRelationJoins: true }),
    dispose: async () => undefined,
  };
}

export function offlinePostgresFactory(): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: async () => offlineAdapter(),
    connectToShadowDb: async () => offlineAdapter(),
  };
}
