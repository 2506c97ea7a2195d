// MLflow's scoring input (`POST /invocations`, and the edge's `/predict`), read as MLflow's
// scoring server reads it (mlflow/pyfunc/scoring_server), in two steps:
//
//   decodeMlflowRequest   content type + bytes → a frame. Needs no model, so the edge runs
//                         it before it spends a backend call, and the runtime runs the very
//                         same code: a body is refused by both or by neither, with one answer.
//   frameRows             frame + signature → rows in the signature's column order, cast
//                         where MLflow casts (needs the signature: the runtime's step).
//
// Accepted: `application/json` (parameter `charset=utf-8` only) with exactly one of
// dataframe_split (columns/data/index), dataframe_records, inputs, instances; `params` and
// any other top-level key ride along (ignored); and `text/csv` with a header row. Extra
// columns are dropped, missing ones are INVALID_PARAMETER_VALUE, as MLflow's schema
// enforcement answers. Row numbers in messages are 0-based positions in the request.
import type { SignatureColumn } from '../model-signature.ts';
import { badCell, castCell, type Cell, type ColumnType } from './cells.ts';
import { parseCsv } from './csv.ts';
import { protocolError } from './errors.ts';

export type { Cell } from './cells.ts';
export type MlflowFormat = 'dataframe_split' | 'dataframe_records' | 'inputs' | 'instances' | 'csv';
export type ScoringContent = 'json' | 'csv';

export const MLFLOW_FORMATS = ['dataframe_split', 'dataframe_records', 'inputs', 'instances'] as const;
const FORMAT_LIST = `{${MLFLOW_FORMATS.map((f) => `'${f}'`).join(', ')}}`;
const REQUIRED_INPUT_FORMAT = `The input must be a JSON dictionary with exactly one of the input fields ${FORMAT_LIST}`;

/** The request's data before any model is consulted. */
export type Frame =
  /** dataframe_split and CSV; columns null when the frame names none (pandas numbers them 0..k-1) */
  | { kind: 'table'; columns: string[] | null; rows: unknown[][] }
  /** dataframe_records, and inputs/instances as a list of objects */
  | { kind: 'records'; records: Record<string, unknown>[] }
  /** inputs/instances as {column: [values]} (scalars broadcast) */
  | { kind: 'columnar'; columns: string[]; lists: unknown[][]; count: number }
  /** inputs/instances as a list of non-objects: one column's values, or unnamed rows */
  | { kind: 'list'; items: unknown[] };

export interface MlflowRequest {
  format: MlflowFormat;
  frame: Frame;
  /** number of rows the frame holds */
  rows: number;
  params?: Record<string, unknown>;
  /** the whole JSON body (null for CSV): the edge reads its own fields from it */
  body: Record<string, unknown> | null;
}

export interface ScoringLimits {
  /** More rows than this is answered RESOURCE_LIMIT_EXCEEDED (413) before any cell is looked at. */
  maxRows: number;
}
export const DEFAULT_MAX_ROWS = 100_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'list' : isObject(v) ? 'dictionary' : typeof v);
const bad = (message: string, details?: Record<string, unknown>) => protocolError('BAD_REQUEST', message, details);

// ---------------------------------------------------------------------------------------
// Content type

/**
 * `application/json` or `text/csv`, with no parameter but `charset=utf-8`, as MLflow's
 * server takes them; anything else is 415 BAD_REQUEST. (MLflow compares the media type as
 * sent; here it is compared case-insensitively, as RFC 9110 says media types are.)
 */
