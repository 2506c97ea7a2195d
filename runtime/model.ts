// An ONNX model loaded in this process: the one place that talks to onnxruntime-node.
// It maps a signature's named columns onto the graph's inputs (either one [N, columns]
// matrix, or one input per column as skl2onnx writes them), runs a whole batch as one
// tensor call, and turns the chosen output back into one plain JSON value per row.
// The HTTP server, the edge and the registry's artifact check all load models through here.
import { stat } from 'node:fs/promises';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ModelSignature, SignatureColumn } from '../platform/model-signature.ts';
import { ModelError } from './errors.ts';
import type { Cell } from './scoring.ts';
import { parseSignature } from './signature.ts';

// The request side of the in-process API lives in scoring.ts; re-exported so that callers
// (the edge, tests) get loadModel and parseScoringRequest from one module.
export { parseScoringRequest, DEFAULT_MAX_ROWS, type Cell, type ScoringRequest, type ScoringLimits } from './scoring.ts';
export { ScoringError, ModelError } from './errors.ts';

export type Prediction = number | string | boolean | Array<number | string | boolean>;
export type ExecutionProvider = 'cpu' | 'cuda';

export interface LoadModelOptions {
  /** Try the CUDA execution provider first; fall back to CPU (with a log line) if it is not there. */
  useGpu?: boolean;
  /** Threads inside one operator; small tabular models gain nothing from more than one. */
  intraOpThreads?: number;
  log?: (message: string) => void;
}

export interface LoadedModel {
  readonly path: string;
  readonly signature: ModelSignature;
  readonly executionProvider: ExecutionProvider;
  /** The graph output whose values are returned as predictions. */
  readonly outputName: string;
  /** Score rows given in signature input order, as one tensor call; one prediction per row. */
  predict(rows: ReadonlyArray<ReadonlyArray<Cell>>): Promise<Prediction[]>;
  /** The graph's tensor outputs (the Open Inference Protocol names them; the first is `outputName`). */
  readonly outputs: readonly OutputInfo[];
  /** Score rows and return the named graph outputs whole (shape and flat data), for tensor protocols. */
  infer(rows: ReadonlyArray<ReadonlyArray<Cell>>, outputNames: readonly string[]): Promise<Record<string, OutputValue>>;
  close(): Promise<void>;
}

export interface OutputInfo {
  name: string;
  /** ONNX Runtime's tensor type: float32, float64, int64, bool, string, ... */
  type: string;
  /** -1 for a dimension the graph leaves open (the batch) */
  shape: number[];
}

export interface OutputValue {
  type: string;
  dims: number[];
  data: Array<number | string | boolean>;
}

type TensorType = Tensor.Type;
type TensorMeta = InferenceSession.ValueMetadata;

const SIGNATURE_TYPE_OF: Partial<Record<TensorType, SignatureColumn['type']>> = {
  float32: 'float',
  float64: 'double',
  int32: 'int',
  int64: 'long',
  string: 'string',
  bool: 'boolean',
};
const INTEGER_TENSORS = new Set<TensorType>(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

/** How signature columns become feeds: one [N, k] matrix, or one [N] / [N, 1] tensor per column. */
type InputPlan =
  | { layout: 'matrix'; input: string; type: TensorType }
  | { layout: 'columns'; inputs: { name: string; type: TensorType; rank: 1 | 2 }[] };

async function assertFile(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ModelError('INVALID_ARTIFACT', `model artifact ${path} is not a file`);
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError('ARTIFACT_NOT_FOUND', `no model artifact at ${path}`, { cause: err });
  }
}

