// Kubernetes watch events become database rows: a real control plane (fresh database, real
// auth, GraphQL over HTTP) wired to the real Kubernetes orchestrator, which talks to the fake
// API server. A GPU image version on a dedicated resource group is started through GraphQL;
// the test checks the objects the API server received, then plays back what a cluster would
// say (pod phases, a restart, a folded warning, a crash loop, the pods going away on stop)
// and checks the Instance and Event rows, the version/group status and traffic, both in the
// database and through GraphQL reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuth } from '../../control/auth/index.ts';
import { createControlPlane, type ControlPlane } from '../../control/app.ts';
import { startControlServer, type ControlServer } from '../../control/http/server.ts';
import { openObjectStore } from '../../platform/objectstore/open.ts';
import { createKubernetesOrchestrator } from '../../control/orchestrator/kubernetes/index.ts';
import type { Orchestrator } from '../../control/orchestrator/port.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import type { PubSub } from '../../platform/pubsub/port.ts';
import { ArtifactStore } from '../../control/registry/artifacts.ts';
import { RegistryModelResolver } from '../../control/registry/resolver.ts';
import { freshDatabase, providers, type TestDatabase } from '../fixtures/db.ts';
import type { GraphQLResult } from '../fixtures/control-plane.ts';
import { FakeKube } from '../orchestrator/fake-kube.ts';

const NS = 'sluice';
const DEPLOYMENT = 'vision-gpu1'; // resourceName('vision', 'gpu1')
const POD = 'vision-gpu1-7d9f8-abcde';
const POD_IP = '10.1.0.7';
const REGISTRY_PASSWORD = 's3cret-registry-pass';

type KubeObject = Parameters<FakeKube['put']>[2];

interface GroupRead {
  serviceGroup: {
    status: string;
    versions: {
      id: string;
      status: string;
      statusReason: string | null;
      trafficPercent: number;
      instances: { name: string; state: string; stateReason: string | null; restartCount: number; host: string | null; port: number | null; node: string | null }[];
    }[];
  };
}

interface EventsRead {
  events: { edges: { node: { reason: string; count: number; level: string; resourceKind: string; resourceName: string; message: string } }[] };
}

