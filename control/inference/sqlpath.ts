// The table job's fast path: DuckDB reads many log objects at once (one read_json over a
// list of gzipped NDJSON files), turns each record into one row per input row and writes
// the batch's Parquet files, partitioned by date, in one COPY per version. It takes only
// what it can turn into exactly the rows records.ts would make — MLflow `dataframe_split`
// requests whose columns are the version's all-numeric signature, numeric predictions,
// refused and uncaptured requests, ISO UTC timestamps — and decides per object: an object
// with any other record (or that DuckDB cannot read, or whose gzip does not verify) goes
// whole to the record-by-record path in records.ts, which knows every format and
// quarantines what is bad. So the SQL never has to be right about a bad record: it only
// has to recognise the good ones.
import { createReadStream } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ModelSignature } from '../../platform/model-signature.ts';
import { ident, query, str, strList, toNum } from './duck.ts';
import { DUCK_TYPES, FIXED_COLUMNS, featureColumn } from './records.ts';
import type { VersionModel } from './signatures.ts';

export interface FastObject {
  records: number;
  rows: number;
  versions: string[];
}

export interface FastFile {
  /** local Parquet file */
  path: string;
  version: string;
  dt: string;
  rows: number;
}

const NUMERIC = new Set(['double', 'float', 'int', 'long']);
/** The versions whose answered requests the SQL can type: every input numeric. */
export const sqlSignature = (model: VersionModel | undefined): ModelSignature | null =>
  model?.signature && model.signature.inputs.length > 0 && model.signature.inputs.every((c) => NUMERIC.has(c.type)) ? model.signature : null;

const RECORD_COLUMNS = ['request_id', 'client_request_id', 'group', 'version', 'timestamp', 'status_code', 'latency_ms', 'error', 'request', 'response', 'request_truncated', 'shadow', 'protocol'];
const ABSENT_ERROR = 'request body not captured (truncated or absent): features unknown';
/** A number or null as DuckDB's json_extract writes it (minified; infinities would be words). */
const JSON_NUMBER = String.raw`(-?\d+(\.\d+)?([eE][-+]?\d+)?|null)`;
/** Minified JSON rows of exactly `n` numbers (or nulls) each: checked as text, without a parse. */
const numberRows = (n: number): string => {
  const row = String.raw`\[${JSON_NUMBER}(,${JSON_NUMBER}){${n - 1}}\]`;
  return String.raw`\[(${row}(,${row})*)?\]`;
};
const NUMBER_LIST = String.raw`\[[^\[\]"{}tf]*\]`;
const INT_LIMIT: Record<string, string> = { int: '2147483647', long: '9223372036854774784' };

/** How a prediction number prints in JavaScript (String(n)), for the numbers where DuckDB agrees. */
const jsNumberText = (p: string): string =>
  `CASE WHEN ${p} = trunc(${p}) AND abs(${p}) < 1e15 THEN CAST(CAST(${p} AS BIGINT) AS VARCHAR) ELSE CAST(${p} AS VARCHAR) END`;
/** Numbers jsNumberText prints as JavaScript does: integers below 1e15, others in [1e-4, 1e15). */
const jsPrintable = (p: string): string => `(isfinite(${p}) AND abs(${p}) < 1e15 AND (${p} = trunc(${p}) OR abs(${p}) >= 1e-4))`;

const KIND = `CASE WHEN status < 200 OR status >= 300 THEN 'refused' WHEN truncated OR req IS NULL THEN 'absent' ELSE 'rows' END`;

/**
 * One row per record: its fields as records.ts reads them, its kind (refused, absent: no
 * features; rows: one row per input row), the request's columns (`cols`), its data as
 * DOUBLE[][] and the predictions as DOUBLE[]. For the classify pass (`check`) also the
 * request's data as minified JSON text (`dtext`), which the checks read without parsing
 * it twice; the write pass only reads records that passed, so it parses each body once,
 * straight into typed lists.
 */
