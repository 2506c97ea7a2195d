// The in-process model API (loadModel, inspectModel) on the demo model and on small graphs
// of other shapes, the errors for artifacts and signatures that do not fit, and the HTTP
// app's readiness before a model is set.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../runtime/errors.ts';
import { createRuntimeApp } from '../../runtime/http.ts';
import { createRuntimeMetrics } from '../../runtime/metrics.ts';
import { inspectModel, loadModel, type LoadedModel } from '../../runtime/model.ts';
import { readSignatureFile } from '../../runtime/signature.ts';
import { DEMO_DIR, type Heldout } from './spawn-runtime.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const opened: LoadedModel[] = [];
afterAll(async () => {
  await Promise.all(opened.map((m) => m.close()));
});

async function open(path: string, signature: unknown): Promise<LoadedModel> {
  const model = await loadModel(path, signature);
  opened.push(model);
  return model;
}

async function modelError(promise: Promise<unknown>): Promise<ModelError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelError);
  return err as ModelError;
}

describe('loadModel', () => {
  it('the demo versions reproduce sklearn in one batch call', async () => {
    for (const version of ['1', '2'] as const) {
      const dir = `${DEMO_DIR}/wine-classifier/${version}`;
      const model = await open(`${dir}/model.onnx`, await readSignatureFile(`${dir}/signature.json`));
      expect(model.outputName).toBe('label');
      expect(model.executionProvider).toBe('cpu');
      expect(await model.predict(heldout.rows)).toEqual(heldout.versions[version].predictions);
      expect(await model.predict([])).toEqual([]);
    }
  });

  it('the probabilities output, chosen by the signature, matches predict_proba row by row', async () => {
    for (const version of ['1', '2'] as const) {
      const dir = `${DEMO_DIR}/wine-classifier/${version}`;
      const sig = await readSignatureFile(`${dir}/signature.json`);
      const model = await open(`${dir}/model.onnx`, { ...sig, outputs: [{ name: 'probabilities', type: 'double' }] });
      const probabilities = (await model.predict(heldout.rows)) as number[][];
      expect(probabilities).toHaveLength(heldout.rows.length);
      probabilities.forEach((row, r) => {
        row.forEach((p, k) => expect(p).toBeCloseTo(heldout.versions[version].probabilities[r]![k]!, 9));
      });
    }
  });

  it('a graph with one input per column gets one tensor per column (int64 included)', async () => {
    const model = await open(`${FIXTURES}per-column.onnx`, {
      inputs: [
        { name: 'n', type: 'long' },
        { name: 'x', type: 'double' },
      ],
      outputs: [{ name: 'y', type: 'double' }],
    });
    expect(await model.predict([
      [3, 1.5],
      [-2, 0.25],
    ])).toEqual([4.5, -0.5]);
  });

  it('boolean outputs come back as true/false', async () => {
    const model = await open(`${FIXTURES}bool-out.onnx`, {
      inputs: [
        { name: 'p', type: 'double' },
        { name: 'q', type: 'double' },
      ],
      outputs: [],
    });
    expect(await model.predict([
      [1, 2],
      [-5, 1],
    ])).toEqual([true, false]);
  });

  it('typed errors for a missing file, a file that is not a model, and a signature that does not fit', async () => {
    const sig = await readSignatureFile(`${DEMO_DIR}/wine-classifier/1/signature.json`);
    expect((await modelError(loadModel(`${FIXTURES}nope.onnx`, sig))).code).toBe('ARTIFACT_NOT_FOUND');
    expect((await modelError(loadModel(`${DEMO_DIR}/heldout.json`, sig))).code).toBe('INVALID_ARTIFACT');
    expect((await modelError(loadModel(FIXTURES, sig))).code).toBe('INVALID_ARTIFACT');
    const short = { inputs: sig.inputs.slice(0, 12), outputs: sig.outputs };
    const fit = await modelError(loadModel(`${DEMO_DIR}/wine-classifier/1/model.onnx`, short));
    expect(fit.code).toBe('INVALID_SIGNATURE');
    expect(fit.message).toContain('takes 13 columns; the signature has 12');
    const wrongOutput = await modelError(loadModel(`${DEMO_DIR}/wine-classifier/1/model.onnx`, { ...sig, outputs: [{ name: 'score', type: 'double' }] }));
    expect(wrongOutput.message).toContain('"score" is not an output');
    expect((await modelError(loadModel(`${DEMO_DIR}/wine-classifier/1/model.onnx`, { inputs: [] }))).code).toBe('INVALID_SIGNATURE');
    const strings = { inputs: sig.inputs.map((c) => ({ ...c, type: 'string' })), outputs: [] };
    expect((await modelError(loadModel(`${DEMO_DIR}/wine-classifier/1/model.onnx`, strings))).message).toContain('cannot feed graph input');
    const renamed = { inputs: [{ name: 'x', type: 'double' }, { name: 'm', type: 'long' }], outputs: [] };
    expect((await modelError(loadModel(`${FIXTURES}per-column.onnx`, renamed))).code).toBe('INVALID_SIGNATURE');
  });
});

describe('inspectModel', () => {
  it('derives the signature of a per-column graph', async () => {
    const info = await inspectModel(`${FIXTURES}per-column.onnx`);
    expect(info.derivedSignature).toEqual({
      inputs: [
        { name: 'x', type: 'double' },
        { name: 'n', type: 'long' },
      ],
      outputs: [{ name: 'y', type: 'double' }],
    });
  });

  it('cannot name the columns of a single matrix input', async () => {
    const info = await inspectModel(`${DEMO_DIR}/wine-classifier/2/model.onnx`);
    expect(info.derivedSignature).toBeNull();
    expect(info.inputs[0]).toMatchObject({ name: 'input', isTensor: true, type: 'float64', shape: ['N', 13] });
    expect(info.outputs.map((o) => o.name)).toEqual(['label', 'probabilities']);
  });
});

describe('runtime app readiness', () => {
  it('answers /health at once, /ready and /invocations 503 until the model is set', async () => {
    const app = createRuntimeApp({
      metrics: createRuntimeMetrics({ model: 'm', version: '1' }, { processMetrics: false }),
      log: pino({ level: 'silent' }),
      bodyLimitBytes: 1024 * 1024,
      maxRows: 100,
      modelName: 'm',
      modelVersion: '1',
    });
    await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const notReady = await fetch(`${url}/ready`);
      expect(notReady.status).toBe(503);
      expect((await notReady.json()).error_code).toBe('TEMPORARILY_UNAVAILABLE');
      const early = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs":[[1]]}' });
      expect(early.status).toBe(503);

      const dir = `${DEMO_DIR}/wine-classifier/1`;
      app.setModel(await open(`${dir}/model.onnx`, await readSignatureFile(`${dir}/signature.json`)));
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      const scored = await fetch(`${url}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ dataframe_split: { columns: heldout.columns, data: heldout.rows.slice(0, 4) } }),
      });
      expect(await scored.json()).toEqual({ predictions: heldout.versions['1'].predictions.slice(0, 4) });
    } finally {
      app.server.closeAllConnections();
      await new Promise((r) => app.server.close(r));
    }
  });
});
