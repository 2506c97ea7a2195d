// The MLflow registry client against a fake tracking server that records what it was sent:
// paths, query parameters, headers (auth), bodies; typed errors for each failure; and the
// model source that downloads an ONNX model through the artifact proxy and runs it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../platform/errors.ts';
import { MlflowError, createMlflowClient, mlflowClientFromEnv, type MlflowClient } from '../../control/registry/mlflow.ts';
import { createMlflowModelSource, signatureFromMlmodel } from '../../control/registry/mlflow-source.ts';
import { loadModel } from '../../runtime/model.ts';
import { DEMO_DIR, type Heldout } from '../runtime/spawn-runtime.ts';
import { startFakeMlflow, type FakeMlflow } from './fake-mlflow.ts';

const TOKEN = 'tok-123-secret';
const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const demoSignature = JSON.parse(readFileSync(`${DEMO_DIR}/wine-classifier/2/signature.json`, 'utf8')) as {
  inputs: { name: string; type: string }[];
};
// MLmodel as MLflow 2.x writes it for an ONNX model logged with a column signature
const MLMODEL = `artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.12.0
    providers:
    - CPUExecutionProvider
  python_function:
    data: model.onnx
    loader_module: mlflow.onnx
    python_version: 3.11.2
mlflow_version: 2.9.2
model_uuid: 0f3c6a5d
signature:
  inputs: '${JSON.stringify(demoSignature.inputs.map((c) => ({ type: c.type, name: c.name, required: true })))}'
  outputs: '[{"type": "long", "name": "label", "required": true}]'
  params: null
`;

let fake: FakeMlflow;
let client: MlflowClient;
const cacheDir = mkdtempSync(join(tmpdir(), 'sluice-mlflow-cache-'));

beforeAll(async () => {
  fake = await startFakeMlflow({
    requireAuth: `Bearer ${TOKEN}`,
    models: {
      'wine-classifier': [
        { version: '1', stage: 'Archived', downloadUri: 'mlflow-artifacts:/0/run1/artifacts/model' },
        { version: '2', stage: 'Production', aliases: ['champion'], downloadUri: 'mlflow-artifacts://tracking:5000/0/run2/artifacts/model' },
        { version: '3', status: 'PENDING_REGISTRATION', downloadUri: 's3://bucket/0/run3/artifacts/model' },
      ],
      'fraud detector': [{ version: '7', downloadUri: 'mlflow-artifacts:/1/x/artifacts/model' }],
    },
    artifacts: {
      '0/run2/artifacts/model/MLmodel': MLMODEL,
      '0/run2/artifacts/model/model.onnx': readFileSync(`${DEMO_DIR}/wine-classifier/2/model.onnx`),
      '0/run2/artifacts/model/metadata/requirements.txt': 'onnx\n',
      '0/run1/artifacts/model/MLmodel': 'flavors:\n  sklearn:\n    pickled_model: model.pkl\n',
    },
  });
  client = createMlflowClient({ trackingUri: `${fake.url}/`, token: TOKEN });
});

afterAll(async () => {
  await fake?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

async function mlflowError(promise: Promise<unknown>): Promise<MlflowError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MlflowError);
  return err as MlflowError;
}

const last = () => fake.requests[fake.requests.length - 1]!;

