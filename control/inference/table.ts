// Reading the inference table: DuckDB views over a group's Parquet files (rows) and label
// files (latest label per client request id + row index wins), joined. Every query module
// (rows, labels, quality) goes through `withTable`, so the join rule lives in one place.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ObjectInfo, ObjectStore } from '../../platform/objectstore/port.ts';
import { str, strList, withDuck } from './duck.ts';
import { groupTablePrefix, labelsPrefix } from './layout.ts';
import type { LocalMirror } from './mirror.ts';

export const LABEL_COLUMNS = "{'client_request_id': 'VARCHAR', 'row_index': 'INTEGER', 'label': 'VARCHAR', 'label_class': 'VARCHAR', 'label_num': 'DOUBLE', 'seq': 'BIGINT'}";

export interface TableViews {
  conn: DuckDBConnection;
  /** false when the group has no rows yet (the views exist, empty) */
  hasRows: boolean;
  files: ObjectInfo[];
  /** the label files `t_labels` reads */
  labelFiles: ObjectInfo[];
}

/** SQL for a numeric text's canonical class key (1.0 → '1'), matching records.ts classKey for numbers. */
export const canonicalClassSql = (text: string, num: string): string =>
  `CASE WHEN ${num} IS NOT NULL AND ${num} = trunc(${num}) AND abs(${num}) < 1e15 THEN CAST(CAST(${num} AS BIGINT) AS VARCHAR) WHEN ${num} IS NOT NULL THEN CAST(${num} AS VARCHAR) ELSE ${text} END`;

export class TableReader {
  constructor(
    private readonly store: ObjectStore,
    private readonly mirror: LocalMirror,
  ) {}

  async dataFiles(group: string): Promise<ObjectInfo[]> {
    return (await this.store.list(groupTablePrefix(group))).filter((o) => o.key.endsWith('.parquet'));
  }

  async labelFiles(group: string): Promise<ObjectInfo[]> {
    return (await this.store.list(labelsPrefix(group))).filter((o) => o.key.endsWith('.parquet'));
  }

  /**
   * Runs `fn` with temp views `t_rows` (the table), `t_labels` (latest label per key) and
   * `t` — the rows left-joined with labels (label, label_class, label_num). Views, not
   * tables: a query that reads no labels (drift, service quality) never pays for them, and
   * one that does reads them once, with only the columns it uses.
   */
  async withTable<T>(group: string, fn: (v: TableViews) => Promise<T>): Promise<T> {
    const files = await this.dataFiles(group);
    const labelFiles = await this.labelFiles(group);
    const rowPaths = await this.mirror.paths(files);
    const labelPaths = await this.mirror.paths(labelFiles);
    return withDuck(async (conn) => {
      if (rowPaths.length) {
        await conn.run(
          `CREATE OR REPLACE TEMP VIEW t_rows AS SELECT * FROM read_parquet(${strList(rowPaths)}, hive_partitioning=true, union_by_name=true, ` +
            `hive_types={'group': 'VARCHAR', 'version': 'VARCHAR', 'dt': 'VARCHAR'})`,
        );
      } else {
        await conn.run(
          `CREATE OR REPLACE TEMP VIEW t_rows AS SELECT NULL::VARCHAR AS request_id, NULL::VARCHAR AS client_request_id, NULL::INTEGER AS row_index, NULL::TIMESTAMPTZ AS "time", ` +
            `NULL::INTEGER AS status, NULL::DOUBLE AS latency_ms, NULL::VARCHAR AS error, NULL::BOOLEAN AS shadow, NULL::VARCHAR AS prediction, NULL::VARCHAR AS prediction_class, ` +
            `NULL::DOUBLE AS prediction_num, NULL::DOUBLE[] AS probabilities, NULL::VARCHAR AS "group", NULL::VARCHAR AS version, NULL::VARCHAR AS dt WHERE false`,
        );
      }
      if (labelPaths.length) {
        await conn.run(
          `CREATE OR REPLACE TEMP VIEW t_labels AS SELECT client_request_id, row_index, max_by(label, seq) AS label, max_by(label_class, seq) AS label_class, max_by(label_num, seq) AS label_num, max(seq) AS seq ` +
            `FROM read_parquet(${strList(labelPaths)}, union_by_name=true) GROUP BY client_request_id, row_index`,
        );
      } else {
        await conn.run(`CREATE OR REPLACE TEMP VIEW t_labels AS SELECT NULL::VARCHAR AS client_request_id, NULL::INTEGER AS row_index, NULL::VARCHAR AS label, NULL::VARCHAR AS label_class, NULL::DOUBLE AS label_num, NULL::BIGINT AS seq WHERE false`);
      }
      await conn.run(
        `CREATE OR REPLACE TEMP VIEW t AS SELECT r.*, l.label, l.label_class, l.label_num FROM t_rows r ` +
          `LEFT JOIN t_labels l ON r.client_request_id = l.client_request_id AND r.row_index = l.row_index`,
      );
      return fn({ conn, hasRows: rowPaths.length > 0, files, labelFiles });
    });
  }
}

/** A time window as a SQL condition on the `time` column. */
export function windowSql(from?: Date | null, to?: Date | null): string {
  const parts = ['true'];
  if (from) parts.push(`"time" >= ${str(from.toISOString())}::TIMESTAMPTZ`);
  if (to) parts.push(`"time" < ${str(to.toISOString())}::TIMESTAMPTZ`);
  return parts.join(' AND ');
}