async function openSession(path: string, options: LoadModelOptions): Promise<{ session: InferenceSession; provider: ExecutionProvider }> {
  const base: InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpThreads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // ORT writes its own warnings to stderr; errors reach us as exceptions anyway.
    logSeverityLevel: 3,
  };
  const create = async (providers: ExecutionProvider[]) => {
    try {
      return await InferenceSession.create(path, { ...base, executionProviders: providers });
    } catch (err) {
      throw new ModelError('INVALID_ARTIFACT', `${path} is not a model ONNX Runtime can load: ${(err as Error).message}`, { cause: err });
    }
  };
  if (options.useGpu) {
    try {
      return { session: await create(['cuda', 'cpu']), provider: 'cuda' };
    } catch (err) {
      options.log?.(`CUDA execution provider unavailable, running on CPU: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { session: await create(['cpu']), provider: 'cpu' };
}

const tensorMeta = (metas: readonly TensorMeta[], name: string) => {
  const meta = metas.find((m) => m.name === name);
  return meta && meta.isTensor ? meta : null;
};

function checkColumnFits(column: SignatureColumn, type: TensorType, input: string): void {
  const ok =
    type === 'string'
      ? column.type === 'string'
      : column.type !== 'string' && (!INTEGER_TENSORS.has(type) || column.type === 'int' || column.type === 'long' || column.type === 'boolean');
  if (!ok) {
    throw new ModelError('INVALID_SIGNATURE', `signature column "${column.name}" (${column.type}) cannot feed graph input "${input}" of type ${type}`);
  }
}

function planInputs(session: InferenceSession, signature: ModelSignature): InputPlan {
  const names = session.inputNames;
  const columns = signature.inputs;
  const byColumn = names.length === columns.length && columns.every((c) => names.includes(c.name));
  if (byColumn) {
    return {
      layout: 'columns',
      inputs: columns.map((column) => {
        const meta = tensorMeta(session.inputMetadata, column.name);
        if (!meta) throw new ModelError('INVALID_SIGNATURE', `graph input "${column.name}" is not a tensor`);
        const rank = meta.shape.length === 0 ? 1 : meta.shape.length;
        if (rank > 2 || (rank === 2 && typeof meta.shape[1] === 'number' && meta.shape[1] !== 1)) {
          throw new ModelError('INVALID_SIGNATURE', `graph input "${column.name}" has shape [${meta.shape.join(', ')}]; a column input must be [N] or [N, 1]`);
        }
        checkColumnFits(column, meta.type, column.name);
        return { name: column.name, type: meta.type, rank: rank as 1 | 2 };
      }),
    };
  }
  if (names.length !== 1) {
    throw new ModelError(
      'INVALID_SIGNATURE',
      `the graph has inputs ${names.map((n) => `"${n}"`).join(', ')}, which neither match the signature's column names nor form one matrix input`,
    );
  }
  const input = names[0] as string;
  const meta = tensorMeta(session.inputMetadata, input);
  if (!meta) throw new ModelError('INVALID_SIGNATURE', `graph input "${input}" is not a tensor`);
  if (meta.shape.length !== 2) {
    throw new ModelError('INVALID_SIGNATURE', `graph input "${input}" has shape [${meta.shape.join(', ')}]; a matrix input must be [N, ${columns.length}]`);
  }
  const width = meta.shape[1];
  if (typeof width === 'number' && width !== columns.length) {
    throw new ModelError('INVALID_SIGNATURE', `graph input "${input}" takes ${width} columns; the signature has ${columns.length}`);
  }
  for (const column of columns) checkColumnFits(column, meta.type, input);
  return { layout: 'matrix', input, type: meta.type };
}

function chooseOutput(session: InferenceSession, signature: ModelSignature): string {
  const named = signature.outputs[0]?.name;
  if (named !== undefined) {
    if (!session.outputNames.includes(named)) {
      throw new ModelError('INVALID_SIGNATURE', `signature output "${named}" is not an output of the graph (it has ${session.outputNames.join(', ')})`);
    }
    return named;
  }
  const firstTensor = session.outputMetadata.find((m) => m.isTensor);
  if (!firstTensor) throw new ModelError('INVALID_ARTIFACT', 'the graph has no tensor output to return as predictions');
  return firstTensor.name;
}

type NumericArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

function allocate(type: TensorType, size: number): NumericArray | BigInt64Array | BigUint64Array | string[] {
  switch (type) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int8':
      return new Int8Array(size);
    case 'int16':
      return new Int16Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'int64':
      return new BigInt64Array(size);
    case 'uint8':
    case 'bool':
      return new Uint8Array(size);
    case 'uint16':
      return new Uint16Array(size);
    case 'uint32':
      return new Uint32Array(size);
    case 'uint64':
      return new BigUint64Array(size);
    case 'string':
      return new Array<string>(size);
    default:
      throw new ModelError('INVALID_SIGNATURE', `graph inputs of type ${type} are not supported`);
  }
}

function store(target: ReturnType<typeof allocate>, index: number, value: Cell): void {
  if (Array.isArray(target)) target[index] = String(value);
  else if (target instanceof BigInt64Array || target instanceof BigUint64Array) target[index] = BigInt(value === true ? 1 : value === false ? 0 : (value as number));
  else target[index] = value === true ? 1 : value === false ? 0 : (value as number);
}

function buildFeeds(plan: InputPlan, rows: ReadonlyArray<ReadonlyArray<Cell>>, width: number): Record<string, Tensor> {
  const n = rows.length;
  if (plan.layout === 'matrix') {
    const data = allocate(plan.type, n * width);
    if (data instanceof Float64Array || data instanceof Float32Array) {
      // The hot path (every numeric tabular model): no per-cell type dispatch.
      let k = 0;
      for (let r = 0; r < n; r++) {
        const row = rows[r] as ReadonlyArray<Cell>;
        for (let j = 0; j < width; j++) data[k++] = row[j] as number;
      }
    } else {
      for (let r = 0; r < n; r++) {
        const row = rows[r] as ReadonlyArray<Cell>;
        for (let j = 0; j < width; j++) store(data, r * width + j, row[j] as Cell);
      }
    }
    return { [plan.input]: new Tensor(plan.type, data, [n, width]) };
  }
  const feeds: Record<string, Tensor> = {};
  plan.inputs.forEach((input, j) => {
    const data = allocate(input.type, n);
    for (let r = 0; r < n; r++) store(data, r, (rows[r] as ReadonlyArray<Cell>)[j] as Cell);
    feeds[input.name] = new Tensor(input.type, data, input.rank === 2 ? [n, 1] : [n]);
  });
  return feeds;
}