describe('MLflow registry client: requests', () => {
  it('gets a registered model: path, query, auth header', async () => {
    const model = await client.getRegisteredModel('fraud detector');
    expect(last().method).toBe('GET');
    expect(last().path).toBe('/api/2.0/mlflow/registered-models/get');
    expect(last().query.get('name')).toBe('fraud detector');
    expect(last().headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(last().headers.accept).toBe('application/json');
    expect(model).toMatchObject({
      name: 'fraud detector',
      description: 'fraud detector model',
      creationTimestamp: 1700000000000,
      tags: { owner: 'ds' },
      latestVersions: [{ version: '7', status: 'READY' }],
    });
  });

  it('gets versions by number and by alias, and the latest per stage', async () => {
    const v2 = await client.getModelVersion('wine-classifier', '2');
    expect(last().path).toBe('/api/2.0/mlflow/model-versions/get');
    expect(Object.fromEntries(last().query)).toEqual({ name: 'wine-classifier', version: '2' });
    expect(v2).toMatchObject({ name: 'wine-classifier', version: '2', currentStage: 'Production', runId: 'run2', aliases: ['champion'], tags: { team: 'ml' } });

    const champion = await client.getModelVersionByAlias('wine-classifier', 'champion');
    expect(last().path).toBe('/api/2.0/mlflow/registered-models/alias');
    expect(Object.fromEntries(last().query)).toEqual({ name: 'wine-classifier', alias: 'champion' });
    expect(champion.version).toBe('2');

    const production = await client.getLatestVersions('wine-classifier', ['Production']);
    expect(last()).toMatchObject({ method: 'POST', path: '/api/2.0/mlflow/registered-models/get-latest-versions' });
    expect(last().headers['content-type']).toBe('application/json');
    expect(JSON.parse(last().body)).toEqual({ name: 'wine-classifier', stages: ['Production'] });
    expect(production.map((v) => v.version)).toEqual(['2']);
  });

  it('gets the download URI', async () => {
    expect(await client.getDownloadUri('wine-classifier', '1')).toBe('mlflow-artifacts:/0/run1/artifacts/model');
    expect(last().path).toBe('/api/2.0/mlflow/model-versions/get-download-uri');
    expect(Object.fromEntries(last().query)).toEqual({ name: 'wine-classifier', version: '1' });
  });

  it('searches with filter, paging and ordering', async () => {
    const first = await client.searchRegisteredModels({ maxResults: 1, orderBy: ['name ASC', 'last_updated_timestamp DESC'] });
    expect(last().path).toBe('/api/2.0/mlflow/registered-models/search');
    expect(last().query.get('max_results')).toBe('1');
    expect(last().query.getAll('order_by')).toEqual(['name ASC', 'last_updated_timestamp DESC']);
    expect(first.items.map((m) => m.name)).toEqual(['fraud detector']);
    const second = await client.searchRegisteredModels({ maxResults: 1, pageToken: first.nextPageToken ?? '' });
    expect(last().query.get('page_token')).toBe('1');
    expect(second).toMatchObject({ items: [{ name: 'wine-classifier' }], nextPageToken: null });

    const versions = await client.searchModelVersions({ filter: "name='wine-classifier'" });
    expect(last().query.get('filter')).toBe("name='wine-classifier'");
    expect(versions.items.map((v) => v.version)).toEqual(['1', '2', '3']);
  });

  it('sends basic auth when given a user and password, from the environment like MLflow', async () => {
    const basic = mlflowClientFromEnv({ MLFLOW_TRACKING_URI: fake.url, MLFLOW_TRACKING_USERNAME: 'ann', MLFLOW_TRACKING_PASSWORD: 'pw' });
    await mlflowError(basic.getRegisteredModel('wine-classifier'));
    expect(last().headers.authorization).toBe(`Basic ${Buffer.from('ann:pw').toString('base64')}`);
    const withToken = mlflowClientFromEnv({ MLFLOW_TRACKING_URI: fake.url, MLFLOW_TRACKING_TOKEN: TOKEN });
    expect((await withToken.getRegisteredModel('wine-classifier')).name).toBe('wine-classifier');
    expect(() => mlflowClientFromEnv({})).toThrow(/MLFLOW_TRACKING_URI/);
  });
});

describe('MLflow registry client: typed errors', () => {
  it('NOT_FOUND with MLflow error code', async () => {
    const err = await mlflowError(client.getModelVersion('wine-classifier', '99'));
    expect(err).toMatchObject({ code: 'NOT_FOUND', status: 404, mlflowErrorCode: 'RESOURCE_DOES_NOT_EXIST' });
    expect(err.toSluiceError()).toBeInstanceOf(SluiceError);
    expect(err.toSluiceError().code).toBe('NOT_FOUND');
    expect((await mlflowError(client.getRegisteredModel(''))).code).toBe('BAD_USER_INPUT');
  });

  it('UNAUTHENTICATED without a token, FORBIDDEN with a wrong one; the token never shows in errors', async () => {
    const anonymous = createMlflowClient({ trackingUri: fake.url });
    expect((await mlflowError(anonymous.getRegisteredModel('wine-classifier'))).code).toBe('UNAUTHENTICATED');
    expect(last().headers.authorization).toBeUndefined();
    const wrong = createMlflowClient({ trackingUri: fake.url, token: 'not-the-token' });
    const err = await mlflowError(wrong.getRegisteredModel('wine-classifier'));
    expect(err.code).toBe('FORBIDDEN');
    expect(`${err.message} ${JSON.stringify(err)}`).not.toContain('not-the-token');
  });

  it('UPSTREAM_ERROR on a 500, UNAVAILABLE on a 503, INVALID_RESPONSE on a body that is not the API', async () => {
    fake.override('/api/2.0/mlflow/registered-models/get', 500, 'Internal Server Error', 'text/html');
    expect(await mlflowError(client.getRegisteredModel('wine-classifier'))).toMatchObject({ code: 'UPSTREAM_ERROR', status: 500 });
    fake.override('/api/2.0/mlflow/registered-models/get', 503, '{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}');
    expect(await mlflowError(client.getRegisteredModel('wine-classifier'))).toMatchObject({ code: 'UNAVAILABLE', mlflowErrorCode: 'TEMPORARILY_UNAVAILABLE' });
    fake.override('/api/2.0/mlflow/model-versions/get', 200, '{"model_version": {"version": "2"}}');
    expect((await mlflowError(client.getModelVersion('wine-classifier', '2'))).code).toBe('INVALID_RESPONSE');
    fake.override('/api/2.0/mlflow/model-versions/get', 200, '<html>login</html>', 'text/html');
    expect((await mlflowError(client.getModelVersion('wine-classifier', '2'))).code).toBe('INVALID_RESPONSE');
  });

  it('UNAVAILABLE when nothing listens or the server does not answer in time', async () => {
    const closed = createMlflowClient({ trackingUri: 'http://127.0.0.1:9', timeoutMs: 2000 });
    expect((await mlflowError(closed.getRegisteredModel('x'))).code).toBe('UNAVAILABLE');
    const never = (() => new Promise<Response>((_, reject) => setTimeout(() => reject(Object.assign(new Error('timed out'), { name: 'TimeoutError' })), 10))) as typeof fetch;
    const slow = createMlflowClient({ trackingUri: fake.url, fetch: never, timeoutMs: 5 });
    expect((await mlflowError(slow.getRegisteredModel('x'))).message).toContain('within 5 ms');
    expect(() => createMlflowClient({ trackingUri: 'ftp://x' })).toThrow(MlflowError);
  });
});

describe('MLflow model source', () => {
  const source = () => createMlflowModelSource({ clientFor: (uri) => createMlflowClient({ trackingUri: uri, token: TOKEN }), cacheDir });

  it('check: a READY version passes; missing or not-ready versions are BAD_USER_INPUT', async () => {
    await source().check(fake.url, 'wine-classifier', '2');
    await expect(source().check(fake.url, 'wine-classifier', '42')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(source().check(fake.url, 'wine-classifier', '3')).rejects.toThrow(/PENDING_REGISTRATION/);
    await expect(source().check('', 'wine-classifier', '2')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('resolve: downloads through the artifact proxy once, reads MLmodel, and the model runs', async () => {
    const before = fake.requests.length;
    const resolved = await source().resolve(fake.url, 'wine-classifier', '2');
    const downloads = fake.requests.slice(before).filter((r) => r.path.startsWith('/api/2.0/mlflow-artifacts/artifacts/')).map((r) => r.path);
    expect(downloads.sort()).toEqual([
      '/api/2.0/mlflow-artifacts/artifacts/0/run2/artifacts/model/MLmodel',
      '/api/2.0/mlflow-artifacts/artifacts/0/run2/artifacts/model/metadata/requirements.txt',
      '/api/2.0/mlflow-artifacts/artifacts/0/run2/artifacts/model/model.onnx',
    ]);
    expect(resolved.format).toBe('onnx');
    expect(resolved.artifactUri.startsWith(cacheDir)).toBe(true);
    expect(resolved.signature.inputs.map((c) => c.name)).toEqual(heldout.columns);
    expect(resolved.signature.outputs).toEqual([{ name: 'label', type: 'long' }]);
    const model = await loadModel(resolved.artifactUri, resolved.signature);
    try {
      expect(await model.predict(heldout.rows)).toEqual(heldout.versions['2'].predictions);
    } finally {
      await model.close();
    }
    // a second resolve uses the cached folder: only the download-URI call goes out
    const again = fake.requests.length;
    expect((await source().resolve(fake.url, 'wine-classifier', '2')).artifactUri).toBe(resolved.artifactUri);
    expect(fake.requests.slice(again).map((r) => r.path)).toEqual(['/api/2.0/mlflow/model-versions/get-download-uri']);
  });

  it('resolve: a non-ONNX model and an s3: location are clear BAD_USER_INPUT errors', async () => {
    await expect(source().resolve(fake.url, 'wine-classifier', '1')).rejects.toThrow(/no onnx flavor \(it has sklearn\)/);
    await expect(source().resolve(fake.url, 'wine-classifier', '3')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('s3: URI') });
  });

  it('reads MLflow column signatures and leaves tensor signatures to the graph', () => {
    expect(signatureFromMlmodel({ signature: { inputs: '[{"type": "integer", "name": "n"}, {"type": "string", "name": "s"}]' } })).toEqual({
      inputs: [
        { name: 'n', type: 'int' },
        { name: 's', type: 'string' },
      ],
      outputs: [],
    });
    expect(signatureFromMlmodel({ signature: { inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 13]}}]' } })).toBeNull();
    expect(signatureFromMlmodel({})).toBeNull();
    expect(() => signatureFromMlmodel({ signature: { inputs: '[{"type": "datetime", "name": "t"}]' } })).toThrow(/datetime/);
  });
});
