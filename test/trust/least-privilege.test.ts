// No role reaches past its rights: a viewer reads no other project's services through a
// resource group; env values are write-only secrets (sealed at rest, never returned,
// redacted in audit rows); new versions require a key; `registerModelVersion` reads only
// the import folder; the MLflow token goes only to the configured tracking server; an
// upstream error body is never echoed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, copyFileSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { ModelRegistry } from '../../control/registry/service.ts';
import { ArtifactStore } from '../../control/registry/artifacts.ts';
import { openObjectStore } from '../../platform/objectstore/open.ts';
import { mlflowClientFromEnv, MlflowError } from '../../control/registry/mlflow.ts';

describe('least privilege', () => {
  let cp: TestControlPlane;
  let viewerOfNothing: string;
  let viewerOfBeta: string;
  let rgId: string;
  let versionId: string;
  const SECRET = 'sk-live-0123456789-very-secret';

  async function user(name: string, role: 'VIEWER' | 'DEVELOPER'): Promise<{ id: string; token: string }> {
    const created = await cp.gql<{ createUser: { id: string } }>(`mutation($u: String!) { createUser(username: $u, password: "pass-word-123", role: ${role}) { id } }`, { u: name });
    const login = await cp.gql<{ login: { token: string } }>(`mutation($u: String!) { login(username: $u, password: "pass-word-123") { token } }`, { u: name }, null);
    return { id: created.data!.createUser.id, token: login.data!.login.token };
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    const alpha = await cp.gql<{ createProject: { id: string } }>(`mutation { createProject(name: "alpha") { id } }`);
    const beta = await cp.gql<{ createProject: { id: string } }>(`mutation { createProject(name: "beta") { id } }`);
    const alphaId = alpha.data!.createProject.id;
    const betaId = beta.data!.createProject.id;
    const rg = await cp.gql<{ createResourceGroup: { id: string } }>(
      `mutation($p: [ID!]) { createResourceGroup(name: "gpu-pool", projectIds: $p) { id } }`, { p: [alphaId, betaId] });
    expect(rg.errors).toBeUndefined();
    rgId = rg.data!.createResourceGroup.id;
    const group = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation($p: ID!) { createServiceGroup(input: { name: "alpha-secret", type: ML_SERVICE, projectId: $p }) { id } }`, { p: alphaId });
    const version = await cp.gql<{ addServiceVersion: { id: string } }>(
      `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
      { g: group.data!.createServiceGroup.id, input: { name: 'v1', resourceGroupId: rgId, image: { image: 'alpha/model:1', command: ['serve'], env: [{ name: 'API_TOKEN', value: SECRET }] } } },
    );
    expect(version.errors).toBeUndefined();
    versionId = version.data!.addServiceVersion.id;
    viewerOfNothing = (await user('nobody-viewer', 'VIEWER')).token;
    const b = await user('beta-viewer', 'VIEWER');
    await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: VIEWER) { id } }`, { p: betaId, u: b.id });
    viewerOfBeta = b.token;
  });

  afterAll(async () => {
    await cp?.close();
  });

  // pages small enough for the cost budget (every list is costed at its real bound, list-bounds.ts)
  const RG_DEEP = `{ resourceGroups(first: 5) { edges { node { id name boundGroup { name versions(first: 2) { name image { env { name value } command } } } projects(first: 5) { name serviceGroups(first: 5) { name } } } } } }`;

  it('a viewer of no project sees no resource group, by list or by id', async () => {
    const list = await cp.gql<{ resourceGroups: { edges: unknown[] } }>(RG_DEEP, {}, viewerOfNothing);
    expect(list.errors).toBeUndefined();
    expect(list.data!.resourceGroups.edges).toEqual([]);
    const one = await cp.gql<{ resourceGroup: unknown }>(`query($id: ID!) { resourceGroup(id: $id) { name boundGroup { name } } }`, { id: rgId }, viewerOfNothing);
    expect(one.data!.resourceGroup).toBeNull();
  });

  it('a viewer of another project sees the shared pool, but not the service bound to it nor the other project', async () => {
    const list = await cp.gql<{ resourceGroups: { edges: { node: { name: string; boundGroup: unknown; projects: { name: string; serviceGroups: unknown[] }[] } }[] } }>(RG_DEEP, {}, viewerOfBeta);
    expect(list.errors).toBeUndefined();
    expect(list.data!.resourceGroups.edges.map((e) => e.node)).toEqual([{ id: rgId, name: 'gpu-pool', boundGroup: null, projects: [{ name: 'beta', serviceGroups: [] }] }]);
    expect(JSON.stringify(list)).not.toContain(SECRET);
    expect(JSON.stringify(list)).not.toContain('alpha');
  });

  it('keeps env values write-only: sealed in the database, never returned, redacted in audit rows', async () => {
    const read = await cp.gql<{ serviceVersion: { image: { env: { name: string; value: string | null; hasValue: boolean }[] } } }>(
      `query($id: ID!) { serviceVersion(id: $id) { image { env { name value hasValue } } } }`, { id: versionId });
    expect(read.data!.serviceVersion.image.env).toEqual([{ name: 'API_TOKEN', value: null, hasValue: true }]);
    const row = await cp.db.prisma.serviceVersion.findUniqueOrThrow({ where: { id: versionId } });
    expect(JSON.stringify(row.env)).not.toContain(SECRET);
    const audits = await cp.db.prisma.auditLog.findMany({ where: { resourceId: versionId } });
    expect(audits.length).toBeGreaterThan(0);
    expect(JSON.stringify(audits)).not.toContain(SECRET);
    // the orchestrator still gets the real value to run the version with
    const deployment = await cp.plane.domain.versions.deployment(row);
    expect(deployment.source.kind === 'image' && deployment.source.env).toEqual([{ name: 'API_TOKEN', value: SECRET }]);
  });

  it('turns auth on for new versions unless told otherwise', async () => {
    const group = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "defaults", type: MODEL_SERVICE }) { id } }`);
    const v = await cp.gql<{ addServiceVersion: { authEnabled: boolean } }>(
      `mutation($g: ID!) { addServiceVersion(groupId: $g, input: { name: "v1", model: { name: "wine-classifier", version: "1" } }) { authEnabled } }`,
      { g: group.data!.createServiceGroup.id });
    expect(v.data!.addServiceVersion.authEnabled).toBe(true);
  });

  it('registers by path only from the import folder, symlinks included', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-import-'));
    try {
      const importDir = join(root, 'import');
      mkdirSync(importDir);
      copyFileSync('runtime/demo/wine-classifier/1/model.onnx', join(importDir, 'model.onnx'));
      symlinkSync(join(process.cwd(), 'runtime/demo/wine-classifier/2/model.onnx'), join(importDir, 'escape.onnx'));
      const registry = new ModelRegistry(cp.db.prisma, new ArtifactStore(openObjectStore(`file://${join(root, 'objects')}`), join(root, 'cache')), undefined, importDir);
      const signature = JSON.parse(readFileSync('runtime/demo/wine-classifier/1/signature.json', 'utf8')) as unknown;
      const dev = { userId: 'x', username: 'dev', role: 'DEVELOPER' as const };
      await expect(registry.register(dev, { name: 'outside', version: '1', path: join(process.cwd(), 'runtime/demo/wine-classifier/1/model.onnx'), signature })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(registry.register(dev, { name: 'outside', version: '2', path: join(importDir, 'escape.onnx'), signature })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(registry.register(dev, { name: 'outside', version: '3', path: join(importDir, '../import/../../etc/passwd'), signature })).rejects.toMatchObject({ code: expect.stringMatching(/FORBIDDEN|BAD_USER_INPUT/) });
      const ok = await registry.register({ ...dev, userId: (await cp.db.prisma.user.findFirstOrThrow()).id }, { name: 'inside', version: '1', path: join(importDir, 'model.onnx'), signature });
      expect(ok.name).toBe('inside');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('sends the MLflow token only to the configured tracking server, and echoes no upstream body', async () => {
    const seen: { url: string; authorization: string | null }[] = [];
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
      return new Response('<html>internal admin page: db password hunter2</html>', { status: 500 });
    }) as typeof fetch;
    const env = { MLFLOW_TRACKING_URI: 'http://mlflow.internal:5000', MLFLOW_TRACKING_TOKEN: 'the-real-token' };
    for (const uri of ['http://mlflow.internal:5000/', 'http://attacker.example:5000', 'http://mlflow.internal.attacker.example:5000']) {
      const client = mlflowClientFromEnv(env, { trackingUri: uri, fetch: fakeFetch });
      const error = await client.getRegisteredModel('m').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MlflowError);
      expect((error as Error).message).not.toContain('hunter2');
      expect((error as Error).message).not.toContain('<html>');
    }
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer the-real-token', null, null]);
    // an admin may trust more servers
    const trusted = mlflowClientFromEnv({ ...env, SLUICE_MLFLOW_TRUSTED_URIS: 'http://mlflow-2.internal' }, { trackingUri: 'http://mlflow-2.internal', fetch: fakeFetch });
    await trusted.getRegisteredModel('m').catch(() => undefined);
    expect(seen.at(-1)!.authorization).toBe('Bearer the-real-token');
  });
});
