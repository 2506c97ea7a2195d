// Inference-log object → table rows. One log object is gzipped NDJSON of InferenceRecords
// (gateway/inference-log/record.ts), written alike by the local edge and the Envoy
// ext_proc/ALS capture. A request of N input rows becomes N table rows keyed by
// (request_id, row_index); a refused or failed request becomes one row with no features.
// What cannot be read is reported, never thrown: an unreadable object (zero bytes, broken
// gzip) is quarantined whole; a bad record (missing fields, columns that do not match the
// signature) is quarantined alone while the object's good records still make rows.
import { gunzipSync } from 'node:zlib';
import type { ModelSignature, SignatureColumn } from '../../platform/model-signature.ts';
import { requestFeatures } from '../../platform/scoring/records.ts';

/** Columns every table row has, before the feature columns. */
export const FIXED_COLUMNS = [
  ['request_id', 'VARCHAR'],
  ['client_request_id', 'VARCHAR'],
  ['row_index', 'INTEGER'],
  ['time', 'TIMESTAMPTZ'],
  ['status', 'INTEGER'],
  ['latency_ms', 'DOUBLE'],
  ['error', 'VARCHAR'],
  ['shadow', 'BOOLEAN'],
  ['prediction', 'VARCHAR'],
  ['prediction_class', 'VARCHAR'],
  ['prediction_num', 'DOUBLE'],
  ['probabilities', 'DOUBLE[]'],
] as const;

const FIXED_NAMES = new Set<string>(FIXED_COLUMNS.map(([n]) => n));

export const DUCK_TYPES: Record<SignatureColumn['type'], string> = {
  double: 'DOUBLE',
  float: 'FLOAT',
  int: 'INTEGER',
  long: 'BIGINT',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
};

/** The table column of a feature: its own name, unless that clashes with a fixed column. */
export const featureColumn = (feature: string): string => (FIXED_NAMES.has(feature) ? `feature_${feature}` : feature);

export interface BadRecord {
  line: number;
  reason: string;
  text: string;
}

export interface ParsedObject {
  /** table rows emitted */
  rows: number;
  records: number;
  bad: BadRecord[];
}

/**
 * Receives each table row as one JSON object line (the staging format DuckDB reads), with
 * the row's version and UTC date for its partition. Lines are built as text directly: at a
 * million rows, building objects to stringify them costs more than the JSON parsing itself.
 */
export type RowSink = (version: string, dt: string, line: string) => void;

export class UnreadableObjectError extends Error {
  readonly code = 'UNREADABLE_OBJECT';
}

/** The canonical class key of a scalar prediction or label: numbers as JS prints them, strings as they are. */
export function classKey(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

const numOf = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** What one request carried: column names and row values, whichever scoring format it used. */
export function inputRows(body: unknown): { columns: string[]; rows: unknown[][] } | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'request body is not a JSON object';
  const b = body as Record<string, unknown>;
  const split = b.dataframe_split;
  if (split !== undefined) {
    const s = split as { columns?: unknown; data?: unknown };
    if (!Array.isArray(s?.columns) || !Array.isArray(s?.data)) return 'dataframe_split needs columns and data';
    if (!s.data.every((r) => Array.isArray(r) && r.length === (s.columns as unknown[]).length)) return 'dataframe_split.data rows do not match its columns';
    return { columns: s.columns.map(String), rows: s.data as unknown[][] };
  }
  const recs = b.dataframe_records ?? b.instances;
  if (Array.isArray(recs) && recs.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) {
    const columns = [...new Set(recs.flatMap((r) => Object.keys(r as object)))];
    return { columns, rows: recs.map((r) => columns.map((c) => (r as Record<string, unknown>)[c] ?? null)) };
  }
  const inputs = b.inputs;
  if (Array.isArray(inputs) && inputs.every((t) => typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string' && Array.isArray((t as { data?: unknown }).data))) {
    // Open Inference Protocol: one named tensor of N values per column
    const tensors = inputs as { name: string; data: unknown[] }[];
    const n = tensors[0]?.data.length ?? 0;
    if (!tensors.every((t) => t.data.length === n)) return 'inputs tensors differ in length';
    return { columns: tensors.map((t) => t.name), rows: Array.from({ length: n }, (_, i) => tensors.map((t) => t.data[i] ?? null)) };
  }
  if (typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs)) {
    const cols = Object.entries(inputs as Record<string, unknown>);
    if (cols.every(([, v]) => Array.isArray(v))) {
      const n = (cols[0]?.[1] as unknown[] | undefined)?.length ?? 0;
      return { columns: cols.map(([k]) => k), rows: Array.from({ length: n }, (_, i) => cols.map(([, v]) => (v as unknown[])[i] ?? null)) };
    }
  }
  return 'request body has no dataframe_split, dataframe_records, instances or inputs';
}