function plain(value: unknown): number | string | boolean {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  return String(value);
}

function toPredictions(tensor: Tensor, n: number, outputName: string): Prediction[] {
  const dims = tensor.dims;
  if (dims[0] !== n) throw new Error(`output "${outputName}" has ${dims[0]} rows for ${n} input rows`);
  const data = tensor.data as ArrayLike<unknown>;
  const perRow = dims.slice(1).reduce((a, b) => a * b, 1);
  const boolOut = tensor.type === 'bool';
  const cell = (v: unknown) => (boolOut ? v === 1 || v === true : plain(v));
  const out: Prediction[] = new Array(n);
  if (perRow === 1) {
    for (let r = 0; r < n; r++) out[r] = cell(data[r]);
  } else {
    for (let r = 0; r < n; r++) {
      const row: Array<number | string | boolean> = new Array(perRow);
      for (let k = 0; k < perRow; k++) row[k] = cell(data[r * perRow + k]);
      out[r] = row;
    }
  }
  return out;
}

/**
 * Load an ONNX artifact with its signature. Throws ModelError: ARTIFACT_NOT_FOUND,
 * INVALID_ARTIFACT (not a loadable model), INVALID_SIGNATURE (does not fit the graph).
 */
export async function loadModel(path: string, signature: ModelSignature | unknown, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const sig = parseSignature(signature);
  await assertFile(path);
  const { session, provider } = await openSession(path, options);
  let plan: InputPlan;
  let outputName: string;
  try {
    plan = planInputs(session, sig);
    outputName = chooseOutput(session, sig);
  } catch (err) {
    await session.release();
    throw err;
  }
  const width = sig.inputs.length;
  const fetches = [outputName];
  const tensorOutputs = session.outputMetadata.filter((m) => m.isTensor);
  const outputs: OutputInfo[] = [
    ...tensorOutputs.filter((m) => m.name === outputName),
    ...tensorOutputs.filter((m) => m.name !== outputName),
  ].map((m) => ({ name: m.name, type: (m as { type: string }).type, shape: (m as { shape: readonly (number | string)[] }).shape.map((d) => (typeof d === 'number' ? d : -1)) }));
  return {
    path,
    signature: sig,
    executionProvider: provider,
    outputName,
    async predict(rows) {
      if (rows.length === 0) return [];
      const results = await session.run(buildFeeds(plan, rows, width), fetches);
      return toPredictions(results[outputName] as Tensor, rows.length, outputName);
    },
    outputs,
    async infer(rows, outputNames) {
      const results = await session.run(buildFeeds(plan, rows, width), [...outputNames]);
      const out: Record<string, OutputValue> = {};
      for (const name of outputNames) {
        const t = results[name] as Tensor;
        const boolOut = t.type === 'bool';
        const raw = t.data as ArrayLike<unknown>;
        const data: Array<number | string | boolean> = new Array(raw.length);
        for (let i = 0; i < raw.length; i++) data[i] = boolOut ? raw[i] === 1 || raw[i] === true : plain(raw[i]);
        out[name] = { type: t.type, dims: [...t.dims], data };
      }
      return out;
    },
    close: () => session.release(),
  };
}

export interface ModelInspection {
  inputs: readonly TensorMeta[];
  outputs: readonly TensorMeta[];
  /** The signature the graph itself spells out, or null where its inputs do not name columns. */
  derivedSignature: ModelSignature | null;
}

function columnOf(meta: TensorMeta): SignatureColumn | null {
  if (!meta.isTensor) return null;
  const type = SIGNATURE_TYPE_OF[meta.type];
  return type ? { name: meta.name, type } : null;
}

/**
 * Open an artifact only to read its interface. A graph with one [N] or [N, 1] input per
 * column names its columns, so the signature comes from it; a single [N, k] matrix input
 * (k > 1) does not, and the caller must bring a signature.
 */
export async function inspectModel(path: string): Promise<ModelInspection> {
  await assertFile(path);
  const { session } = await openSession(path, {});
  try {
    const inputs = session.inputMetadata;
    const outputs = session.outputMetadata;
    // [N], [N, 1], or (with several inputs, each surely one column) [N, symbolic]
    const oneColumn = (m: TensorMeta) =>
      m.isTensor &&
      (m.shape.length <= 1 || (m.shape.length === 2 && (m.shape[1] === 1 || (inputs.length > 1 && typeof m.shape[1] !== 'number'))));
    const perColumn = inputs.every(oneColumn);
    const inputColumns = inputs.map(columnOf);
    const outputColumns = outputs.map(columnOf).filter((c): c is SignatureColumn => c !== null);
    const derivedSignature =
      perColumn && inputColumns.every((c) => c !== null)
        ? { inputs: inputColumns as SignatureColumn[], outputs: outputColumns.slice(0, 1) }
        : null;
    return { inputs, outputs, derivedSignature };
  } finally {
    await session.release();
  }
}
