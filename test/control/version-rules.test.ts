// The pure version rules shared by the domain, both orchestrators, the Kubernetes renderer
// and GraphQL: a row → its deployment (and the hash change detection compares), the one
// readiness rule, the status transitions on an orchestrator's report, and who may open a
// terminal on what.
import { describe, expect, it } from 'vitest';
import {
  deploymentHash,
  sourceSpec,
  versionDeployment,
  versionSpec,
  type ResourceGroupRow,
  type VersionRow,
} from '../../control/domain/deployment.ts';
import { nextVersionStatus, versionReadiness, type ReplicaReadiness } from '../../control/domain/status.ts';
import { terminalRefusal } from '../../control/domain/terminals.ts';
import type { Actor } from '../../control/domain/actor.ts';

const modelRow = (over: Partial<VersionRow> = {}): VersionRow => ({
  id: 'ver1',
  name: 'v1',
  replicas: 2,
  modelSource: 'REGISTRY',
  modelName: 'wine-classifier',
  modelVersion: '1',
  mlflowTrackingUri: null,
  image: null,
  command: null,
  env: null,
  port: null,
  registryUsername: null,
  registryPasswordEnc: null,
  cpu: 1,
  memoryGiB: 2,
  gpuType: null,
  gpuCount: 0,
  ...over,
});
const imageRow = (over: Partial<VersionRow> = {}): VersionRow =>
  modelRow({
    modelSource: 'IMAGE',
    modelName: null,
    modelVersion: null,
    image: 'registry.example/model:1',
    command: ['serve', '--port', '$PORT'],
    env: [{ name: 'MODE', value: 'fast' }],
    port: 9000,
    registryUsername: 'bot',
    registryPasswordEnc: 'sealed:hunter2',
    ...over,
  });
const placement: { groupName: string; resourceGroup: ResourceGroupRow | null } = { groupName: 'wine', resourceGroup: null };
const hashOf = (row: VersionRow, p = placement) => deploymentHash(versionSpec(row, p));

describe('a version row → its deployment', () => {
  it('an image version: command, env, port, and the registry password opened only on the way out', () => {
    const spec = versionSpec(imageRow(), placement);
    expect(spec.source).toEqual({
      kind: 'image',
      image: 'registry.example/model:1',
      command: ['serve', '--port', '$PORT'],
      env: [{ name: 'MODE', value: 'fast' }],
      port: 9000,
      registryUsername: 'bot',
      registryPasswordEnc: 'sealed:hunter2',
    });
    const d = versionDeployment(spec, { model: null, openSecret: (s) => s.replace('sealed:', '') });
    expect(d).toEqual({
      versionId: 'ver1',
      groupName: 'wine',
      versionName: 'v1',
      replicas: 2,
      source: { kind: 'image', image: 'registry.example/model:1', command: ['serve', '--port', '$PORT'], env: [{ name: 'MODE', value: 'fast' }], port: 9000, registryAuth: { username: 'bot', password: 'hunter2' } },
      resources: { cpu: 1, memoryGiB: 2, gpuType: null, gpuCount: 0 },
      dedicated: null,
    });
  });

  it('defaults: no port is 8080, no credentials is no registryAuth, missing lists are empty', () => {
    const d = versionDeployment(versionSpec(imageRow({ port: null, command: null, env: null, registryUsername: null, registryPasswordEnc: null }), placement), {
      model: null,
      openSecret: () => {
        throw new Error('nothing to open');
      },
    });
    expect(d.source).toMatchObject({ port: 8080, command: [], env: [], registryAuth: null });
  });

  it('a model version takes the resolved model; a dedicated group lends its nodes', () => {
    const model = { kind: 'model' as const, modelName: 'wine-classifier', modelVersion: '1', artifactUri: '/m.onnx', format: 'onnx', signature: { inputs: [], outputs: [] } };
    const rg = { name: 'gpu-pool', nodes: [{ name: 'n1', cpu: 8, memoryGiB: 32, gpuType: 'T4', gpuCount: 1, state: 'READY' }] };
    const d = versionDeployment(versionSpec(modelRow(), { groupName: 'wine', resourceGroup: rg }), { model, openSecret: (s) => s });
    expect(d.source).toBe(model);
    expect(d.dedicated).toEqual({ resourceGroupName: 'gpu-pool', nodes: rg.nodes });
    expect(() => versionDeployment(versionSpec(modelRow(), placement), { model: null, openSecret: (s) => s })).toThrow(/no resolved model/);
  });

  it('GraphQL and the renderer read the same source: an MLflow model keeps its tracking URI', () => {
    expect(sourceSpec(modelRow({ modelSource: 'MLFLOW', mlflowTrackingUri: 'http://mlflow:5000' }))).toEqual({
      kind: 'model', source: 'MLFLOW', name: 'wine-classifier', version: '1', trackingUri: 'http://mlflow:5000',
    });
  });
});