export function scoringContentType(header: string | undefined): ScoringContent {
  // the usual headers, answered without splitting (the edge reads this on every request)
  if (header === 'application/json') return 'json';
  if (header === 'text/csv') return 'csv';
  const parts = (header ?? '').split(';').map((p) => p.trim());
  const media = (parts[0] ?? '').toLowerCase();
  const params = new Map<string, string>();
  for (const pair of parts.slice(1)) {
    const eq = pair.indexOf('=');
    params.set(eq === -1 ? pair : pair.slice(0, eq).trim().toLowerCase(), eq === -1 ? '' : pair.slice(eq + 1).trim());
  }
  const charset = (params.get('charset') ?? 'utf-8').replace(/^"|"$/g, '').toLowerCase();
  if (charset !== 'utf-8') throw protocolError('BAD_REQUEST', `The scoring server only supports UTF-8 (got charset ${charset})`, undefined, 415);
  const unexpected = [...params.keys()].filter((k) => k !== 'charset');
  if (unexpected.length > 0) {
    throw protocolError('BAD_REQUEST', `Unrecognized content type parameters: ${unexpected.map((k) => JSON.stringify(k)).join(', ')}`, undefined, 415);
  }
  if (media === 'application/json') return 'json';
  if (media === 'text/csv') return 'csv';
  throw protocolError(
    'BAD_REQUEST',
    `This predictor only supports the following content types: ['text/csv', 'application/json']. Got '${header ?? ''}'.`,
    undefined,
    415,
  );
}

// ---------------------------------------------------------------------------------------
// Decoding (no model)

const invalidSplit = (why: string) => bad(`Provided dataframe_split field is not a valid dataframe representation: ${why}`);

// (plain loops and module-level helpers: the edge runs this on every request, and a closure
// made per call costs more than the checks themselves)
function splitFrame(split: unknown): Frame {
  if (!isObject(split)) throw bad(`Dataframe split format must be a dictionary. Got ${kindOf(split)}.`);
  const invalid = invalidSplit;
  for (const key in split) {
    if (Object.hasOwn(split, key) && key !== 'columns' && key !== 'data' && key !== 'index') throw invalid(`unknown field "${key}" (expected columns, data, index)`);
  }
  let columns: string[] | null = null;
  if (split.columns !== undefined && split.columns !== null) {
    if (!Array.isArray(split.columns)) throw invalid('columns must be a list of column names');
    const given = split.columns as unknown[];
    columns = new Array<string>(given.length);
    for (let i = 0; i < given.length; i++) {
      const c = given[i];
      if (typeof c === 'string') columns[i] = c;
      else if (typeof c === 'number') columns[i] = String(c);
      else throw invalid(`columns[${i}] must be a column name, got ${kindOf(c)}`);
    }
    const seen = new Set<string>();
    for (const c of columns) {
      if (seen.has(c)) throw invalid(`column "${c}" is named twice`);
      seen.add(c);
    }
  }
  const data = split.data ?? [];
  if (!Array.isArray(data)) throw invalid(`data must be a list of rows, got ${kindOf(data)}`);
  const width = columns?.length ?? (Array.isArray(data[0]) ? data[0].length : 1);
  const rows: unknown[][] = new Array(data.length);
  for (let r = 0; r < data.length; r++) {
    let row: unknown = data[r];
    // pandas takes a flat list as one column's values
    if (!Array.isArray(row)) {
      if (width !== 1) throw invalid(`data[${r}] must be a list of ${width} values, got ${kindOf(row)}`);
      row = [row];
    }
    const values = row as unknown[];
    if (values.length !== width) throw invalid(`data[${r}] has ${values.length} values; ${columns ? `${width} columns are named` : `row 0 has ${width}`}`);
    rows[r] = values;
  }
  if (split.index !== undefined && split.index !== null) {
    if (!Array.isArray(split.index) || split.index.length !== rows.length) {
      throw invalid(`index must list one label per row (${rows.length} rows, ${Array.isArray(split.index) ? split.index.length : 'no'} labels)`);
    }
  }
  return { kind: 'table', columns, rows };
}

function recordsFrame(value: unknown, label: string): Frame {
  if (!Array.isArray(value)) throw bad(`Dataframe records format must be a list of records. Got ${kindOf(value)}.`);
  for (let r = 0; r < value.length; r++) {
    if (!isObject(value[r])) throw bad(`${label}[${r}] must be a record {column: value}, got ${kindOf(value[r])}`, { row: r });
  }
  return { kind: 'records', records: value as Record<string, unknown>[] };
}