function recordsSql(paths: readonly string[], check: boolean): string {
  const columns = `{${RECORD_COLUMNS.map((c) => `${str(c)}: 'JSON'`).join(', ')}}`;
  const isStr = (c: string): string => `coalesce(json_type(${ident(c)}) = 'VARCHAR', false)`;
  const isTrue = (c: string): string => `coalesce(json_type(${ident(c)}) = 'BOOLEAN' AND ${ident(c)}::VARCHAR = 'true', false)`;
  const r0 =
    `SELECT filename AS f, ` +
    `${isStr('request_id')} AND ${isStr('group')} AND ${isStr('version')} AND ${isStr('timestamp')} AND coalesce(json_type(status_code) IN ('UBIGINT', 'BIGINT'), false) AS shaped, ` +
    `json_extract_string(request_id, '$') AS rid, json_extract_string("group", '$') AS grp, json_extract_string(version, '$') AS ver, json_extract_string("timestamp", '$') AS ts, TRY_CAST(json_extract_string(status_code, '$') AS INTEGER) AS status, ` +
    `CASE WHEN ${isStr('client_request_id')} THEN json_extract_string(client_request_id, '$') END AS crid, ` +
    `CASE WHEN json_type(latency_ms) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(json_extract_string(latency_ms, '$') AS DOUBLE) END AS latency, ` +
    `CASE WHEN ${isStr('error')} THEN json_extract_string(error, '$') END AS err, ${isTrue('shadow')} AS shadow_b, ${isTrue('request_truncated')} AS truncated, ` +
    `${isStr('protocol')} AND json_extract_string(protocol, '$') = 'oip' AS oip, ` +
    `CASE WHEN ${isStr('request')} THEN json_extract_string(request, '$') END AS req, CASE WHEN ${isStr('response')} THEN json_extract_string(response, '$') END AS resp ` +
    `FROM read_json(${strList(paths)}, format='newline_delimited', records=true, filename=true, columns=${columns})`;
  if (!check) {
    const body = `json_transform(req, '{"dataframe_split": {"columns": ["VARCHAR"], "data": [["DOUBLE"]]}}').dataframe_split`;
    return (
      `SELECT *, b.columns AS cols, b.data AS data FROM (SELECT *, CASE WHEN kind = 'rows' THEN ${body} END AS b, ` +
      `CASE WHEN kind = 'rows' AND resp IS NOT NULL THEN json_transform(resp, '{"predictions": ["DOUBLE"]}').predictions END AS preds ` +
      `FROM (SELECT *, ${KIND} AS kind FROM (${r0})))`
    );
  }
  const r1 =
    `SELECT *, ${KIND} AS kind, ` +
    `CASE WHEN status BETWEEN 200 AND 299 AND NOT truncated AND req IS NOT NULL AND NOT oip AND starts_with(req, '{') ` +
    `THEN json_extract(req, ['$.dataframe_split.columns', '$.dataframe_split.data']) END AS split, ` +
    `CASE WHEN resp IS NOT NULL AND json_valid(resp) THEN json_extract(resp, '$.predictions') END AS pj FROM (${r0})`;
  const r2 =
    `SELECT *, CASE WHEN json_type(split[1]) = 'ARRAY' THEN split[1]::JSON[] END AS colsj, ` +
    `split[2]::VARCHAR AS dtext, ` +
    // rows of numbers (the classify pass checks their text first; only the write pass needs the values)
    `CASE WHEN json_type(split[2]) = 'ARRAY' THEN json_transform(split[2], '[["DOUBLE"]]')::DOUBLE[][] END AS data, ` +
    `CASE WHEN json_type(pj) = 'ARRAY' AND regexp_full_match(pj::VARCHAR, ${str(NUMBER_LIST)}) THEN json_transform(pj, '["DOUBLE"]')::DOUBLE[] END AS preds FROM (${r1})`;
  return `SELECT *, list_transform(colsj, lambda x: json_extract_string(x, '$')) AS cols FROM (${r2})`;
}

/** Rows in a data text that passed numberRows: its '[' less the outer one (only meaningful for taken records). */
const ROW_COUNT = `coalesce(strlen(dtext) - strlen(replace(dtext, '[', '')) - 1, 0)`;