describe('change detection: the deployment hash', () => {
  it('is stable: the same row hashes the same, whatever the key order of its JSON columns', () => {
    expect(hashOf(imageRow())).toBe(hashOf(imageRow()));
    expect(hashOf(imageRow({ env: [{ value: 'fast', name: 'MODE' } as never] }))).toBe(hashOf(imageRow()));
  });

  // every field that changes what runs changes the hash — including the two a hand-kept
  // field list used to miss: the MLflow tracking URI and the registry credentials
  it.each<[string, VersionRow, VersionRow]>([
    ['replicas', modelRow(), modelRow({ replicas: 3 })],
    ['cpu', modelRow(), modelRow({ cpu: 2 })],
    ['memory', modelRow(), modelRow({ memoryGiB: 4 })],
    ['GPU type', modelRow({ gpuType: 'T4', gpuCount: 1 }), modelRow({ gpuType: 'A100', gpuCount: 1 })],
    ['GPU count', modelRow({ gpuType: 'T4', gpuCount: 1 }), modelRow({ gpuType: 'T4', gpuCount: 2 })],
    ['model version', modelRow(), modelRow({ modelVersion: '2' })],
    ['model name', modelRow(), modelRow({ modelName: 'other' })],
    ['model source', modelRow(), modelRow({ modelSource: 'MLFLOW', mlflowTrackingUri: 'http://a' })],
    ['MLflow tracking URI', modelRow({ modelSource: 'MLFLOW', mlflowTrackingUri: 'http://a' }), modelRow({ modelSource: 'MLFLOW', mlflowTrackingUri: 'http://b' })],
    ['image', imageRow(), imageRow({ image: 'registry.example/model:2' })],
    ['command', imageRow(), imageRow({ command: ['serve'] })],
    ['env', imageRow(), imageRow({ env: [{ name: 'MODE', value: 'slow' }] })],
    ['port', imageRow(), imageRow({ port: 9001 })],
    ['registry username', imageRow(), imageRow({ registryUsername: 'other' })],
    ['registry password', imageRow(), imageRow({ registryPasswordEnc: 'sealed:other' })],
    ['image ↔ model', imageRow(), modelRow()],
  ])('changes with the %s', (_field, a, b) => {
    expect(hashOf(a)).not.toBe(hashOf(b));
  });

  it('changes with the dedicated nodes, not with anything the data plane alone acts on', () => {
    const rg = { name: 'gpu-pool', nodes: [{ name: 'n1', cpu: 8, memoryGiB: 32, gpuType: 'T4', gpuCount: 1, state: 'READY' }] };
    expect(hashOf(modelRow(), { groupName: 'wine', resourceGroup: rg })).not.toBe(hashOf(modelRow()));
    // a full row with policy fields: auth, QPS, description are not part of what runs
    const full = { ...modelRow(), authEnabled: true, qpsLimit: 5, description: 'x' };
    expect(hashOf({ ...full, authEnabled: false, qpsLimit: null, description: 'y' } as VersionRow)).toBe(hashOf(full as VersionRow));
  });
});

