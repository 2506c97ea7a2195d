// The Open Inference Protocol (KServe "v2", Triton's HTTP/gRPC API) for a tabular model:
// named tensors in, named tensors out. Like mlflow.ts, in two steps:
//
//   decodeInferRequest  JSON body → checked tensors (names, datatypes, shapes against the
//                       data's length, values against the datatype). Needs no model: the
//                       edge and the runtime run the same code, and the gRPC service feeds
//                       its decoded protobuf tensors through checkTensors too.
//   inferRows           tensors + signature → rows in signature order. Either one tensor per
//                       column (shape [N] or [N, 1], named as the column) or one [N, k]
//                       matrix holding all k columns in signature order (any name).
//
// Errors are ProtocolError with status 400 (bad tensors, or tensors the model cannot take),
// 404 (no such model or version: the caller's routing), 413 (over the row limit).
import type { SignatureColumn } from '../model-signature.ts';
import { castCell, describe, type Cell, type ColumnType } from './cells.ts';
import { protocolError } from './errors.ts';
import type { ScoringLimits } from './mlflow.ts';

export const OIP_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
export type OipDatatype = (typeof OIP_DATATYPES)[number];

export interface InferTensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  /** row-major, flattened */
  data: unknown[];
  parameters?: Record<string, unknown>;
}

export interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferTensor[];
  /** requested outputs by name; null = every output */
  outputs: string[] | null;
}

export interface OutputTensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  data: Array<number | string | boolean>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (message: string, details?: Record<string, unknown>) => protocolError('BAD_REQUEST', message, details);
const unfit = (message: string, details?: Record<string, unknown>) => protocolError('INVALID_PARAMETER_VALUE', message, details, 400);

const INT_RANGE: Partial<Record<OipDatatype, [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/** Whether one element fits its tensor's datatype. */
function elementFits(datatype: OipDatatype, v: unknown): boolean {
  switch (datatype) {
    case 'BOOL':
      return typeof v === 'boolean';
    case 'BYTES':
      return typeof v === 'string';
    case 'FP16':
    case 'FP32':
    case 'FP64':
      return typeof v === 'number';
    default: {
      const range = INT_RANGE[datatype] as [number, number];
      return typeof v === 'number' && Number.isInteger(v) && v >= range[0] && v <= range[1];
    }
  }
}

function flatten(data: unknown[]): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else out.push(v);
  };
  walk(data);
  return out;
}

/**
 * Checks decoded tensors (from JSON or from protobuf): datatypes known, shapes whole and
 * matching the data's length, every element of the declared datatype, names unique.
 */
export function checkTensors(inputs: InferTensor[], where = 'inputs'): void {
  if (inputs.length === 0) throw bad(`${where} must list at least one tensor`);
  const seen = new Set<string>();
  for (const t of inputs) {
    if (seen.has(t.name)) throw bad(`input "${t.name}" is given twice`, { input: t.name });
    seen.add(t.name);
    if (!(OIP_DATATYPES as readonly string[]).includes(t.datatype)) {
      throw bad(`input "${t.name}": unknown datatype ${JSON.stringify(t.datatype)} (one of ${OIP_DATATYPES.join(', ')})`, { input: t.name });
    }
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`input "${t.name}": shape must be a list of whole numbers ≥ 0`, { input: t.name });
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw bad(`input "${t.name}": shape [${t.shape.join(', ')}] holds ${size} values but data has ${t.data.length}`, { input: t.name });
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!elementFits(t.datatype, t.data[i])) {
        throw bad(`input "${t.name}": element ${i} is ${describe(t.data[i])}, not ${t.datatype}`, { input: t.name, element: i });
      }
    }
  }
}

