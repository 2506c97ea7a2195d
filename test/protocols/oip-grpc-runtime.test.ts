// The Open Inference Protocol over gRPC on the runtime (runtime/grpc.ts), driven by a real
// gRPC client built from proto/grpc_predict_v2.proto (@grpc/grpc-js + proto-loader) on the
// runtime's one port, the same port its HTTP routes answer on: liveness, readiness,
// metadata, inference with typed `contents` and with Triton-style `raw_input_contents`,
// the version-pinned call, and the bad-input list as gRPC statuses with clear messages.
/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protocol messages of varying shape, asserted field by field */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oipService, type ModelInferRequest, type ModelInferResponse } from '../../proto/oip.ts';
import { demoEnv, spawnRuntime, waitReady, type SpawnedRuntime } from '../runtime/spawn-runtime.ts';
import { heldout } from './oip-cases.ts';

let rt: SpawnedRuntime;
let client: grpc.Client & Record<string, any>;
const N = heldout.rows.length;
const W = heldout.columns.length;

beforeAll(async () => {
  rt = await spawnRuntime(demoEnv('1'));
  await waitReady(rt.url);
  const Service = oipService();
  client = new Service(new URL(rt.url).host, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, any>;
}, 60_000);
afterAll(async () => {
  client?.close();
  await rt?.stop();
});

function unary<T>(method: string, request: unknown, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => client[method](request, metadata, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))));
}
async function failure(method: string, request: unknown): Promise<grpc.ServiceError> {
  try {
    await unary(method, request);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected an error');
}

const fp64Matrix = (n: number) => ({ name: 'input-0', datatype: 'FP64', shape: [n, W], contents: { fp64_contents: heldout.rows.slice(0, n).flat() } });
const request = (inputs: unknown[], extra: Partial<ModelInferRequest> = {}) => ({ model_name: 'wine-classifier', model_version: '', inputs, ...extra });

describe('OIP gRPC on the runtime', () => {
  it('ServerLive, ServerReady, ModelReady, ServerMetadata', async () => {
    expect(await unary('ServerLive', {})).toEqual({ live: true });
    expect(await unary('ServerReady', {})).toEqual({ ready: true });
    expect(await unary('ModelReady', { name: 'wine-classifier', version: '1' })).toEqual({ ready: true });
    expect(await unary('ServerMetadata', {})).toMatchObject({ name: 'sluice-runtime' });
  });

  it('ModelMetadata: typed inputs and outputs', async () => {
    const meta = await unary<Record<string, any>>('ModelMetadata', { name: 'wine-classifier', version: '' });
    expect(meta).toMatchObject({ name: 'wine-classifier', versions: ['1'], platform: 'onnxruntime_onnx' });
    expect(meta.inputs[12]).toEqual({ name: 'proline', datatype: 'FP64', shape: [-1] });
    expect(meta.outputs).toEqual([
      { name: 'label', datatype: 'INT64', shape: [-1] },
      { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
    ]);
  });

  it('ModelInfer with typed contents: a batch, labels and probabilities equal scikit-learn’s', async () => {
    const res = await unary<ModelInferResponse>('ModelInfer', request([fp64Matrix(N)], { id: 'g-1' }));
    expect(res).toMatchObject({ model_name: 'wine-classifier', model_version: '1', id: 'g-1' });
    const [label, probabilities] = res.outputs;
    expect(label).toMatchObject({ name: 'label', datatype: 'INT64', shape: [N] });
    expect(label?.contents?.int64_contents).toEqual(heldout.versions['1'].predictions);
    probabilities?.contents?.fp64_contents?.forEach((p, i) => expect(p).toBeCloseTo(heldout.versions['1'].probabilities.flat()[i] as number, 9));
    expect(res.raw_output_contents).toEqual([]);
  });

  it('ModelInfer with raw_input_contents answers raw_output_contents; one tensor per column; pinned version', async () => {
    const inputs = heldout.columns.map((c) => ({ name: c, datatype: 'FP64', shape: [N, 1] }));
    const raw = heldout.columns.map((_, j) => {
      const buf = Buffer.alloc(8 * N);
      heldout.rows.forEach((r, i) => buf.writeDoubleLE(r[j] as number, 8 * i));
      return buf;
    });
    const res = await unary<ModelInferResponse>('ModelInfer', request(inputs, { model_version: '1', raw_input_contents: raw, outputs: [{ name: 'label' }] }));
    expect(res.outputs.map((o) => o.name)).toEqual(['label']);
    const buf = res.raw_output_contents[0] as Buffer;
    const labels = Array.from({ length: N }, (_, i) => Number(buf.readBigInt64LE(8 * i)));
    expect(labels).toEqual(heldout.versions['1'].predictions);
  });

  it.each([
    ['an unknown model', request([fp64Matrix(1)], { model_name: 'nope' }), grpc.status.NOT_FOUND, 'no model "nope"'],
    ['an unknown version', request([fp64Matrix(1)], { model_version: '9' }), grpc.status.NOT_FOUND, 'no version "9"'],
    ['data in the field of another datatype', request([{ ...fp64Matrix(1), datatype: 'FP32' }]), grpc.status.INVALID_ARGUMENT, 'input "input-0" is FP32 but its data is in fp64_contents'],
    ['a datatype the column cannot take', request([{ name: 'input-0', datatype: 'BOOL', shape: [1, W], contents: { bool_contents: new Array(W).fill(true) } }]), grpc.status.INVALID_ARGUMENT, 'input "input-0" is BOOL'],
    ['a shape that does not match the data', request([{ ...fp64Matrix(1), shape: [2, W] }]), grpc.status.INVALID_ARGUMENT, `holds ${2 * W} values but data has ${W}`],
    ['an unknown input name', request([...heldout.columns.map((c) => ({ name: c, datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } })), { name: 'vintage', datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } }]), grpc.status.INVALID_ARGUMENT, 'unknown input "vintage"'],
    ['a missing input', request(heldout.columns.slice(1).map((c) => ({ name: c, datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } }))), grpc.status.INVALID_ARGUMENT, 'missing input "alcohol"'],
    ['raw contents of a partial value', request([{ name: 'input-0', datatype: 'FP64', shape: [1, W] }], { raw_input_contents: [Buffer.alloc(8 * W - 3)] }), grpc.status.INVALID_ARGUMENT, 'not a whole number of FP64 values'],
    ['an unknown datatype', request([{ ...fp64Matrix(1), datatype: 'FLOAT' }]), grpc.status.INVALID_ARGUMENT, 'unknown datatype "FLOAT"'],
  ])('%s → status %i', async (_name, req, code, message) => {
    const err = await failure('ModelInfer', req);
    expect(err.code).toBe(code);
    expect(err.details).toContain(message);
    expect(err.metadata.get('error-code')[0]).toMatch(/^[A-Z_]+$/);
  });

  it('a 20 MB tensor is RESOURCE_EXHAUSTED over the 10 MiB limit, and the service keeps answering', async () => {
    const n = 2_500_000;
    const err = await failure('ModelInfer', request([{ name: 'input-0', datatype: 'FP64', shape: [n / W | 0, W], contents: { fp64_contents: new Array(n).fill(1.5) } }]));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await unary<ModelInferResponse>('ModelInfer', request([fp64Matrix(1)]))).outputs).toHaveLength(2);
  });

  it('HTTP still answers on the same port', async () => {
    expect((await fetch(`${rt.url}/health`)).status).toBe(200);
  });
});