describe('version readiness (one rule for every orchestrator)', () => {
  const r = (name: string, state: ReplicaReadiness['state'], reason?: string): ReplicaReadiness => ({ name, state, reason });
  it.each<[string, number, ReplicaReadiness[], ReturnType<typeof versionReadiness>]>([
    ['no replica wanted', 0, [], { status: 'RUNNING' }],
    ['none up yet', 2, [], null],
    ['one of two ready', 2, [r('a', 'RUNNING'), r('b', 'WAITING')], null],
    ['all ready', 2, [r('a', 'RUNNING'), r('b', 'RUNNING')], { status: 'RUNNING' }],
    ['more ready than wanted (rollout, scale-down)', 1, [r('a', 'RUNNING'), r('b', 'RUNNING')], { status: 'RUNNING' }],
    ['enough ready, an extra one still starting', 1, [r('a', 'RUNNING'), r('b', 'WAITING')], { status: 'RUNNING' }],
    ['a terminating replica does not count', 2, [r('a', 'RUNNING'), r('b', 'TERMINATING')], null],
    ['one failed', 2, [r('a', 'RUNNING'), r('b', 'FAILED', 'CrashLoopBackOff: exit 1')], { status: 'FAILED', reason: 'b: CrashLoopBackOff: exit 1' }],
    ['failed beats enough ready', 1, [r('a', 'RUNNING'), r('b', 'FAILED')], { status: 'FAILED', reason: 'b: failed' }],
  ])('%s', (_case, wanted, replicas, expected) => {
    expect(versionReadiness(wanted, replicas)).toEqual(expected);
  });
});

describe('version status on an orchestrator report', () => {
  it.each([
    ['STARTING', 'RUNNING', { to: 'RUNNING', reason: null }],
    ['FAILED', 'RUNNING', { to: 'RUNNING', reason: null }],
    ['RUNNING', 'RUNNING', null],
    ['STOPPING', 'RUNNING', null],
    ['STOPPED', 'RUNNING', null],
    ['DRAFT', 'RUNNING', null],
    ['STARTING', 'FAILED', { to: 'FAILED', reason: 'boom' }],
    ['RUNNING', 'FAILED', { to: 'FAILED', reason: 'boom' }],
    ['FAILED', 'FAILED', null],
    ['STOPPING', 'FAILED', null],
    ['STOPPED', 'FAILED', null],
    ['DRAFT', 'FAILED', null],
    ['STOPPING', 'STOPPED', { to: 'STOPPED', reason: null }],
    ['RUNNING', 'STOPPED', { to: 'FAILED', reason: 'replicas went away unexpectedly' }],
    ['STARTING', 'STOPPED', { to: 'FAILED', reason: 'replicas went away unexpectedly' }],
    ['STOPPED', 'STOPPED', null],
    ['FAILED', 'STOPPED', null],
    ['DRAFT', 'STOPPED', null],
  ] as const)('%s + report %s → %j', (from, status, expected) => {
    const reason = status === 'FAILED' ? 'boom' : undefined;
    expect(nextVersionStatus(from, { status, reason })).toEqual(expected);
  });
});

describe('who may open a terminal on what', () => {
  const admin: Actor = { userId: 'u1', username: 'root', role: 'ADMIN' };
  const dev: Actor = { userId: 'u2', username: 'dev', role: 'DEVELOPER' };
  const viewer: Actor = { userId: 'u3', username: 'ann', role: 'VIEWER' };
  const running = { name: 'wine-v1-0', state: 'RUNNING' as const };
  it.each([
    ['an admin, a running instance', admin, running, null],
    ['a developer', dev, running, 'FORBIDDEN'],
    ['a viewer, even for an instance that does not exist', viewer, null, 'FORBIDDEN'],
    ['an admin, no such instance', admin, null, 'NOT_FOUND'],
    ['an admin, a waiting instance', admin, { name: 'wine-v1-0', state: 'WAITING' as const }, 'CONFLICT'],
    ['an admin, a terminating instance', admin, { name: 'wine-v1-0', state: 'TERMINATING' as const }, 'CONFLICT'],
    ['an admin, a failed instance', admin, { name: 'wine-v1-0', state: 'FAILED' as const }, 'CONFLICT'],
  ])('%s → %s', (_case, actor, instance, code) => {
    expect(terminalRefusal(actor, instance, 'i1')?.code ?? null).toBe(code);
  });
});
