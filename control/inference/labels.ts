// Ground truth for the inference table. Labels arrive by client request id (+ row index,
// default 0), in small batches (submitLabels) or as a CSV / JSON-lines file in the object
// store (importLabels). Every submission is stored as one Parquet file under
// inference-table/_labels/group={g}/ with a sequence number; the table reads the latest
// label per key, so late labels, relabels and resubmissions are idempotent. Labels whose
// ids are not (yet) in the table are kept (their rows may still be on the way) and
// reported back to the caller.
// Compaction: once a group has more than `compactAfterFiles` label files, they are merged
// into one (the latest label per key, keeping its seq, so a later submission still wins).
// Crash-safe and idempotent by order: the merged file is stored first, the merged inputs
// are deleted after; a crash in between leaves duplicates with equal seq and equal values,
// which read the same, and the next compaction merges them. Files stored meanwhile are not
// among the inputs and are kept.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import { badInput, notFound } from '../../platform/errors.ts';
import { query, str, toNum } from './duck.ts';
import { labelsPrefix } from './layout.ts';
import { classKey } from './records.ts';
import { canonicalClassSql, type TableReader } from './table.ts';

export interface LabelInput {
  clientRequestId: string;
  rowIndex?: number | null;
  label: unknown;
}

export interface LabelKey {
  clientRequestId: string;
  rowIndex: number;
}

export interface LabelReport {
  /** table rows that carry one of these labels now */
  labelled: number;
  received: number;
  /** labels whose client request id + row index is not in the table (first 100) */
  unknown: LabelKey[];
  unknownCount: number;
  key: string;
}

export type LabelFileFormat = 'CSV' | 'JSONL';

const MAX_BATCH = 10_000;
let seqCounter = 0;
/** Orders submissions: later wins, also within one millisecond of one process. */
const nextSeq = (): number => Date.now() * 1000 + (seqCounter = (seqCounter + 1) % 1000);

export interface LabelsOptions {
  /** merge a group's label files once there are more than this many (default 64) */
  compactAfterFiles?: number;
}

const stamp = (): string => new Date().toISOString().replace(/[:.]/g, '');

export class Labels {
  private readonly compactAfter: number;

  constructor(
    private readonly store: ObjectStore,
    private readonly table: TableReader,
    private readonly workDir: string,
    options: LabelsOptions = {},
  ) {
    this.compactAfter = options.compactAfterFiles ?? 64;
  }