/** One prediction per row from a response body (MLflow `predictions`, or OIP `outputs`). */
function predictionsOf(body: unknown): unknown[] | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.predictions)) return b.predictions;
  if (Array.isArray(b.outputs)) {
    const first = b.outputs[0] as { data?: unknown } | undefined;
    if (first && Array.isArray(first.data)) return first.data;
  }
  return null;
}

function checkValue(col: SignatureColumn, v: unknown): boolean {
  if (v === null) return true;
  switch (col.type) {
    case 'double': case 'float': return typeof v === 'number';
    case 'int': case 'long': return typeof v === 'number' && Number.isInteger(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
  }
}

interface RecordShape {
  request_id: string;
  client_request_id?: unknown;
  group: string;
  version: string;
  timestamp: string;
  status_code: number | null;
  latency_ms?: unknown;
  error?: unknown;
  request?: unknown;
  response?: unknown;
  request_truncated?: unknown;
  shadow?: unknown;
  protocol?: unknown;
}

/** CSV cells arrive as text: cast them as the runtime does, by the signature's column type. */
function cast(v: unknown, type: SignatureColumn['type'] | undefined): unknown {
  if (typeof v !== 'string' || type === undefined || type === 'string') return v;
  if (v === '') return null;
  if (type === 'boolean') return v === 'true' ? true : v === 'false' ? false : v;
  const n = Number(v);
  return Number.isNaN(n) ? v : n;
}

/** Rows as {column: value} objects (platform/scoring's decoder) → columns + row arrays. */
function fromObjects(rows: Record<string, unknown>[], signature: ModelSignature | null): { columns: string[]; rows: unknown[][] } {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const types = columns.map((c) => signature?.inputs.find((i) => i.name === c)?.type);
  return { columns, rows: rows.map((r) => columns.map((c, k) => cast(r[c] ?? null, types[k]))) };
}

function shapeProblem(r: unknown, group: string): string | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'record is not a JSON object';
  const o = r as Record<string, unknown>;
  for (const f of ['request_id', 'group', 'version', 'timestamp'] as const) {
    if (typeof o[f] !== 'string' || o[f] === '') return `record has no ${f}`;
  }
  if (!('status_code' in o) || (o.status_code !== null && typeof o.status_code !== 'number')) return 'record has no status_code';
  if (Number.isNaN(Date.parse(o.timestamp as string))) return 'record timestamp is not a date';
  if (o.group !== group) return `record is for group "${String(o.group)}", not "${group}"`;
  return null;
}

/**
 * Rows of one log object. `signatureOf(version)` gives the version's signature (null when
 * the version has none: its features are then kept as one JSON column).
 * Throws UnreadableObjectError when the object as a whole cannot be read.
 */
export function parseLogObject(body: Buffer, group: string, signatureOf: (version: string) => ModelSignature | null, sink: RowSink): ParsedObject {
  if (body.length === 0) throw new UnreadableObjectError('the object is empty (zero bytes)');
  let text: string;
  try {
    text = gunzipSync(body).toString('utf8');
  } catch (err) {
    throw new UnreadableObjectError(`the object is not valid gzip: ${(err as Error).message}`);
  }
  let rows = 0;
  const bad: BadRecord[] = [];
  let records = 0;
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.trim() === '') continue;
    records++;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      bad.push({ line: lineNo, reason: 'record is not valid JSON', text: line });
      continue;
    }
    const problem = shapeProblem(rec, group);
    if (problem) {
      bad.push({ line: lineNo, reason: problem, text: line });
      continue;
    }
    const result = recordRows(rec as RecordShape, signatureOf((rec as RecordShape).version), sink);
    if (typeof result === 'string') bad.push({ line: lineNo, reason: result, text: line });
    else rows += result;
  }
  return { rows, records, bad };
}

const featureKeys = new WeakMap<ModelSignature, string[]>();
/** `,"<column>":` per signature input, computed once per signature. */
function keysOf(signature: ModelSignature): string[] {
  let keys = featureKeys.get(signature);
  if (!keys) featureKeys.set(signature, (keys = signature.inputs.map((c) => `,${JSON.stringify(featureColumn(c.name))}:`)));
  return keys;
}

const jsonValue = (v: unknown): string =>
  v === null || v === undefined ? 'null' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : 'null') : typeof v === 'boolean' ? String(v) : JSON.stringify(v);

const NO_PREDICTION = ',"prediction":null,"prediction_class":null,"prediction_num":null,"probabilities":null';