const all = (list: string, lambda: string): string => `coalesce(list_bool_and(list_transform(${list}, ${lambda})), true)`;

/** The condition under which a 'rows' record of a version with this signature is taken. */
function rowsOk(signature: ModelSignature): string {
  const names = signature.inputs.map((c) => c.name);
  const n = names.length;
  const parts = [
    'split IS NOT NULL',
    'colsj IS NOT NULL',
    all('colsj', `lambda x: json_type(x) = 'VARCHAR'`),
    `list_sort(cols) = ${strList([...names].sort())}::VARCHAR[]`,
    `regexp_full_match(dtext, ${str(numberRows(n))})`,
  ];
  signature.inputs.forEach((c) => {
    const limit = INT_LIMIT[c.type];
    if (!limit) return;
    const v = `r[list_position(cols, ${str(c.name)})]`;
    parts.push(all('data', `lambda r: ${v} IS NULL OR (${v} = trunc(${v}) AND abs(${v}) <= ${limit})`));
  });
  // a response that is not JSON, or answers in another shape (OIP outputs, objects with probabilities), is left to records.ts
  parts.push(`(resp IS NULL OR (preds IS NOT NULL AND ${all('preds', `lambda p: p IS NULL OR ${jsPrintable('p')}`)}))`);
  return parts.join(' AND ');
}

/** Whether a record becomes exactly the rows records.ts would make of it. */
function fastSql(group: string, models: Map<string, VersionModel>): string {
  const cases = [...models.values()]
    .map((m) => [m.name, sqlSignature(m)] as const)
    .filter((e): e is readonly [string, ModelSignature] => e[1] !== null)
    .map(([name, sig]) => `WHEN ${str(name)} THEN ${rowsOk(sig)}`);
  const rows = cases.length ? `CASE ver ${cases.join(' ')} ELSE false END` : 'false';
  return (
    `shaped AND rid <> '' AND grp = ${str(group)} AND ver <> '' AND status IS NOT NULL ` +
    String.raw`AND regexp_full_match(ts, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z') ` +
    `AND strftime(TRY_CAST(substr(ts, 1, 19) AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S') = substr(ts, 1, 19) ` +
    `AND (kind <> 'rows' OR ${rows})`
  );
}

/**
 * Pass 1: per object (local path), its records and rows and whether every record is taken.
 * Throws when DuckDB cannot read one of them (the caller then asks one object at a time).
 */
export async function classify(conn: DuckDBConnection, group: string, models: Map<string, VersionModel>, paths: readonly string[]): Promise<Map<string, FastObject & { fast: boolean }>> {
  const rows = await query(
    conn,
    `SELECT f, count(*) AS records, sum(CASE WHEN kind = 'rows' THEN ${ROW_COUNT} ELSE 1 END) AS nrows, coalesce(bool_and(coalesce(${fastSql(group, models)}, false)), true) AS fast, list(DISTINCT ver) AS versions ` +
      `FROM (${recordsSql(paths, true)}) GROUP BY f`,
  );
  const out = new Map<string, FastObject & { fast: boolean }>();
  for (const r of rows) {
    out.set(String(r.f), { records: toNum(r.records) ?? 0, rows: toNum(r.nrows) ?? 0, fast: r.fast === true, versions: (r.versions as (string | null)[]).filter((v): v is string => v !== null) });
  }
  // an object DuckDB named no row for (no record at all, or a path it spelled differently)
  // is left to the record path: never taken as empty on the strength of an absence
  return out;
}

/**
 * Pass 2: the rows of these objects (all taken by classify) as Parquet files under
 * `outDir`, one COPY per version, partitioned by date. Columns, names and types are those
 * of the record-by-record path, so both kinds of file read as one table.
 */
