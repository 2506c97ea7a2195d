// MLflow's scoring formats, checked against a model signature. Turns the parsed JSON body
// of `/invocations` (or of the edge's `/predict`) into rows in the signature's column
// order, or a ScoringError that names the column and row at fault. Pure: no I/O, no model,
// so the edge can validate a request before it picks a backend.
//
// Accepted bodies (exactly one of the format keys; `client_request_id` and `params` may
// ride along):
//   {"dataframe_split": {"columns": [...], "data": [[...], ...]}}   (columns in any order)
//   {"dataframe_records": [{"col": v, ...}, ...]}
//   {"inputs": [[...], ...]} | {"inputs": [{...}, ...]} | {"inputs": {"col": [...], ...}}
//   {"instances": ...}  (TF-serving spelling, same shapes as `inputs`)
// Row numbers in messages are 0-based positions in the request.
import type { SignatureColumn } from '../platform/model-signature.ts';
import { ScoringError } from './errors.ts';

export type Cell = number | string | boolean;
export type ScoringFormat = 'dataframe_split' | 'dataframe_records' | 'inputs' | 'instances';

export interface ScoringRequest {
  format: ScoringFormat;
  /** One array per row, values in the signature's input order. */
  rows: Cell[][];
  clientRequestId?: string;
  params?: Record<string, unknown>;
}

export interface ScoringLimits {
  /** More rows than this is answered PAYLOAD_TOO_LARGE before any row is looked at. */
  maxRows: number;
}

export const DEFAULT_MAX_ROWS = 100_000;

const FORMAT_KEYS: readonly ScoringFormat[] = ['dataframe_split', 'dataframe_records', 'inputs', 'instances'];
const COMPANION_KEYS = new Set(['client_request_id', 'params']);
const SPLIT_KEYS = new Set(['columns', 'data', 'index']);

type CellCheck = (value: unknown) => boolean;

interface Schema {
  names: readonly string[];
  types: readonly SignatureColumn['type'][];
  checks: readonly CellCheck[];
  positionOf: ReadonlyMap<string, number>;
}