/** A parsed JSON body (`POST /v2/models/{name}/infer`) → checked tensors. Throws ProtocolError 400. */
export function decodeInferRequest(body: unknown): InferRequest {
  if (!isObject(body)) throw bad('the inference request must be a JSON object with "inputs"');
  const { id, parameters, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw bad('"id" must be a string');
  if (parameters !== undefined && !isObject(parameters)) throw bad('"parameters" must be an object');
  if (!Array.isArray(inputs)) throw bad('"inputs" must be a list of tensors {name, shape, datatype, data}');
  const tensors: InferTensor[] = inputs.map((t, i) => {
    if (!isObject(t)) throw bad(`inputs[${i}] must be a tensor object`);
    const { name, shape, datatype, data } = t;
    if (typeof name !== 'string' || name === '') throw bad(`inputs[${i}].name must be a non-empty string`);
    if (typeof datatype !== 'string') throw bad(`input "${name}": datatype must be a string`, { input: name });
    if (!Array.isArray(shape)) throw bad(`input "${name}": shape must be a list`, { input: name });
    if (!Array.isArray(data)) throw bad(`input "${name}": data must be a list`, { input: name });
    if (t.parameters !== undefined && !isObject(t.parameters)) throw bad(`input "${name}": parameters must be an object`, { input: name });
    if (isObject(t.parameters) && t.parameters.binary_data_size !== undefined) {
      throw bad(`input "${name}": the binary tensor data extension is not served; send the data as JSON`, { input: name });
    }
    const tensor: InferTensor = { name, datatype: datatype as OipDatatype, shape: shape as number[], data: flatten(data) };
    if (isObject(t.parameters)) tensor.parameters = t.parameters;
    return tensor;
  });
  checkTensors(tensors);
  let wanted: string[] | null = null;
  if (outputs !== undefined && outputs !== null) {
    if (!Array.isArray(outputs)) throw bad('"outputs" must be a list of {name}');
    wanted = outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string') throw bad(`outputs[${i}] must be an object with a name`);
      return o.name;
    });
  }
  const out: InferRequest = { inputs: tensors, outputs: wanted };
  if (typeof id === 'string') out.id = id;
  if (isObject(parameters)) out.parameters = parameters;
  return out;
}

// ---------------------------------------------------------------------------------------
// Against a signature

/** The datatype a column is described with in model metadata. */
export const DATATYPE_OF: Record<ColumnType, OipDatatype> = {
  double: 'FP64',
  float: 'FP32',
  int: 'INT32',
  long: 'INT64',
  boolean: 'BOOL',
  string: 'BYTES',
};

const isInt = (d: OipDatatype) => d.startsWith('INT') || d.startsWith('UINT');

function datatypeFits(datatype: OipDatatype, type: ColumnType): boolean {
  switch (type) {
    case 'double':
    case 'float':
      return datatype.startsWith('FP') || isInt(datatype);
    case 'int':
    case 'long':
      return isInt(datatype);
    case 'boolean':
      return datatype === 'BOOL';
    case 'string':
      return datatype === 'BYTES';
  }
}

const ACCEPTS: Record<ColumnType, string> = {
  double: 'FP64, FP32 or an integer type',
  float: 'FP32, FP64 or an integer type',
  int: 'an integer type (INT32, INT64, ...)',
  long: 'an integer type (INT64, INT32, ...)',
  boolean: 'BOOL',
  string: 'BYTES',
};

function checkRows(count: number, limits: ScoringLimits): void {
  if (count === 0) throw bad('the request has no rows to score');
  if (count > limits.maxRows) {
    throw protocolError('RESOURCE_LIMIT_EXCEEDED', `the request has ${count} rows; at most ${limits.maxRows} are scored per request`, { rows: count, maxRows: limits.maxRows });
  }
}

function cellOf(column: SignatureColumn, value: unknown, input: string, row: number): Cell {
  const cell = castCell(column.type, value);
  if (cell === undefined) throw unfit(`input "${input}" row ${row}: ${describe(value)} does not fit column "${column.name}" (${column.type})`, { input, row });
  return cell;
}