/** Emits the record's rows; returns how many, or why the record is bad (nothing emitted then). */
function recordRows(r: RecordShape, signature: ModelSignature | null, sink: RowSink): number | string {
  const status = r.status_code;
  const time = new Date(r.timestamp).toISOString();
  const dt = time.slice(0, 10);
  const head = (error: string | null) =>
    `{"request_id":${JSON.stringify(r.request_id)},"client_request_id":${typeof r.client_request_id === 'string' ? JSON.stringify(r.client_request_id) : 'null'}` +
    `,"time":"${time}","status":${status === null ? 'null' : jsonValue(status)},"latency_ms":${jsonValue(numOf(r.latency_ms))}` +
    `,"error":${error === null ? 'null' : JSON.stringify(error)},"shadow":${r.shadow === true}`;
  const ownError = typeof r.error === 'string' ? r.error : null;
  const refused = status === null || status < 200 || status >= 300;
  if (refused) {
    // counted in the table, but a refused request carries no features
    sink(r.version, dt, `${head(ownError)},"row_index":0${NO_PREDICTION}}`);
    return 1;
  }
  if (r.request_truncated === true || typeof r.request !== 'string') {
    sink(r.version, dt, `${head(ownError ?? 'request body not captured (truncated or absent): features unknown')},"row_index":0${NO_PREDICTION}}`);
    return 1;
  }
  // The common case (MLflow JSON) is read here directly; OIP tensors, MLflow CSV and the
  // rarer JSON forms go through the protocol decoders the runtime itself uses.
  const oip = r.protocol === 'oip';
  let input: { columns: string[]; rows: unknown[][] } | string = 'request body is not JSON';
  if (!oip && r.request.trimStart().startsWith('{')) {
    try {
      input = inputRows(JSON.parse(r.request));
    } catch {
      input = 'request body is not JSON';
    }
  }
  if (typeof input === 'string') {
    const decoded = requestFeatures(r.request, oip ? 'oip' : 'mlflow', signature ? { columns: signature.inputs.map((c) => c.name) } : {});
    if (!decoded) return `answered request whose body cannot be read (${oip ? 'OIP' : 'MLflow'}): ${input}`;
    input = fromObjects(decoded, signature);
  }
  let predictions: unknown[] | null = null;
  if (typeof r.response === 'string') {
    try {
      predictions = predictionsOf(JSON.parse(r.response));
    } catch {
      predictions = null;
    }
  }
  let index: number[] | null = null;
  if (signature) {
    const pos = new Map(input.columns.map((c, i) => [c, i]));
    const missing = signature.inputs.filter((c) => !pos.has(c.name)).map((c) => c.name);
    const extra = input.columns.filter((c) => !signature.inputs.some((s) => s.name === c));
    if (missing.length || extra.length) {
      return `columns do not match the signature${missing.length ? `; missing ${missing.slice(0, 5).join(', ')}` : ''}${extra.length ? `; unknown ${extra.slice(0, 5).join(', ')}` : ''}`;
    }
    index = signature.inputs.map((c) => pos.get(c.name) as number);
    // check every value before emitting anything: a bad record emits no row at all
    for (let i = 0; i < input.rows.length; i++) {
      const values = input.rows[i] as unknown[];
      for (let c = 0; c < index.length; c++) {
        const col = signature.inputs[c] as SignatureColumn;
        if (!checkValue(col, values[index[c] as number] ?? null)) return `row ${i} column "${col.name}" is not a ${col.type}`;
      }
    }
  }
  const prefix = head(ownError);
  const keys = signature ? keysOf(signature) : null;
  for (let i = 0; i < input.rows.length; i++) {
    const values = input.rows[i] as unknown[];
    let line = `${prefix},"row_index":${i}${predictionFields(predictions?.[i])}`;
    if (keys && index) {
      for (let c = 0; c < index.length; c++) line += keys[c] + jsonValue(values[index[c] as number]);
    } else {
      line += `,"features":${JSON.stringify(JSON.stringify(Object.fromEntries(input.columns.map((c, k) => [c, values[k] ?? null]))))}`;
    }
    sink(r.version, dt, `${line}}`);
  }
  return input.rows.length;
}

function predictionFields(p: unknown): string {
  if (p === undefined || p === null) return NO_PREDICTION;
  if (typeof p === 'number' && Number.isFinite(p)) {
    // the common case (a class id or a regression value), without a detour through objects
    const t = String(p);
    return `,"prediction":"${t}","prediction_class":"${t}","prediction_num":${t},"probabilities":null`;
  }
  let value: unknown = p;
  let probabilities: number[] | null = null;
  if (typeof p === 'object' && !Array.isArray(p)) {
    // {label|prediction, probabilities} as some runtimes answer
    const o = p as Record<string, unknown>;
    if (Array.isArray(o.probabilities) && o.probabilities.every((x) => typeof x === 'number' && Number.isFinite(x))) probabilities = o.probabilities as number[];
    if ('label' in o) value = o.label;
    else if ('prediction' in o) value = o.prediction;
  }
  const cls = classKey(value);
  return `,"prediction":${JSON.stringify(JSON.stringify(value))},"prediction_class":${cls === null ? 'null' : JSON.stringify(cls)},"prediction_num":${jsonValue(numOf(value))},"probabilities":${probabilities ? JSON.stringify(probabilities) : 'null'}`;
}
