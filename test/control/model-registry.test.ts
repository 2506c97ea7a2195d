// Registering model versions through GraphQL: from a path on the server or as an upload
// that lands in the object store; only real models with a usable signature are kept, and
// a version built on an uploaded model runs from a local copy of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

const DEMO = resolve('runtime/demo/wine-classifier/1');
const signature = JSON.parse(readFileSync(join(DEMO, 'signature.json'), 'utf8')) as unknown;
const REGISTER = `mutation($input: RegisterModelVersionInput!) { registerModelVersion(input: $input) { version artifactUri signature model { name } } }`;
const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

describe('model registry over GraphQL', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('registers an uploaded model into the object store and runs versions from a local copy', async () => {
    const content = readFileSync(join(DEMO, 'model.onnx')).toString('base64');
    const r = await cp.gql<{ registerModelVersion: { version: string; artifactUri: string; model: { name: string } } }>(REGISTER, {
      input: { name: 'uploaded-wine', version: '7', contentBase64: content, signature },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data?.registerModelVersion).toMatchObject({ version: '7', artifactUri: 'models/uploaded-wine/7/model.onnx', model: { name: 'uploaded-wine' } });
    expect(existsSync(join(cp.dataDir, 'objects', 'models/uploaded-wine/7/model.onnx'))).toBe(true);

    const group = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "uses-upload" }) { id } }`);
    const version = await cp.gql<{ addServiceVersion: { id: string } }>(
      `mutation($g: ID!) { addServiceVersion(groupId: $g, input: { name: "v1", model: { name: "uploaded-wine", version: "7" } }) { id } }`,
      { g: group.data!.createServiceGroup.id },
    );
    await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: version.data!.addServiceVersion.id });
    const deployment = cp.orchestrator.deployments.find((d) => d.versionId === version.data!.addServiceVersion.id)!;
    expect(deployment.source.kind).toBe('model');
    const path = (deployment.source as { artifactUri: string }).artifactUri;
    expect(path.startsWith('/')).toBe(true);
    expect(readFileSync(path).equals(readFileSync(join(DEMO, 'model.onnx')))).toBe(true);
  });

  it('registers by path, and refuses files that are not models, bad signatures and duplicates', async () => {
    const ok = await cp.gql(REGISTER, { input: { name: 'by-path', version: '1', path: join(DEMO, 'model.onnx'), signature } });
    expect(ok.errors).toBeUndefined();
    expect(codeOf(await cp.gql(REGISTER, { input: { name: 'by-path', version: '1', path: join(DEMO, 'model.onnx'), signature } }))).toBe('CONFLICT');

    const garbage = Buffer.from('this is not an onnx model').toString('base64');
    expect(codeOf(await cp.gql(REGISTER, { input: { name: 'junk', version: '1', contentBase64: garbage, signature } }))).toBe('BAD_USER_INPUT');
    expect(existsSync(join(cp.dataDir, 'objects', 'models/junk'))).toBe(false);
    expect(codeOf(await cp.gql(REGISTER, { input: { name: 'junk', version: '2', path: join(DEMO, 'signature.json'), signature } }))).toBe('BAD_USER_INPUT');
    // the demo graph takes an unnamed [N, 13] matrix: without a signature it cannot be served
    expect(codeOf(await cp.gql(REGISTER, { input: { name: 'junk', version: '3', path: join(DEMO, 'model.onnx') } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await cp.gql(REGISTER, { input: { name: 'junk', version: '4', path: join(DEMO, 'model.onnx'), signature: { inputs: [{ name: 'only-one', type: 'double' }], outputs: [] } } }))).toBe('BAD_USER_INPUT');
    expect(await cp.db.prisma.registeredModel.count({ where: { name: 'junk' } })).toBe(0);
  });

  it('lets viewers list models but not register them', async () => {
    await cp.gql(`mutation { createUser(username: "reader", password: "reader-pass-1", role: VIEWER) { id } }`);
    const login = await cp.gql<{ login: { token: string } }>(`mutation { login(username: "reader", password: "reader-pass-1") { token } }`, {}, null);
    const token = login.data!.login.token;
    const list = await cp.gql<{ registeredModels: { name: string }[] }>(`query { registeredModels { name } }`, {}, token);
    expect(list.data?.registeredModels.map((m) => m.name)).toContain('wine-classifier');
    expect(codeOf(await cp.gql(REGISTER, { input: { name: 'nope', version: '1', path: join(DEMO, 'model.onnx'), signature } }, token))).toBe('FORBIDDEN');
  });

  it('lists a model\'s newest versions past the cap, oldest first, so the latest stays pickable', async () => {
    const model = await cp.db.prisma.registeredModel.create({ data: { name: 'many-versions' } });
    const start = Date.parse('2026-01-01T00:00:00Z');
    await cp.db.prisma.modelVersion.createMany({
      data: Array.from({ length: 105 }, (_, i) => ({
        modelId: model.id, version: String(i + 1), artifactUri: 'models/many-versions/model.onnx', signature: signature as object, createdAt: new Date(start + i * 1000),
      })),
    });
    const list = await cp.gql<{ registeredModels: { name: string; versions: { version: string }[] }[] }>(
      `query { registeredModels(first: 10) { name versions { version } } }`,
    );
    const versions = list.data!.registeredModels.find((m) => m.name === 'many-versions')!.versions.map((v) => v.version);
    expect(versions).toHaveLength(100);
    expect(versions[0]).toBe('6');
    expect(versions.at(-1)).toBe('105');
    const few = await cp.gql<{ registeredModels: { name: string; versions: { version: string }[] }[] }>(
      `query { registeredModels(first: 10) { name versions(first: 2) { version } } }`,
    );
    expect(few.data!.registeredModels.find((m) => m.name === 'many-versions')!.versions.map((v) => v.version)).toEqual(['104', '105']);
  });
});