export async function writeRows(conn: DuckDBConnection, models: Map<string, VersionModel>, versions: Map<string, string[]>, outDir: string): Promise<FastFile[]> {
  const files: FastFile[] = [];
  let v = 0;
  for (const [version, paths] of versions) {
    const model = models.get(version);
    const signature = sqlSignature(model);
    const feature = (c: string): string => `p_${featureColumn(c).replace(/[^A-Za-z0-9_]/g, '_')}_${signature?.inputs.findIndex((s) => s.name === c) ?? 0}`;
    const select: string[] = [
      'rid AS request_id',
      'crid AS client_request_id',
      'i::INTEGER AS row_index',
      'ts::TIMESTAMPTZ AS "time"',
      'status',
      'CASE WHEN isfinite(latency) THEN latency END AS latency_ms',
      `CASE WHEN kind = 'absent' THEN coalesce(err, ${str(ABSENT_ERROR)}) ELSE err END AS error`,
      'shadow_b AS shadow',
      `${jsNumberText('pred')} AS prediction`,
      `${jsNumberText('pred')} AS prediction_class`,
      'pred AS prediction_num',
      'NULL::DOUBLE[] AS probabilities',
    ];
    if (select.length !== FIXED_COLUMNS.length) throw new Error('the SQL path lost track of the fixed columns');
    // each record's positions of the signature's columns, then its rows unnested side by side
    // with their index and prediction (only scalars and one row's list travel with each row)
    const positions: string[] = [];
    if (signature) {
      for (const c of signature.inputs) {
        positions.push(`list_position(cols, ${str(c.name)}) AS ${feature(c.name)}`);
        select.push(`CAST(drow[${feature(c.name)}] AS ${DUCK_TYPES[c.type]}) AS ${ident(featureColumn(c.name))}`);
      }
    } else if (model?.signature) {
      // only refused or uncaptured requests of such a version reach this path
      for (const c of model.signature.inputs) select.push(`NULL::${DUCK_TYPES[c.type]} AS ${ident(featureColumn(c.name))}`);
    } else {
      select.push('NULL::VARCHAR AS features');
    }
    const perRecord = ['rid', 'crid', 'ts', 'status', 'latency', 'err', 'shadow_b', 'kind', ...positions];
    const unnested =
      `SELECT ${['rid', 'crid', 'ts', 'status', 'latency', 'err', 'shadow_b', 'kind', ...(signature ? signature.inputs.map((c) => feature(c.name)) : [])].join(', ')}, ` +
      `unnest(CASE WHEN kind = 'rows' THEN range(len(data)) ELSE [0] END) AS i, ` +
      `unnest(CASE WHEN kind = 'rows' THEN data ELSE [NULL] END) AS drow, ` +
      `unnest(CASE WHEN kind = 'rows' THEN preds[1:len(data)] END) AS pred ` +
      `FROM (SELECT ${perRecord.join(', ')}, data, preds FROM (${recordsSql(paths, false)}) WHERE ver = ${str(version)})`;
    const dir = join(outDir, String(v++));
    await mkdir(dir, { recursive: true });
    await conn.run(
      `COPY (SELECT ${select.join(', ')}, substr(ts, 1, 10) AS dt FROM (${unnested})) TO ${str(dir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt))`,
    );
    const written = (await readdir(dir, { recursive: true })).filter((p) => p.endsWith('.parquet')).sort();
    if (written.length === 0) continue;
    const paths2 = written.map((p) => join(dir, p));
    const counts = await query(conn, `SELECT file_name, num_rows FROM parquet_file_metadata(${strList(paths2)})`);
    const rowsOf = new Map(counts.map((c) => [String(c.file_name), toNum(c.num_rows) ?? 0]));
    for (const p of paths2) {
      const dt = /dt=([^/\\]+)/.exec(relative(dir, p).split(sep)[0] ?? '')?.[1];
      if (!dt) throw new Error(`unexpected partition folder for ${p}`);
      files.push({ path: p, version, dt, rows: rowsOf.get(p) ?? 0 });
    }
  }
  return files;
}

/** Decompresses a gzip file to nowhere: DuckDB reads a gzip whose end is cut off without a word, records.ts does not. */
export async function gzipIntact(path: string): Promise<boolean> {
  try {
    await pipeline(createReadStream(path), createGunzip(), new Writable({ write: (_chunk, _enc, done) => done() }));
    return true;
  } catch {
    return false;
  }
}