const isNumber: CellCheck = (v) => typeof v === 'number';
const INT32_MAX = 2 ** 31 - 1;
const CHECKS: Record<SignatureColumn['type'], CellCheck> = {
  double: isNumber,
  float: isNumber,
  int: (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= INT32_MAX,
  long: (v) => typeof v === 'number' && Number.isSafeInteger(v),
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
};
const EXPECTED: Record<SignatureColumn['type'], string> = {
  double: 'a number',
  float: 'a number',
  int: 'a 32-bit integer',
  long: 'an integer',
  string: 'a string',
  boolean: 'true or false',
};

// Signatures are long-lived (one per loaded model), requests are many: build the lookup once.
const schemaCache = new WeakMap<readonly SignatureColumn[], Schema>();

function schemaOf(inputs: readonly SignatureColumn[]): Schema {
  let schema = schemaCache.get(inputs);
  if (!schema) {
    schema = {
      names: inputs.map((c) => c.name),
      types: inputs.map((c) => c.type),
      checks: inputs.map((c) => CHECKS[c.type]),
      positionOf: new Map(inputs.map((c, i) => [c.name, i])),
    };
    schemaCache.set(inputs, schema);
  }
  return schema;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isScalar = (v: unknown) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

function badCell(schema: Schema, column: number, row: number, value: unknown): ScoringError {
  const name = schema.names[column] ?? String(column);
  const type = schema.types[column] ?? 'double';
  return new ScoringError(
    'SCHEMA_MISMATCH',
    `column "${name}" row ${row}: expected ${EXPECTED[type]} (${type}), got ${describe(value)}`,
    { column: name, row },
  );
}

function checkRowCount(count: number, limits: ScoringLimits): void {
  if (count === 0) throw new ScoringError('BAD_REQUEST', 'the request has no rows to score');
  if (count > limits.maxRows) {
    throw new ScoringError('PAYLOAD_TOO_LARGE', `the request has ${count} rows; at most ${limits.maxRows} are scored per request`, {
      rows: count,
      maxRows: limits.maxRows,
    });
  }
}

function columnSetError(schema: Schema, given: Iterable<string>, where: string): ScoringError | null {
  const givenSet = new Set(given);
  const missing = schema.names.filter((n) => !givenSet.has(n));
  const extra = [...givenSet].filter((n) => !schema.positionOf.has(n));
  if (missing.length === 0 && extra.length === 0) return null;
  const parts: string[] = [];
  if (missing.length) parts.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')}`);
  if (extra.length) parts.push(`unknown column${extra.length > 1 ? 's' : ''} ${extra.map((n) => `"${n}"`).join(', ')}`);
  const details: Record<string, unknown> = { missing, unknown: extra };
  return new ScoringError('SCHEMA_MISMATCH', `${where}${parts.join('; ')}`, details);
}

/** Rows given as lists, with `order[j]` = where signature column j sits in each list. */
function positionalRows(schema: Schema, data: unknown[], order: readonly number[] | null, label: string): Cell[][] {
  const width = schema.names.length;
  const rows: Cell[][] = order ? new Array(data.length) : (data as Cell[][]);
  for (let r = 0; r < data.length; r++) {
    const row = data[r];
    if (!Array.isArray(row)) {
      throw new ScoringError('BAD_REQUEST', `${label}[${r}] must be a list of values (one row), got ${describe(row)}`, { row: r });
    }
    if (row.length !== width) {
      throw new ScoringError('SCHEMA_MISMATCH', `row ${r} has ${row.length} values; expected ${width}, one per column`, {
        row: r,
        values: row.length,
        expected: width,
      });
    }
    if (order) {
      const out: Cell[] = new Array(width);
      for (let j = 0; j < width; j++) {
        const value: unknown = row[order[j] as number];
        if (!(schema.checks[j] as CellCheck)(value)) throw badCell(schema, j, r, value);
        out[j] = value as Cell;
      }
      rows[r] = out;
    } else {
      for (let j = 0; j < width; j++) {
        const value: unknown = row[j];
        if (!(schema.checks[j] as CellCheck)(value)) throw badCell(schema, j, r, value);
      }
    }
  }
  return rows;
}

function recordRows(schema: Schema, records: unknown[], label: string): Cell[][] {
  const width = schema.names.length;
  const rows: Cell[][] = new Array(records.length);
  for (let r = 0; r < records.length; r++) {
    const record = records[r];
    if (!isPlainObject(record)) {
      throw new ScoringError('BAD_REQUEST', `${label}[${r}] must be an object of column: value, got ${describe(record)}`, { row: r });
    }
    const out: Cell[] = new Array(width);
    let present = 0;
    for (let j = 0; j < width; j++) {
      const name = schema.names[j] as string;
      if (!Object.hasOwn(record, name)) continue;
      present++;
      const value = record[name];
      if (!(schema.checks[j] as CellCheck)(value)) throw badCell(schema, j, r, value);
      out[j] = value as Cell;
    }
    if (present !== width || Object.keys(record).length !== width) {
      const err = columnSetError(schema, Object.keys(record), `row ${r}: `);
      if (err) throw new ScoringError(err.code, err.message, { ...err.details, row: r });
    }
    rows[r] = out;
  }
  return rows;
}

function splitRows(schema: Schema, split: unknown, limits: ScoringLimits): Cell[][] {
  if (!isPlainObject(split)) throw new ScoringError('BAD_REQUEST', 'dataframe_split must be an object {"columns": [...], "data": [[...], ...]}');
  for (const key of Object.keys(split)) {
    if (!SPLIT_KEYS.has(key)) throw new ScoringError('BAD_REQUEST', `dataframe_split has an unknown field "${key}" (expected columns, data, index)`);
  }
  const { columns, data } = split;
  if (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string')) {
    throw new ScoringError('BAD_REQUEST', 'dataframe_split.columns must be a list of column names');
  }
  if (!Array.isArray(data)) throw new ScoringError('BAD_REQUEST', 'dataframe_split.data must be a list of rows');
  const names = columns as string[];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new ScoringError('SCHEMA_MISMATCH', `column "${name}" is given twice`, { column: name });
    seen.add(name);
  }
  const setError = columnSetError(schema, names, '');
  if (setError) throw setError;
  checkRowCount(data.length, limits);
  const sameOrder = names.every((name, i) => schema.names[i] === name);
  const order = sameOrder ? null : schema.names.map((name) => names.indexOf(name));
  return positionalRows(schema, data, order, 'dataframe_split.data');
}

function columnarRows(schema: Schema, table: Record<string, unknown>, label: string, limits: ScoringLimits): Cell[][] {
  const setError = columnSetError(schema, Object.keys(table), '');
  if (setError) throw setError;
  const values = schema.names.map((name) => table[name]);
  if (values.every(isScalar)) return recordRows(schema, [table], label);
  if (!values.every(Array.isArray)) {
    throw new ScoringError('BAD_REQUEST', `${label} as an object must map every column to a list of values (or every column to one value)`);
  }
  const lists = values as unknown[][];
  const count = (lists[0] as unknown[]).length;
  lists.forEach((list, j) => {
    if (list.length !== count) {
      throw new ScoringError('SCHEMA_MISMATCH', `column "${schema.names[j]}" has ${list.length} values; column "${schema.names[0]}" has ${count}`, {
        column: schema.names[j],
      });
    }
  });
  checkRowCount(count, limits);
  const width = schema.names.length;
  const rows: Cell[][] = new Array(count);
  for (let r = 0; r < count; r++) {
    const out: Cell[] = new Array(width);
    for (let j = 0; j < width; j++) {
      const value = (lists[j] as unknown[])[r];
      if (!(schema.checks[j] as CellCheck)(value)) throw badCell(schema, j, r, value);
      out[j] = value as Cell;
    }
    rows[r] = out;
  }
  return rows;
}

function tensorInputRows(schema: Schema, value: unknown, label: string, limits: ScoringLimits): Cell[][] {
  if (isPlainObject(value)) return columnarRows(schema, value, label, limits);
  if (!Array.isArray(value)) throw new ScoringError('BAD_REQUEST', `${label} must be a list of rows or an object of columns`);
  checkRowCount(value.length, limits);
  const first = value[0];
  if (isPlainObject(first)) return recordRows(schema, value, label);
  // A one-column model may take a flat list: one value per row.
  if (schema.names.length === 1 && !Array.isArray(first)) return positionalRows(schema, value.map((v) => [v]), null, label);
  return positionalRows(schema, value, null, label);
}

/**
 * Check an already JSON-parsed scoring body against a signature's inputs and return its
 * rows in signature order. Throws ScoringError (BAD_REQUEST 400, SCHEMA_MISMATCH 422,
 * PAYLOAD_TOO_LARGE 413) naming the field, column and row at fault.
 */
export function parseScoringRequest(
  body: unknown,
  signature: { readonly inputs: readonly SignatureColumn[] },
  limits: ScoringLimits = { maxRows: DEFAULT_MAX_ROWS },
): ScoringRequest {
  if (!isPlainObject(body)) {
    throw new ScoringError('BAD_REQUEST', `the body must be a JSON object with one of ${FORMAT_KEYS.join(', ')}`);
  }
  let format: ScoringFormat | null = null;
  for (const key of Object.keys(body)) {
    if ((FORMAT_KEYS as readonly string[]).includes(key)) {
      if (format) throw new ScoringError('BAD_REQUEST', `the body has both "${format}" and "${key}"; give exactly one`);
      format = key as ScoringFormat;
    } else if (!COMPANION_KEYS.has(key)) {
      throw new ScoringError('BAD_REQUEST', `unknown field "${key}" (expected one of ${FORMAT_KEYS.join(', ')})`);
    }
  }
  if (!format) throw new ScoringError('BAD_REQUEST', `the body must have one of ${FORMAT_KEYS.join(', ')}`);

  const { client_request_id: clientRequestId, params } = body;
  if (clientRequestId !== undefined && typeof clientRequestId !== 'string') {
    throw new ScoringError('BAD_REQUEST', 'client_request_id must be a string');
  }
  if (params !== undefined && !isPlainObject(params)) throw new ScoringError('BAD_REQUEST', 'params must be an object');

  const schema = schemaOf(signature.inputs);
  const payload = body[format];
  let rows: Cell[][];
  switch (format) {
    case 'dataframe_split':
      rows = splitRows(schema, payload, limits);
      break;
    case 'dataframe_records':
      if (!Array.isArray(payload)) throw new ScoringError('BAD_REQUEST', 'dataframe_records must be a list of objects');
      checkRowCount(payload.length, limits);
      rows = recordRows(schema, payload, 'dataframe_records');
      break;
    case 'inputs':
    case 'instances':
      rows = tensorInputRows(schema, payload, format, limits);
      break;
  }
  const request: ScoringRequest = { format, rows };
  if (clientRequestId !== undefined) request.clientRequestId = clientRequestId;
  if (params !== undefined) request.params = params;
  return request;
}
