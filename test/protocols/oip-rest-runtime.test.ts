// The Open Inference Protocol's REST routes on the runtime (runtime/http.ts), with the real
// demo wine classifier: health, metadata typed from the signature and the graph, readiness,
// infer with one matrix or one tensor per column, batches, requested outputs (probabilities
// equal scikit-learn's), the version-pinned path, and every bad input answered with the
// protocol's error body and a clear message. Also per-column INT64 tensors on the typed model.
/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protocol messages of varying shape, asserted field by field */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoEnv, spawnRuntime, waitReady, type SpawnedRuntime } from '../runtime/spawn-runtime.ts';
import { spawnTypedRuntime } from './fixtures.ts';
import { OIP_BAD_INPUTS, heldout, matrix, perColumn, twentyMegabytes } from './oip-cases.ts';

let wine: SpawnedRuntime;
let typed: SpawnedRuntime;
beforeAll(async () => {
  [wine, typed] = await Promise.all([spawnRuntime(demoEnv('1')), spawnTypedRuntime()]);
  await waitReady(wine.url);
}, 60_000);
afterAll(async () => {
  await Promise.all([wine?.stop(), typed?.stop()]);
});

const infer = async (url: string, body: unknown, path = '/v2/models/wine-classifier/infer') => {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
};
const N = heldout.rows.length;
const v1 = heldout.versions['1'];

describe('OIP REST on the runtime', () => {
  it('server health and metadata', async () => {
    expect(await (await fetch(`${wine.url}/v2/health/live`)).json()).toEqual({ live: true });
    expect(await (await fetch(`${wine.url}/v2/health/ready`)).json()).toEqual({ ready: true });
    expect((await fetch(`${wine.url}/v2`)).status).toBe(200);
  });

  it('model metadata: typed inputs from the signature, outputs from the graph', async () => {
    const meta = await (await fetch(`${wine.url}/v2/models/wine-classifier`)).json();
    expect(meta).toMatchObject({ name: 'wine-classifier', versions: ['1'], platform: 'onnxruntime_onnx' });
    expect(meta.inputs).toHaveLength(13);
    expect(meta.inputs[0]).toEqual({ name: 'alcohol', datatype: 'FP64', shape: [-1] });
    expect(meta.outputs).toEqual([
      { name: 'label', datatype: 'INT64', shape: [-1] },
      { name: 'probabilities', datatype: 'FP64', shape: [-1, 3] },
    ]);
    expect(await (await fetch(`${wine.url}/v2/models/wine-classifier/ready`)).json()).toEqual({ name: 'wine-classifier', ready: true });
    expect((await fetch(`${wine.url}/v2/models/wine-classifier/versions/1/ready`)).status).toBe(200);
  });

  it('a batch as one [N, 13] matrix: labels and probabilities equal scikit-learn’s', async () => {
    const { status, json } = await infer(wine.url, { id: 'batch-1', inputs: [matrix(N)] });
    expect(status).toBe(200);
    expect(json).toMatchObject({ model_name: 'wine-classifier', model_version: '1', id: 'batch-1' });
    const [label, probabilities] = json.outputs;
    expect(label).toEqual({ name: 'label', datatype: 'INT64', shape: [N], data: v1.predictions });
    expect(probabilities.shape).toEqual([N, 3]);
    probabilities.data.forEach((p: number, i: number) => expect(p).toBeCloseTo(v1.probabilities.flat()[i] as number, 9));
  });

  it('one tensor per column, requested outputs only, and the version-pinned path', async () => {
    const { status, json } = await infer(wine.url, { inputs: perColumn(3), outputs: [{ name: 'probabilities' }], parameters: { note: 'x' } }, '/v2/models/wine-classifier/versions/1/infer');
    expect(status).toBe(200);
    expect(json.model_version).toBe('1');
    expect(json.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities']);
    expect(json.outputs[0].shape).toEqual([3, 3]);
    expect(typeof json.id).toBe('string');
  });

  it('INT64 and FP32 tensors for a (double, long) signature, nested data accepted', async () => {
    const { status, json } = await infer(
      typed.url,
      { inputs: [{ name: 'n', datatype: 'INT64', shape: [2, 1], data: [[2], [3]] }, { name: 'x', datatype: 'FP32', shape: [2], data: [1.5, 2] }] },
      '/v2/models/product/infer',
    );
    expect(status).toBe(200);
    expect(json.outputs).toEqual([{ name: 'y', datatype: 'FP64', shape: [2, 1], data: [3, 6] }]);
    const fraction = await infer(typed.url, { inputs: [{ name: 'n', datatype: 'FP64', shape: [1], data: [2.5] }, { name: 'x', datatype: 'FP64', shape: [1], data: [1] }] }, '/v2/models/product/infer');
    expect(fraction).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', error: expect.stringContaining('input "n" is FP64') } });
  });

  it('an unknown model or version is 404 with the protocol’s error body', async () => {
    const model = await infer(wine.url, { inputs: [matrix(1)] }, '/v2/models/nope/infer');
    expect(model).toEqual({ status: 404, json: { error: expect.stringContaining('no model "nope"'), error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    const version = await infer(wine.url, { inputs: [matrix(1)] }, '/v2/models/wine-classifier/versions/7/infer');
    expect(version).toEqual({ status: 404, json: { error: expect.stringContaining('no version "7"'), error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect((await fetch(`${wine.url}/v2/models/nope`)).status).toBe(404);
    expect((await fetch(`${wine.url}/v2/models/wine-classifier/versions/7/ready`)).status).toBe(404);
  });

  for (const c of OIP_BAD_INPUTS) {
    it(`bad input: ${c.name} → ${c.status} ${c.code}`, async () => {
      const { status, json } = await infer(wine.url, c.body);
      expect(status).toBe(c.status);
      expect(Object.keys(json).sort()).toEqual(['error', 'error_code']);
      expect(json.error_code).toBe(c.code);
      expect(json.error).toContain(c.message);
    });
  }

  it('a 20 MB tensor is 413 over the 10 MiB limit, and the runtime keeps serving', async () => {
    const { status, json } = await infer(wine.url, twentyMegabytes());
    expect(status).toBe(413);
    expect(json).toMatchObject({ error_code: 'RESOURCE_LIMIT_EXCEEDED', error: expect.stringContaining('over the limit') });
    expect((await infer(wine.url, { inputs: [matrix(1)] })).status).toBe(200);
  });

  it('wrong method and content type', async () => {
    expect((await fetch(`${wine.url}/v2/models/wine-classifier/infer`)).status).toBe(405);
    const res = await fetch(`${wine.url}/v2/models/wine-classifier/infer`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a' });
    expect(res.status).toBe(415);
    expect((await fetch(`${wine.url}/v2/repository/index`)).status).toBe(404);
  });
});