describe.each(providers)('Kubernetes watch events become rows (%s)', (provider) => {
  let kube: FakeKube;
  let orchestrator: Orchestrator;
  let db: TestDatabase;
  let pubsub: PubSub;
  let plane: ControlPlane;
  let server: ControlServer;
  let dataDir: string;
  let adminToken: string;

  beforeAll(async () => {
    kube = new FakeKube();
    await kube.start();
    orchestrator = createKubernetesOrchestrator({ kubeConfig: kube.kubeConfig(), namespace: NS, metricsPeriodMs: 0, rewatchDelayMs: 100 });
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-k8s-rows-'));
    db = await freshDatabase(provider);
    pubsub = createMemoryPubSub();
    const auth = await openAuth({ dataDir, env: {} });
    adminToken = auth.admin.token;
    const artifacts = new ArtifactStore(openObjectStore(`file://${join(dataDir, 'objects')}`), join(dataDir, 'models'));
    plane = await createControlPlane({
      db,
      pubsub,
      orchestrator,
      auth,
      models: new RegistryModelResolver(db.prisma, null, artifacts),
      edgeBaseUrl: 'http://127.0.0.1:8080',
    });
    server = await startControlServer(0, '127.0.0.1', { schema: plane.schema, context: plane.contextFor, log: () => undefined, webRoot: null });
    await until(async () => kube.watcherCount('pods') === 1 && kube.watcherCount('events') === 1 && kube.watcherCount('endpointslices') === 1, 'the informers to watch');
  });

  afterAll(async () => {
    await plane?.domain.lifecycle.idle();
    plane?.domain.lifecycle.close();
    await server?.close();
    await orchestrator?.close();
    await kube?.stop();
    await pubsub?.close();
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GraphQLResult<T>;
    expect(body.errors, query.slice(0, 60)).toBeUndefined();
    return body.data as T;
  }

  /** Bounded polling: let the watch deliver, let the lifecycle apply, check again. */
  async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await plane?.domain.lifecycle.idle();
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lifecycle errors: ${String(plane?.domain.lifecycle.errors())}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('turns pods, restarts, events and a crash loop into rows, and a stop into none', async () => {
    // ── a dedicated GPU resource group and a custom-image version on it ──
    const project = await plane.prisma.project.findUniqueOrThrow({ where: { name: 'default' } });
    const rg = await gql<{ createResourceGroup: { id: string } }>(`mutation($p: [ID!]) { createResourceGroup(name: "rg-gpu", projectIds: $p) { id } }`, { p: [project.id] });
    const rgId = rg.createResourceGroup.id;
    await gql(
      `mutation($id: ID!) { addResourceNode(resourceGroupId: $id, node: { name: "gpu-node-1", cpu: 16, memoryGiB: 64, gpuType: "A100", gpuCount: 4 }) { id } }`,
      { id: rgId },
    );
    const group = await gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "vision", type: MODEL_SERVICE }) { id } }`);
    const groupId = group.createServiceGroup.id;
    const added = await gql<{ addServiceVersion: { id: string; status: string } }>(
      `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id status } }`,
      {
        g: groupId,
        input: {
          name: 'gpu1',
          image: {
            image: 'registry.example.com/vision/detector:2.1',
            command: ['python', '-m', 'serve'],
            port: 9000,
            env: [{ name: 'MODEL_THREADS', value: '4' }],
            registryUsername: 'robot',
            registryPassword: REGISTRY_PASSWORD,
          },
          resourceGroupId: rgId,
          resources: { cpu: 4, memoryGiB: 8, gpuType: 'A100', gpuCount: 1 },
        },
      },
    );
    const versionId = added.addServiceVersion.id;
    expect(added.addServiceVersion.status).toBe('DRAFT');

    const started = await gql<{ startServiceVersion: { status: string } }>(`mutation($id: ID!) { startServiceVersion(id: $id) { status } }`, { id: versionId });
    expect(started.startServiceVersion.status).toBe('STARTING');

    // ── what the API server received: pull Secret, Deployment, Service, by server-side apply ──
    const applied = kube.requests.filter((r) => r.method === 'PATCH').map((r) => [r.path, r.contentType]);
    expect(applied).toEqual([
      [`/api/v1/namespaces/${NS}/secrets/${DEPLOYMENT}-pull`, 'application/apply-patch+yaml'],
      [`/apis/apps/v1/namespaces/${NS}/deployments/${DEPLOYMENT}`, 'application/apply-patch+yaml'],
      [`/api/v1/namespaces/${NS}/services/${DEPLOYMENT}`, 'application/apply-patch+yaml'],
    ]);
    const secret = kube.get('secrets', `${DEPLOYMENT}-pull`) as KubeObject & { type: string; data: Record<string, string> };
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    // The sealed password was opened for the cluster (and only there).
    const dockerConfig = JSON.parse(Buffer.from(secret.data['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as { auths: Record<string, { username: string; password: string }> };
    expect(dockerConfig.auths['registry.example.com']).toMatchObject({ username: 'robot', password: REGISTRY_PASSWORD });
    const deployment = kube.get('deployments', DEPLOYMENT) as KubeObject & {
      spec: { replicas: number; template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: PodSpec } };
    };
    expect(deployment.metadata.labels?.['sluice.io/version-id']).toBe(versionId);
    expect(deployment.spec.replicas).toBe(1);
    const podSpec = deployment.spec.template.spec;
    expect(podSpec.nodeSelector).toEqual({ 'sluice.io/resource-group': 'rg-gpu' });
    expect(podSpec.imagePullSecrets).toEqual([{ name: `${DEPLOYMENT}-pull` }]);
    expect(podSpec.containers[0]?.image).toBe('registry.example.com/vision/detector:2.1');
    expect(podSpec.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    expect(kube.get('services', DEPLOYMENT)).toMatchObject({ spec: { selector: { 'sluice.io/group': 'vision', 'sluice.io/version': 'gpu1' } } });
    expect(JSON.stringify(await plane.prisma.serviceVersion.findUniqueOrThrow({ where: { id: versionId } }))).not.toContain(REGISTRY_PASSWORD);

    // Pods as the Deployment's ReplicaSet would make them: its template's labels and spec.
    const template = deployment.spec.template;
    const pod = (status: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: POD, namespace: NS, labels: { ...template.metadata.labels, 'pod-template-hash': '7d9f8' }, annotations: { ...template.metadata.annotations }, ...extra },
      spec: { ...structuredClone(podSpec), nodeName: 'gpu-node-1' },
      status,
    });
    const running = (restartCount: number) => ({
      phase: 'Running',
      podIP: POD_IP,
      startTime: '2026-11-27T10:00:00Z',
      conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: podSpec.containers[0]?.name, ready: true, restartCount, image: 'x', imageID: 'x', state: { running: {} } }],
    });
    const instances = () => plane.prisma.instance.findMany({ where: { versionId } });
    const versionRow = () => plane.prisma.serviceVersion.findUniqueOrThrow({ where: { id: versionId } });
    const readGroup = async () =>
      (await gql<GroupRead>(
        `query($id: ID) { serviceGroup(id: $id) { status versions { id status statusReason trafficPercent instances { name state stateReason restartCount host port node } } } }`,
        { id: groupId },
      )).serviceGroup;

    const eventRow = (reason: string) => plane.prisma.event.findFirst({ where: { versionId, reason } });

    // ── the scheduler's warning about the new pod, on the event watch before the pod is on
    // the pod watch (separate streams), written the events.k8s.io way: no `count`, repeats
    // in `series.count` ──
    const schedulingMessage = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.';
    kube.put('events', 'ADDED', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${POD}.17a1b2c0`, namespace: NS },
      involvedObject: { kind: 'Pod', name: POD, namespace: NS },
      reason: 'FailedScheduling',
      message: schedulingMessage,
      type: 'Warning',
      eventTime: new Date().toISOString(),
    } as unknown as KubeObject);
    await until(async () => (await eventRow('FailedScheduling')) !== null, 'the FailedScheduling event row');

    // ── Pending: an Instance row WAITING, the version still STARTING ──
    kube.put('pods', 'ADDED', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }));
    await until(async () => (await instances()).length === 1, 'the pending pod row');
    expect(await instances()).toMatchObject([{ name: POD, state: 'WAITING', stateReason: 'Unschedulable', restartCount: 0 }]);
    expect((await versionRow()).status).toBe('STARTING');
    // Two more attempts, seen in one update (series.count 1 → 3): the row counts all three.
    kube.put('events', 'MODIFIED', {
      ...(kube.get('events', `${POD}.17a1b2c0`) as object),
      series: { count: 3, lastObservedTime: new Date().toISOString() },
    } as unknown as KubeObject);
    await until(async () => (await eventRow('FailedScheduling'))?.count === 3, 'FailedScheduling counted 3 times');
    expect(await eventRow('FailedScheduling')).toMatchObject({ groupId, level: 'WARNING', resourceKind: 'Pod', resourceName: POD, message: schedulingMessage, count: 3 });

    // ── Running and Ready, with its EndpointSlice: RUNNING row with the address, version and group RUNNING, 100 % ──
    kube.put('pods', 'MODIFIED', pod(running(0)));
    kube.put('endpointslices', 'ADDED', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${DEPLOYMENT}-x7k2p`, namespace: NS, labels: { ...template.metadata.labels, 'kubernetes.io/service-name': DEPLOYMENT } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 9000, protocol: 'TCP' }],
      endpoints: [{ addresses: [POD_IP], conditions: { ready: true }, targetRef: { kind: 'Pod', name: POD, namespace: NS } }],
    } as unknown as KubeObject);
    await until(async () => (await versionRow()).status === 'RUNNING', 'version RUNNING');
    const [runningRow] = await instances();
    expect(runningRow).toMatchObject({ name: POD, state: 'RUNNING', stateReason: null, restartCount: 0, host: POD_IP, port: 9000, node: 'gpu-node-1', startedAt: new Date('2026-11-27T10:00:00Z') });
    let read = await readGroup();
    expect(read.status).toBe('RUNNING');
    expect(read.versions).toEqual([
      {
        id: versionId,
        status: 'RUNNING',
        statusReason: null,
        trafficPercent: 100,
        instances: [{ name: POD, state: 'RUNNING', stateReason: null, restartCount: 0, host: POD_IP, port: 9000, node: 'gpu-node-1' }],
      },
    ]);

    // ── a container restart: the same row (same id), restartCount 1 ──
    kube.put('pods', 'MODIFIED', pod(running(1)));
    await until(async () => (await instances())[0]?.restartCount === 1, 'restartCount 1');
    const restarted = await instances();
    expect(restarted).toHaveLength(1);
    expect(restarted[0]).toMatchObject({ id: runningRow?.id, state: 'RUNNING', restartCount: 1 });

    // ── a BackOff warning counted twice by the cluster: ONE Event row, count 2 ──
    const backOffMessage = 'Back-off restarting failed container app in pod vision-gpu1-7d9f8-abcde';
    const backOff = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${POD}.17a1b2c3`, namespace: NS },
      involvedObject: { kind: 'Pod', name: POD, namespace: NS },
      reason: 'BackOff',
      message: backOffMessage,
      type: 'Warning',
      count: 1,
      lastTimestamp: new Date().toISOString(),
    };
    kube.put('events', 'ADDED', { ...backOff } as unknown as KubeObject);
    await until(async () => (await eventRow('BackOff')) !== null, 'the BackOff event row');
    kube.put('events', 'MODIFIED', { ...(kube.get('events', backOff.metadata.name) as object), count: 2, lastTimestamp: new Date().toISOString() } as unknown as KubeObject);
    await until(async () => (await eventRow('BackOff'))?.count === 2, 'the BackOff event folded to count 2');
    const backOffRows = await plane.prisma.event.findMany({ where: { versionId, reason: 'BackOff' } });
    expect(backOffRows).toHaveLength(1);
    expect(backOffRows[0]).toMatchObject({ groupId, versionId, level: 'WARNING', resourceKind: 'Pod', resourceName: POD, reason: 'BackOff', message: backOffMessage, count: 2 });
    expect(await plane.prisma.event.count({ where: { versionId } })).toBe(2);
    const events = await gql<EventsRead>(
      `query($g: ID!) { events(filter: { groupId: $g }) { edges { node { reason count level resourceKind resourceName message } } } }`,
      { g: groupId },
    );
    // Newest first.
    expect(events.events.edges.map((e) => e.node)).toEqual([
      { reason: 'BackOff', count: 2, level: 'WARNING', resourceKind: 'Pod', resourceName: POD, message: backOffMessage },
      { reason: 'FailedScheduling', count: 3, level: 'WARNING', resourceKind: 'Pod', resourceName: POD, message: schedulingMessage },
    ]);

    // ── a crash loop: the instance FAILED with the reason, the version FAILED, traffic gone ──
    kube.put('pods', 'MODIFIED', pod({
      phase: 'Running',
      podIP: POD_IP,
      startTime: '2026-11-27T10:00:00Z',
      conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }],
      containerStatuses: [
        {
          name: podSpec.containers[0]?.name,
          ready: false,
          restartCount: 3,
          image: 'x',
          imageID: 'x',
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error' } },
        },
      ],
    }));
    await until(async () => (await versionRow()).status === 'FAILED', 'version FAILED');
    expect(await instances()).toMatchObject([{ name: POD, state: 'FAILED', stateReason: 'CrashLoopBackOff: exit code 1 (Error)', restartCount: 3 }]);
    read = await readGroup();
    expect(read.status).toBe('FAILED');
    expect(read.versions[0]).toMatchObject({
      status: 'FAILED',
      statusReason: `${POD}: CrashLoopBackOff: exit code 1 (Error)`,
      trafficPercent: 0,
      instances: [{ name: POD, state: 'FAILED', restartCount: 3 }],
    });

    // ── it comes back: the same row RUNNING again, the version RUNNING with all the traffic ──
    kube.put('pods', 'MODIFIED', pod(running(4)));
    await until(async () => (await versionRow()).status === 'RUNNING', 'version RUNNING again');
    expect(await instances()).toMatchObject([{ id: runningRow?.id, name: POD, state: 'RUNNING', stateReason: null, restartCount: 4, host: POD_IP, port: 9000 }]);
    read = await readGroup();
    expect(read.status).toBe('RUNNING');
    expect(read.versions[0]).toMatchObject({ status: 'RUNNING', statusReason: null, trafficPercent: 100 });

    // ── stop: the API server sees the deletes; the version waits in STOPPING for its pods ──
    const stopped = await gql<{ stopServiceVersion: { status: string } }>(`mutation($id: ID!) { stopServiceVersion(id: $id) { status } }`, { id: versionId });
    expect(stopped.stopServiceVersion.status).toBe('STOPPING');
    const deletes = kube.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    expect(deletes).toEqual(
      expect.arrayContaining([
        `/apis/apps/v1/namespaces/${NS}/deployments/${DEPLOYMENT}`,
        `/api/v1/namespaces/${NS}/services/${DEPLOYMENT}`,
        `/api/v1/namespaces/${NS}/secrets/${DEPLOYMENT}-pull`,
      ]),
    );
    expect(kube.get('deployments', DEPLOYMENT)).toBeUndefined();
    expect(kube.get('secrets', `${DEPLOYMENT}-pull`)).toBeUndefined();
    await plane.domain.lifecycle.idle();
    expect((await versionRow()).status).toBe('STOPPING');

    // The garbage collector marks the pod terminating, then removes it.
    const terminating = pod(running(4), { deletionTimestamp: new Date().toISOString() });
    kube.put('pods', 'MODIFIED', terminating);
    await until(async () => (await instances())[0]?.state === 'TERMINATING', 'instance TERMINATING');
    kube.put('pods', 'DELETED', terminating);
    kube.put('endpointslices', 'DELETED', kube.get('endpointslices', `${DEPLOYMENT}-x7k2p`) as KubeObject);
    await until(async () => (await versionRow()).status === 'STOPPED', 'version STOPPED');
    expect(await instances()).toEqual([]);
    read = await readGroup();
    expect(read.status).toBe('STOPPED');
    expect(read.versions).toEqual([{ id: versionId, status: 'STOPPED', statusReason: null, trafficPercent: 0, instances: [] }]);
    // Events outlive the instances they were about.
    expect(await plane.prisma.event.count({ where: { versionId } })).toBe(2);
    expect(plane.domain.lifecycle.errors()).toEqual([]);
  });
});

interface PodSpec {
  nodeSelector?: Record<string, string>;
  imagePullSecrets?: { name: string }[];
  containers: { name: string; image?: string; resources?: { limits?: Record<string, string> } }[];
}