function tensorFrame(value: unknown, label: string): Frame {
  if (isObject(value)) {
    const columns = Object.keys(value);
    if (columns.length === 0) throw bad(`${label} is an empty dictionary`);
    const raw = columns.map((c) => value[c]);
    const lengths = raw.filter(Array.isArray).map((l) => (l as unknown[]).length);
    const count = lengths.length === 0 ? 1 : (lengths[0] as number);
    if (lengths.some((n) => n !== count)) throw bad('The length of values for each input/column name are not the same');
    // a scalar beside lists is broadcast to every row, as pandas does
    const lists = raw.map((v) => (Array.isArray(v) ? v : new Array<unknown>(count).fill(v)));
    return { kind: 'columnar', columns, lists, count };
  }
  if (Array.isArray(value)) {
    const objects = value.filter(isObject).length;
    if (objects > 0 && objects === value.length) return recordsFrame(value, label);
    if (objects > 0) throw bad(`${label} mixes records {column: value} with other values; send one or the other`);
    return { kind: 'list', items: value };
  }
  if (value === null || value === undefined) throw bad(`${label} is null`);
  return { kind: 'list', items: [value] };
}

function frameSize(frame: Frame): number {
  switch (frame.kind) {
    case 'table':
      return frame.rows.length;
    case 'records':
      return frame.records.length;
    case 'columnar':
      return frame.count;
    case 'list':
      return frame.items.length;
  }
}

/** A parsed JSON body → the request's frame. Throws ProtocolError (400). */
export function decodeMlflowJson(body: unknown): MlflowRequest {
  if (!isObject(body)) throw bad(`${REQUIRED_INPUT_FORMAT}. Received ${Array.isArray(body) ? 'a list' : `unexpected input type '${kindOf(body)}'`}.`);
  let format: (typeof MLFLOW_FORMATS)[number] | undefined;
  let present = 0;
  for (const f of MLFLOW_FORMATS) {
    if (!Object.hasOwn(body, f)) continue;
    format = f;
    present++;
  }
  if (present !== 1 || format === undefined) throw bad(`${REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: ${JSON.stringify(Object.keys(body))}.`);
  const params = body.params;
  if (params !== undefined && params !== null && !isObject(params)) {
    throw protocolError('INVALID_PARAMETER_VALUE', `Parameters must be a dictionary. Got type '${kindOf(params)}'.`, undefined, 400);
  }
  const payload = body[format];
  const frame =
    format === 'dataframe_split' ? splitFrame(payload) : format === 'dataframe_records' ? recordsFrame(payload, format) : tensorFrame(payload, format);
  const rows = frameSize(frame);
  if (rows === 0) throw bad(`${format} has no rows to score`);
  const out: MlflowRequest = { format, frame, rows, body };
  if (isObject(params)) out.params = params;
  return out;
}

/** The raw body of a scoring request → its frame. Throws ProtocolError (400). */
export function decodeMlflowRequest(raw: Buffer | string, content: ScoringContent): MlflowRequest {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (content === 'csv') {
    const csv = parseCsv(text);
    if (csv.rows.length === 0) throw bad('the CSV has a header but no rows to score');
    return { format: 'csv', frame: { kind: 'table', columns: csv.columns, rows: csv.rows }, rows: csv.rows.length, body: null };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw bad(`Failed to parse input from JSON. Ensure that input is a valid JSON formatted string. Error: '${(err as Error).message}'`);
  }
  return decodeMlflowJson(body);
}

// ---------------------------------------------------------------------------------------
// Against a signature (the runtime)

