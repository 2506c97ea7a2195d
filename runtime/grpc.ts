// The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`) on the runtime:
// ServerLive, ServerReady, ServerMetadata, ModelReady, ModelMetadata, ModelInfer. Tensors
// arrive typed (`contents`) or as raw little-endian bytes (`raw_input_contents`, as Triton's
// clients send them) and are checked and scored by the same code as the REST route
// (platform/scoring/oip.ts, runtime/oip.ts); an answer comes back in the form the request used.
// Errors are gRPC statuses with the message of the REST error and its code in the trailer
// `error-code`.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PIN_HEADER } from '../xds/contract.ts';
import { oipService, type GrpcTensor, type InferTensorContents, type ModelInferRequest, type ModelInferResponse } from '../proto/oip.ts';
import { ProtocolError, protocolError } from '../platform/scoring/errors.ts';
import { checkTensors, type InferRequest, type InferTensor, type OipDatatype, type OutputTensor } from '../platform/scoring/oip.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { LoadedModel } from './model.ts';
import { metadataOf, resolveModel, runInference, type ServedModel } from './oip.ts';

export interface OipGrpcOptions {
  served: ServedModel;
  model: () => LoadedModel | null;
  maxRows: number;
  metrics?: RuntimeMetrics;
  log: Logger;
}

const STATUS_OF: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  413: grpc.status.RESOURCE_EXHAUSTED,
  429: grpc.status.RESOURCE_EXHAUSTED,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

function grpcError(err: unknown): Partial<grpc.StatusObject> {
  const e = err instanceof ProtocolError ? err : protocolError('INTERNAL_ERROR', `the model failed to score the request: ${(err as Error).message}`);
  const metadata = new grpc.Metadata();
  metadata.set('error-code', e.code);
  return { code: STATUS_OF[e.status] ?? grpc.status.INTERNAL, details: e.message, metadata };
}

/** The content field of each datatype. */
const FIELD: Record<OipDatatype, keyof InferTensorContents | null> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP16: null,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const bad = (message: string, input?: string) => protocolError('BAD_REQUEST', message, input ? { input } : undefined);

function fromContents(t: GrpcTensor, datatype: OipDatatype): unknown[] {
  const field = FIELD[datatype];
  if (!field) throw bad(`input "${t.name}": ${datatype} travels only as raw_input_contents`, t.name);
  const c = t.contents ?? {};
  const values = (c[field] ?? []) as unknown[];
  if (values.length === 0) {
    const other = (Object.keys(c) as (keyof InferTensorContents)[]).find((k) => ((c[k] ?? []) as unknown[]).length > 0);
    if (other) throw bad(`input "${t.name}" is ${datatype} but its data is in ${other} (${datatype} data goes in ${field})`, t.name);
  }
  return datatype === 'BYTES' ? (values as Buffer[]).map((b) => Buffer.from(b).toString('utf8')) : values;
}

const WIDTH: Partial<Record<OipDatatype, number>> = { BOOL: 1, INT8: 1, UINT8: 1, INT16: 2, UINT16: 2, FP16: 2, INT32: 4, UINT32: 4, FP32: 4, INT64: 8, UINT64: 8, FP64: 8 };

function fromRaw(name: string, datatype: OipDatatype, raw: Buffer): unknown[] {
  if (datatype === 'BYTES') {
    const out: string[] = [];
    for (let at = 0; at < raw.length; ) {
      if (at + 4 > raw.length) throw bad(`input "${name}": raw BYTES data is cut inside a length prefix`, name);
      const len = raw.readUInt32LE(at);
      if (at + 4 + len > raw.length) throw bad(`input "${name}": raw BYTES element runs past the end of the data`, name);
      out.push(raw.toString('utf8', at + 4, at + 4 + len));
      at += 4 + len;
    }
    return out;
  }
  const width = WIDTH[datatype] as number;
  if (raw.length % width !== 0) throw bad(`input "${name}": ${raw.length} raw bytes is not a whole number of ${datatype} values`, name);
  const n = raw.length / width;
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * width;
    switch (datatype) {
      case 'BOOL':
        out[i] = raw[at] !== 0;
        break;
      case 'INT8':
        out[i] = raw.readInt8(at);
        break;
      case 'UINT8':
        out[i] = raw.readUInt8(at);
        break;
      case 'INT16':
        out[i] = raw.readInt16LE(at);
        break;
      case 'UINT16':
        out[i] = raw.readUInt16LE(at);
        break;
      case 'INT32':
        out[i] = raw.readInt32LE(at);
        break;
      case 'UINT32':
        out[i] = raw.readUInt32LE(at);
        break;
      case 'INT64':
        out[i] = Number(raw.readBigInt64LE(at));
        break;
      case 'UINT64':
        out[i] = Number(raw.readBigUInt64LE(at));
        break;
      case 'FP32':
        out[i] = raw.readFloatLE(at);
        break;
      case 'FP64':
        out[i] = raw.readDoubleLE(at);
        break;
      default:
        throw bad(`input "${name}": raw ${datatype} data is not served`, name);
    }
  }
  return out;
}

