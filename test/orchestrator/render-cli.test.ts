// `npm run k8s:render -- <group>`: from a JSON file and from a real (SQLite) database, with
// the registry password never printed.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applyMigrations, createDatabase } from '../../platform/db/index.ts';
import { main } from '../../control/orchestrator/kubernetes/render-cli.ts';
import type { ModelSignature } from '../../platform/model-signature.ts';
import type { VersionDeployment } from '../../control/orchestrator/port.ts';

const run = promisify(execFile);
// `npm run k8s:render` runs the build (test/global-build.ts keeps dist/ current)
const CLI = fileURLToPath(new URL('../../dist/control/orchestrator/kubernetes/render-cli.js', import.meta.url));
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-render-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** In-process (fast); `spawnRender` checks the real (built) entry point once. */
async function render(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: { write: (t: string) => (stdout += t) }, err: { write: (t: string) => (stderr += t) } }, { ...process.env, ...env });
  return { code, stdout, stderr };
}

async function spawnRender(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--enable-source-maps', CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

type Doc = { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: { replicas?: number; template?: { spec?: { containers: { image: string; resources: unknown }[]; nodeSelector?: Record<string, string> } } } };

it('renders from a JSON file, redacting registry credentials', async () => {
  const d: VersionDeployment = {
    versionId: 'v-1',
    groupName: 'shop',
    versionName: 'blue',
    replicas: 2,
    source: { kind: 'image', image: 'registry.example.com/a/b:1', command: ['serve'], env: [], port: 9000, registryAuth: { username: 'u', password: 'hunter2-secret' } },
    resources: { cpu: 2, memoryGiB: 4, gpuType: 'T4', gpuCount: 1 },
    dedicated: null,
  };
  const file = join(dir, 'deployments.json');
  writeFileSync(file, JSON.stringify([d, { ...d, versionId: 'v-2', groupName: 'other' }]));
  const out = await spawnRender(['shop', '--file', file, '--namespace', 'ml']);
  expect(out.code).toBe(0);
  expect(out.stdout).not.toContain('hunter2');
  const docs = loadAllYaml(out.stdout) as Doc[];
  expect(docs.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual(['Secret/shop-blue-pull', 'Deployment/shop-blue', 'Service/shop-blue']);
  expect(docs[0]?.data).toEqual({ '.dockerconfigjson': '<redacted>' });
  expect(docs[1]?.spec?.template?.spec?.containers[0]?.resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' } });
  expect((await render(['shop', '--file', file, '--namespace', 'ml'])).stdout).toBe(out.stdout);

  expect((await render([])).code).toBe(2);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"not": "an array"}');
  const badOut = await render(['shop', '--file', bad]);
  expect(badOut.code).toBe(1);
  expect(badOut.stderr).toContain('BAD_USER_INPUT');
});

it('runs model versions on the runtime image named by --runtime-image, else SLUICE_RUNTIME_IMAGE', async () => {
  const d: VersionDeployment = {
    versionId: 'v-m',
    groupName: 'wine',
    versionName: 'v1',
    replicas: 1,
    source: { kind: 'model', modelName: 'wine-classifier', modelVersion: '1', artifactUri: 's3://models/wine/1/model.onnx', format: 'onnx', signature: { inputs: [{ name: 'alcohol', type: 'double' }], outputs: [{ name: 'label', type: 'long' }] } as ModelSignature },
    resources: { cpu: 1, memoryGiB: 1, gpuType: null, gpuCount: 0 },
    dedicated: null,
  };
  const file = join(dir, 'model-deployments.json');
  writeFileSync(file, JSON.stringify([d]));
  const image = (out: { stdout: string }) => (loadAllYaml(out.stdout) as Doc[]).find((x) => x.kind === 'Deployment')?.spec?.template?.spec?.containers[0]?.image;
  expect(image(await render(['wine', '--file', file], { SLUICE_RUNTIME_IMAGE: '' }))).toBe('ghcr.io/sluice-ml/sluice-runtime:0.1.0');
  expect(image(await render(['wine', '--file', file], { SLUICE_RUNTIME_IMAGE: 'registry.example.com/sluice-runtime:dev' }))).toBe('registry.example.com/sluice-runtime:dev');
  expect(image(await render(['wine', '--file', file, '--runtime-image', 'r.example/x:1'], { SLUICE_RUNTIME_IMAGE: 'registry.example.com/sluice-runtime:dev' }))).toBe('r.example/x:1');
});

it('renders a group read from the database', async () => {
  const url = `file:${join(dir, 'sluice.db')}`;
  await applyMigrations(url);
  const db = await createDatabase(url);
  try {
    const project = await db.prisma.project.create({ data: { name: 'p' } });
    const rg = await db.prisma.resourceGroup.create({
      data: { name: 'rg-a', tags: [], nodes: { create: [{ name: 'n1', cpu: 8, memoryGiB: 32, gpuType: 'A100', gpuCount: 2 }] } },
    });
    const model = await db.prisma.registeredModel.create({ data: { name: 'wine-classifier' } });
    await db.prisma.modelVersion.create({
      data: { modelId: model.id, version: '1', artifactUri: 'models/wine-classifier/1/model.onnx', signature: { inputs: [{ name: 'alcohol', type: 'double' }], outputs: [] } },
    });
    const group = await db.prisma.serviceGroup.create({ data: { name: 'wine-quality', projectId: project.id } });
    await db.prisma.serviceVersion.create({
      data: { groupId: group.id, name: 'v1', modelSource: 'REGISTRY', modelName: 'wine-classifier', modelVersion: '1', replicas: 3, cpu: 1, memoryGiB: 2, resourceSource: 'DEDICATED', resourceGroupId: rg.id },
    });
  } finally {
    await db.close();
  }
  const out = await render(['wine-quality'], { DATABASE_URL: url, SLUICE_OBJECT_STORE: 's3://models-bucket/sluice' });
  expect(out.stderr).toBe('');
  const docs = loadAllYaml(out.stdout) as Doc[];
  expect(docs.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual(['ConfigMap/wine-quality-v1-signature', 'Deployment/wine-quality-v1', 'Service/wine-quality-v1']);
  expect(docs[1]?.spec?.replicas).toBe(3);
  expect(docs[1]?.spec?.template?.spec?.nodeSelector).toEqual({ 'sluice.io/resource-group': 'rg-a' });
  expect(out.stdout).toContain('s3://models-bucket/sluice/models/wine-classifier/1/model.onnx');

  const missing = await render(['nope'], { DATABASE_URL: url });
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('NOT_FOUND');
}, 60_000);