function missingInputs(names: readonly string[], given: Iterable<string>, hint = '') {
  const have = new Set(given);
  const missing = names.filter((n) => !have.has(n));
  const nameSet = new Set(names);
  const extra = [...have].filter((n) => !nameSet.has(n));
  let message = `Model is missing inputs ${JSON.stringify(missing)}.`;
  if (extra.length > 0) message += ` Note that there were extra inputs: ${JSON.stringify(extra)}.`;
  return protocolError('INVALID_PARAMETER_VALUE', message + hint, { missing, extra });
}

/** Cells by column (`get(j, r)` for signature column j, row r) → rows in signature order. */
function castRows(inputs: readonly SignatureColumn[], count: number, get: (j: number, r: number) => unknown): Cell[][] {
  const width = inputs.length;
  const types: ColumnType[] = inputs.map((c) => c.type);
  const rows: Cell[][] = new Array(count);
  for (let r = 0; r < count; r++) {
    const out: Cell[] = new Array(width);
    for (let j = 0; j < width; j++) {
      const value = get(j, r);
      const type = types[j] as ColumnType;
      // the hot path (numeric columns sent as numbers) skips the general cast
      if (typeof value === 'number' && (type === 'double' || type === 'float')) {
        out[j] = value;
        continue;
      }
      const cell = castCell(type, value);
      if (cell === undefined) throw badCell((inputs[j] as SignatureColumn).name, type, r, value);
      out[j] = cell;
    }
    rows[r] = out;
  }
  return rows;
}

const UNNAMED_HINT =
  ' A list of rows names no columns: send dataframe_split with "columns", dataframe_records, or inputs as {"column": [values]}.';

/**
 * The frame's rows in signature order, cast to the signature's types. Throws ProtocolError:
 * INVALID_PARAMETER_VALUE (422) for missing columns or cells that do not fit,
 * RESOURCE_LIMIT_EXCEEDED (413) past `limits.maxRows`.
 */
export function frameRows(request: MlflowRequest, signature: { readonly inputs: readonly SignatureColumn[] }, limits: ScoringLimits = { maxRows: DEFAULT_MAX_ROWS }): Cell[][] {
  const inputs = signature.inputs;
  const names = inputs.map((c) => c.name);
  if (request.rows > limits.maxRows) {
    throw protocolError('RESOURCE_LIMIT_EXCEEDED', `the request has ${request.rows} rows; at most ${limits.maxRows} are scored per request`, {
      rows: request.rows,
      maxRows: limits.maxRows,
    });
  }
  const frame = request.frame;
  switch (frame.kind) {
    case 'table': {
      const columns = frame.columns ?? (frame.rows[0] ?? []).map((_, i) => String(i));
      const at = names.map((n) => columns.indexOf(n));
      if (at.includes(-1)) throw missingInputs(names, columns, frame.columns ? '' : UNNAMED_HINT);
      const rows = frame.rows;
      return castRows(inputs, rows.length, (j, r) => (rows[r] as unknown[])[at[j] as number]);
    }
    case 'records': {
      const records = frame.records;
      const seen = new Set<string>();
      for (const rec of records) for (const k of Object.keys(rec)) seen.add(k);
      if (names.some((n) => !seen.has(n))) throw missingInputs(names, seen);
      // a column absent from one record is a missing value in that row (pandas fills NaN)
      return castRows(inputs, records.length, (j, r) => (records[r] as Record<string, unknown>)[names[j] as string] ?? null);
    }
    case 'columnar': {
      const at = names.map((n) => frame.columns.indexOf(n));
      if (at.includes(-1)) throw missingInputs(names, frame.columns);
      return castRows(inputs, frame.count, (j, r) => (frame.lists[at[j] as number] as unknown[])[r]);
    }
    case 'list': {
      // one named column takes the list as its values; several cannot be told apart
      if (names.length === 1) return castRows(inputs, frame.items.length, (_, r) => frame.items[r]);
      const first = frame.items[0];
      const given = Array.isArray(first) ? first.map((_, i) => String(i)) : ['0'];
      throw missingInputs(names, given, UNNAMED_HINT);
    }
  }
}