/** A protobuf ModelInferRequest → the checked tensors the REST route would have. */
export function decodeGrpcInfer(req: ModelInferRequest): InferRequest {
  const raw = req.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== req.inputs.length) {
    throw bad(`raw_input_contents has ${raw.length} entries for ${req.inputs.length} inputs; give one per input or none`);
  }
  const inputs: InferTensor[] = req.inputs.map((t, i) => {
    const datatype = t.datatype as OipDatatype;
    const shape = (t.shape ?? []).map(Number);
    if (!t.name) throw bad(`inputs[${i}] has no name`);
    if (!Object.hasOwn(FIELD, datatype)) return { name: t.name, datatype, shape, data: [] }; // checkTensors names it
    const data = raw.length > 0 ? fromRaw(t.name, datatype, raw[i] as Buffer) : fromContents(t, datatype);
    return { name: t.name, datatype, shape, data };
  });
  checkTensors(inputs);
  const out: InferRequest = { inputs, outputs: (req.outputs ?? []).length > 0 ? req.outputs.map((o) => o.name) : null };
  if (req.id) out.id = req.id;
  return out;
}

function toRaw(t: OutputTensor): Buffer {
  if (t.datatype === 'BYTES') {
    return Buffer.concat(
      t.data.map((v) => {
        const s = Buffer.from(String(v), 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(s.length);
        return Buffer.concat([len, s]);
      }),
    );
  }
  const width = WIDTH[t.datatype] ?? 8;
  const buf = Buffer.alloc(width * t.data.length);
  t.data.forEach((v, i) => {
    const at = i * width;
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
    switch (t.datatype) {
      case 'BOOL':
      case 'UINT8':
        buf.writeUInt8(n, at);
        break;
      case 'INT8':
        buf.writeInt8(n, at);
        break;
      case 'INT16':
        buf.writeInt16LE(n, at);
        break;
      case 'UINT16':
        buf.writeUInt16LE(n, at);
        break;
      case 'INT32':
        buf.writeInt32LE(n, at);
        break;
      case 'UINT32':
        buf.writeUInt32LE(n, at);
        break;
      case 'INT64':
        buf.writeBigInt64LE(BigInt(n), at);
        break;
      case 'UINT64':
        buf.writeBigUInt64LE(BigInt(n), at);
        break;
      case 'FP32':
        buf.writeFloatLE(n, at);
        break;
      default:
        buf.writeDoubleLE(n, at);
    }
  });
  return buf;
}

function toContents(t: OutputTensor): InferTensorContents {
  const field = FIELD[t.datatype] ?? 'fp64_contents';
  if (field === 'bytes_contents') return { bytes_contents: t.data.map((v) => Buffer.from(String(v), 'utf8')) };
  return { [field]: t.data } as InferTensorContents;
}

const headersOf = (md: grpc.Metadata): Record<string, string | undefined> => {
  const v = md.get(PIN_HEADER)[0];
  return { [PIN_HEADER]: typeof v === 'string' ? v : undefined };
};

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** The service implementation, to add to a grpc.Server. */
export function oipGrpcHandlers(o: OipGrpcOptions): grpc.UntypedServiceImplementation {
  const ready = () => o.model() !== null;
  const loaded = (): LoadedModel => {
    const m = o.model();
    if (!m) throw protocolError('TEMPORARILY_UNAVAILABLE', 'the model is still loading');
    return m;
  };
  const handlers: Record<string, Unary<never, unknown>> = {
    ServerLive: (_call, cb) => cb(null, { live: true }),
    ServerReady: (_call, cb) => cb(null, { ready: ready() }),
    ServerMetadata: (_call, cb) => cb(null, { name: 'sluice-runtime', version: '1', extensions: [] }),
    ModelReady: ((call: grpc.ServerUnaryCall<{ name: string; version: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      try {
        resolveModel(o.served, call.request.name, call.request.version || null, headersOf(call.metadata));
        cb(null, { ready: ready() });
      } catch (err) {
        cb(grpcError(err));
      }
    }) as Unary<never, unknown>,
    ModelMetadata: ((call: grpc.ServerUnaryCall<{ name: string; version: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      try {
        resolveModel(o.served, call.request.name, call.request.version || null, headersOf(call.metadata));
        cb(null, metadataOf(loaded(), call.request.name, call.request.version || o.served.version));
      } catch (err) {
        cb(grpcError(err));
      }
    }) as Unary<never, unknown>,
    ModelInfer: ((call: grpc.ServerUnaryCall<ModelInferRequest, ModelInferResponse>, cb: grpc.sendUnaryData<ModelInferResponse>) => {
      const started = performance.now();
      let status = 200;
      let rows = 0;
      void (async () => {
        const req = call.request;
        resolveModel(o.served, req.model_name, req.model_version || null, headersOf(call.metadata));
        const model = loaded();
        const result = await runInference(model, decodeGrpcInfer(req), o.maxRows);
        rows = result.rows;
        const raw = (req.raw_input_contents ?? []).length > 0;
        cb(null, {
          model_name: req.model_name,
          model_version: req.model_version || o.served.version,
          id: result.id,
          outputs: result.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, ...(raw ? {} : { contents: toContents(t) }) })),
          raw_output_contents: raw ? result.outputs.map(toRaw) : [],
        });
      })()
        .catch((err: unknown) => {
          status = err instanceof ProtocolError ? err.status : 500;
          if (status >= 500 && status !== 503) o.log.error({ err }, 'gRPC inference failed');
          cb(grpcError(err));
        })
        .finally(() => o.metrics?.observe(status, (performance.now() - started) / 1000, rows));
    }) as Unary<never, unknown>,
  };
  return handlers as grpc.UntypedServiceImplementation;
}

/** A grpc.Server with the OIP service; the caller binds it. */
export function createOipGrpcServer(o: OipGrpcOptions & { maxMessageBytes: number }): grpc.Server {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': o.maxMessageBytes, 'grpc.max_send_message_length': -1 });
  server.addService(oipService().service, oipGrpcHandlers(o));
  return server;
}