/** Checked tensors → rows in the signature's column order. Throws ProtocolError 400/413. */
export function inferRows(request: InferRequest, signature: { readonly inputs: readonly SignatureColumn[] }, limits: ScoringLimits): Cell[][] {
  const columns = signature.inputs;
  const names = columns.map((c) => c.name);
  const k = columns.length;
  const only = request.inputs.length === 1 ? (request.inputs[0] as InferTensor) : null;
  if (only && !names.includes(only.name)) {
    // one matrix [N, k]: every column, in signature order
    const [n, width] = only.shape;
    if (only.shape.length !== 2 || width !== k) {
      throw unfit(`input "${only.name}" has shape [${only.shape.join(', ')}]; the model takes one [N, ${k}] tensor (columns ${names.join(', ')}) or one [N] tensor per column named as the column`, { input: only.name });
    }
    columns.forEach((c) => {
      if (!datatypeFits(only.datatype, c.type)) throw unfit(`input "${only.name}" is ${only.datatype}; column "${c.name}" (${c.type}) takes ${ACCEPTS[c.type]}`, { input: only.name });
    });
    checkRows(n as number, limits);
    const rows: Cell[][] = new Array(n as number);
    for (let r = 0; r < (n as number); r++) {
      const row: Cell[] = new Array(k);
      for (let j = 0; j < k; j++) row[j] = cellOf(columns[j] as SignatureColumn, only.data[r * k + j], only.name, r);
      rows[r] = row;
    }
    return rows;
  }
  // one tensor per column
  const byName = new Map(request.inputs.map((t) => [t.name, t]));
  for (const t of request.inputs) {
    if (!names.includes(t.name)) throw unfit(`unknown input "${t.name}"; the model's inputs are ${names.join(', ')}`, { input: t.name });
  }
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) throw unfit(`missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')}`, { missing });
  let count = -1;
  const tensors = columns.map((c) => {
    const t = byName.get(c.name) as InferTensor;
    if (!(t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1))) {
      throw unfit(`input "${t.name}" has shape [${t.shape.join(', ')}]; a column takes [N] or [N, 1]`, { input: t.name });
    }
    if (!datatypeFits(t.datatype, c.type)) throw unfit(`input "${t.name}" is ${t.datatype}; column "${c.name}" (${c.type}) takes ${ACCEPTS[c.type]}`, { input: t.name });
    const n = t.shape[0] as number;
    if (count !== -1 && n !== count) throw unfit(`input "${t.name}" has ${n} rows; the other inputs have ${count}`, { input: t.name });
    count = n;
    return t;
  });
  checkRows(count, limits);
  const rows: Cell[][] = new Array(count);
  for (let r = 0; r < count; r++) {
    const row: Cell[] = new Array(k);
    for (let j = 0; j < k; j++) row[j] = cellOf(columns[j] as SignatureColumn, (tensors[j] as InferTensor).data[r], names[j] as string, r);
    rows[r] = row;
  }
  return rows;
}

/** The outputs to return: those asked for (each must exist), else all. Throws 400. */
export function pickOutputs(request: InferRequest, available: readonly string[]): string[] {
  if (request.outputs === null || request.outputs.length === 0) return [...available];
  for (const name of request.outputs) {
    if (!available.includes(name)) throw unfit(`unknown output "${name}"; the model's outputs are ${available.join(', ')}`, { output: name });
  }
  return request.outputs;
}

/** ONNX Runtime tensor type → OIP datatype. */
export function datatypeOfTensor(type: string): OipDatatype {
  switch (type) {
    case 'float32':
      return 'FP32';
    case 'float64':
      return 'FP64';
    case 'float16':
      return 'FP16';
    case 'int8':
      return 'INT8';
    case 'int16':
      return 'INT16';
    case 'int32':
      return 'INT32';
    case 'int64':
      return 'INT64';
    case 'uint8':
      return 'UINT8';
    case 'uint16':
      return 'UINT16';
    case 'uint32':
      return 'UINT32';
    case 'uint64':
      return 'UINT64';
    case 'bool':
      return 'BOOL';
    default:
      return 'BYTES';
  }
}

export interface TensorMetadata {
  name: string;
  datatype: OipDatatype;
  shape: number[];
}

/** `GET /v2/models/{name}` for a tabular model: one [-1] tensor per signature column. */
export function modelMetadata(name: string, versions: string[], platform: string, inputs: readonly SignatureColumn[], outputs: TensorMetadata[]) {
  return {
    name,
    versions,
    platform,
    inputs: inputs.map((c) => ({ name: c.name, datatype: DATATYPE_OF[c.type], shape: [-1] })),
    outputs,
  };
}

/** Path of an OIP request: `/v2/…`. */
export type OipRoute =
  | { kind: 'server-live' }
  | { kind: 'server-ready' }
  | { kind: 'server-metadata' }
  | { kind: 'model-metadata'; model: string; version: string | null }
  | { kind: 'model-ready'; model: string; version: string | null }
  | { kind: 'infer'; model: string; version: string | null }
  | { kind: 'unknown' };

const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?\/?$/;

/** `/v2/...` → what it asks for; null when the path is not an OIP path at all. */
export function parseOipPath(path: string): OipRoute | null {
  if (path !== '/v2' && !path.startsWith('/v2/')) return null;
  if (path === '/v2/health/live') return { kind: 'server-live' };
  if (path === '/v2/health/ready') return { kind: 'server-ready' };
  if (path === '/v2' || path === '/v2/') return { kind: 'server-metadata' };
  const m = MODEL_PATH.exec(path);
  if (!m) return { kind: 'unknown' };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const kind: 'model-ready' | 'infer' | 'model-metadata' = m[3] === '/ready' ? 'model-ready' : m[3] === '/infer' ? 'infer' : 'model-metadata';
  return { kind, model: decode(m[1] as string), version: m[2] === undefined ? null : decode(m[2]) };
}