  /**
   * Merges the group's label files into one when there are more than the threshold (or
   * always with `force`); returns how many files were merged (0: nothing to do).
   */
  async compact(group: string, force = false): Promise<number> {
    const dir = mkdtempSync(join(this.workDir, 'labels-compact-'));
    try {
      return await this.table.withTable(group, async ({ conn, labelFiles }) => {
        if (labelFiles.length < 2 || (!force && labelFiles.length <= this.compactAfter)) return 0;
        const out = join(dir, 'labels.parquet');
        await conn.run(`COPY (SELECT client_request_id, row_index, label, label_class, label_num, seq FROM t_labels ORDER BY client_request_id, row_index) TO ${str(out)} (FORMAT parquet, COMPRESSION zstd)`);
        // 1. the merged file, 2. only then the inputs it holds
        await this.store.put(`${labelsPrefix(group)}labels-${stamp()}-compact-${randomBytes(4).toString('hex')}.parquet`, await readFile(out), 'application/vnd.apache.parquet');
        for (const f of labelFiles) await this.store.delete(f.key);
        return labelFiles.length;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Compacts after a submission when the threshold is passed; the submission stands even if that fails. */
  private async compactLater(group: string): Promise<void> {
    try {
      await this.compact(group);
    } catch {
      // the labels are stored; the next submission tries again
    }
  }

  async submit(group: string, labels: readonly LabelInput[]): Promise<LabelReport> {
    if (labels.length === 0) throw badInput('labels is empty', { field: 'labels' });
    if (labels.length > MAX_BATCH) throw badInput(`at most ${MAX_BATCH} labels per call; import a file for more`, { field: 'labels' });
    const seq = nextSeq();
    const lines: string[] = [];
    labels.forEach((l, i) => {
      if (typeof l.clientRequestId !== 'string' || l.clientRequestId === '') throw badInput(`labels[${i}].clientRequestId must be a non-empty string`, { field: 'labels' });
      const rowIndex = l.rowIndex ?? 0;
      if (!Number.isInteger(rowIndex) || rowIndex < 0) throw badInput(`labels[${i}].rowIndex must be a non-negative integer`, { field: 'labels' });
      if (l.label === null || l.label === undefined) throw badInput(`labels[${i}].label is required`, { field: 'labels' });
      const num = typeof l.label === 'number' && Number.isFinite(l.label) ? l.label : null;
      lines.push(JSON.stringify({ client_request_id: l.clientRequestId, row_index: rowIndex, label: JSON.stringify(l.label), label_class: classKey(l.label), label_num: num, seq }));
    });
    const dir = mkdtempSync(join(this.workDir, 'labels-'));
    try {
      const src = join(dir, 'labels.ndjson');
      writeFileSync(src, lines.join('\n') + '\n');
      const report = await this.store_(group, dir, `SELECT * FROM read_json(${str(src)}, format='newline_delimited', columns={'client_request_id': 'VARCHAR', 'row_index': 'INTEGER', 'label': 'VARCHAR', 'label_class': 'VARCHAR', 'label_num': 'DOUBLE', 'seq': 'BIGINT'})`, labels.length);
      await this.compactLater(group);
      return report;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Imports a label file from the object store: columns client_request_id, label and optionally row_index. */
  async importFile(group: string, key: string, format: LabelFileFormat): Promise<LabelReport> {
    let body: Buffer;
    try {
      body = (await this.store.get(key)).body;
    } catch (err) {
      if ((err as { code?: string }).code === 'OBJECT_NOT_FOUND') throw notFound(`no object ${key} in the store`);
      throw err;
    }
    const dir = mkdtempSync(join(this.workDir, 'label-import-'));
    try {
      const src = join(dir, format === 'CSV' ? 'labels.csv' : 'labels.ndjson');
      writeFileSync(src, body);
      const seq = nextSeq();
      const read =
        format === 'CSV'
          ? `SELECT * FROM read_csv(${str(src)}, header=true, all_varchar=true, auto_detect=true)`
          : `SELECT client_request_id, row_index, CASE WHEN json_type(label) = 'VARCHAR' THEN label->>'$' ELSE CAST(label AS VARCHAR) END AS label, label AS label_json ` +
            `FROM read_json(${str(src)}, format='newline_delimited', columns={'client_request_id': 'VARCHAR', 'row_index': 'VARCHAR', 'label': 'JSON'})`;
      const report = await this.table.withTable(group, async ({ conn }) => {
        try {
          await conn.run(`CREATE OR REPLACE TEMP TABLE imp AS SELECT row_number() OVER () AS line, * FROM (${read})`);
        } catch (err) {
          throw badInput(`label file ${key} could not be read as ${format}: ${(err as Error).message.split('\n')[0]}`, { field: 'key', reason: 'BAD_LABEL_FILE' });
        }
        const cols = (await query(conn, `SELECT column_name FROM (DESCRIBE imp)`)).map((r) => String(r.column_name));
        for (const need of ['client_request_id', 'label']) {
          if (!cols.includes(need)) throw badInput(`label file ${key} has no column ${need} (columns: ${cols.join(', ')})`, { field: 'key', reason: 'BAD_LABEL_FILE' });
        }
        const rowIndex = cols.includes('row_index') ? 'row_index' : 'NULL';
        const bad = await query(
          conn,
          `SELECT line, client_request_id, ${rowIndex} AS row_index, label FROM imp WHERE client_request_id IS NULL OR client_request_id = '' OR label IS NULL OR ` +
            `(${rowIndex} IS NOT NULL AND (TRY_CAST(${rowIndex} AS INTEGER) IS NULL OR TRY_CAST(${rowIndex} AS INTEGER) < 0)) ORDER BY line LIMIT 5`,
        );
        if (bad.length) {
          const b = bad[0] as Record<string, unknown>;
          throw badInput(
            `label file ${key}: data row ${String(b.line)} is not valid (client_request_id ${JSON.stringify(b.client_request_id)}, row_index ${JSON.stringify(b.row_index)}, label ${JSON.stringify(b.label)}): ` +
              'client_request_id and label are required, row_index must be a non-negative integer',
            { field: 'key', reason: 'BAD_LABEL_FILE' },
          );
        }
        const labelJson = format === 'CSV' ? `to_json(label)::VARCHAR` : 'CAST(label_json AS VARCHAR)';
        await conn.run(
          `CREATE OR REPLACE TEMP TABLE new_labels AS SELECT client_request_id, COALESCE(TRY_CAST(${rowIndex} AS INTEGER), 0) AS row_index, ` +
            `${format === 'CSV' ? `CASE WHEN TRY_CAST(label AS DOUBLE) IS NOT NULL THEN CAST(TRY_CAST(label AS DOUBLE) AS VARCHAR) ELSE ${labelJson} END` : labelJson} AS label, ` +
            `${canonicalClassSql('label', 'TRY_CAST(label AS DOUBLE)')} AS label_class, TRY_CAST(label AS DOUBLE) AS label_num, ${seq}::BIGINT AS seq FROM imp`,
        );
        return this.writeAndReport(conn, group, dir);
      });
      await this.compactLater(group);
      return report;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async store_(group: string, dir: string, select: string, received: number): Promise<LabelReport> {
    return this.table.withTable(group, async ({ conn }) => {
      await conn.run(`CREATE OR REPLACE TEMP TABLE new_labels AS ${select}`);
      const report = await this.writeAndReport(conn, group, dir);
      return { ...report, received };
    });
  }

  /** Writes `new_labels` as a label file and counts what it labels in the table (the caller opened the table views). */
  private async writeAndReport(conn: DuckDBConnection, group: string, dir: string): Promise<LabelReport> {
    const out = join(dir, 'labels.parquet');
    await conn.run(`COPY (SELECT client_request_id, row_index, label, label_class, label_num, seq FROM new_labels) TO ${str(out)} (FORMAT parquet)`);
    const key = `${labelsPrefix(group)}labels-${stamp()}-${randomBytes(4).toString('hex')}.parquet`;
    await this.store.put(key, await readFile(out), 'application/vnd.apache.parquet');
    const [counts] = await query(
      conn,
      `SELECT (SELECT count(*) FROM new_labels) AS received, ` +
        `(SELECT count(*) FROM t_rows r SEMI JOIN new_labels l ON r.client_request_id = l.client_request_id AND r.row_index = l.row_index) AS labelled, ` +
        `(SELECT count(*) FROM new_labels l ANTI JOIN t_rows r ON r.client_request_id = l.client_request_id AND r.row_index = l.row_index) AS unknown`,
    );
    const unknown = await query(
      conn,
      `SELECT client_request_id, row_index FROM new_labels l ANTI JOIN t_rows r ON r.client_request_id = l.client_request_id AND r.row_index = l.row_index ORDER BY 1, 2 LIMIT 100`,
    );
    return {
      key,
      received: toNum(counts?.received) ?? 0,
      labelled: toNum(counts?.labelled) ?? 0,
      unknownCount: toNum(counts?.unknown) ?? 0,
      unknown: unknown.map((u) => ({ clientRequestId: String(u.client_request_id), rowIndex: Number(u.row_index) })),
    };
  }
}
