// The Kubernetes orchestrator against a fake API server: the exact manifests it applies,
// and the reports it makes of pod, endpoint and event changes the server plays back.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubernetesOrchestrator } from '../../control/orchestrator/kubernetes/orchestrator.ts';
import { clusterArtifactUri, cpuQuantity, defaultManifestOptions, memoryQuantity, registryHost, renderManifests, resourceName } from '../../control/orchestrator/kubernetes/manifests.ts';
import { parseCpu, parseMemory } from '../../control/orchestrator/kubernetes/status.ts';
import type { Orchestrator, VersionDeployment } from '../../control/orchestrator/port.ts';
import { FakeKube } from './fake-kube.ts';
import { Reports, waitFor } from './helpers.ts';

const LABELS = {
  'app.kubernetes.io/managed-by': 'sluice',
  'sluice.io/group': 'vision',
  'sluice.io/version': 'gpu1',
  'sluice.io/version-id': 'ver-gpu',
};

const gpuImage: VersionDeployment = {
  versionId: 'ver-gpu',
  groupName: 'vision',
  versionName: 'gpu1',
  replicas: 2,
  source: {
    kind: 'image',
    image: 'registry.example.com/vision/detector:2.1',
    command: ['python', '-m', 'serve'],
    env: [{ name: 'MODEL_THREADS', value: '4' }, { name: 'PORT', value: '1' }],
    port: 9000,
    registryAuth: { username: 'robot', password: 's3cret-pass' },
  },
  resources: { cpu: 4, memoryGiB: 8, gpuType: 'A100', gpuCount: 1 },
  dedicated: {
    resourceGroupName: 'rg-gpu',
    nodes: [{ name: 'gpu-node-1', cpu: 16, memoryGiB: 64, gpuType: 'A100', gpuCount: 4, state: 'READY' }],
  },
};

const modelVersion: VersionDeployment = {
  versionId: 'ver-model',
  groupName: 'wine',
  versionName: 'v1',
  replicas: 1,
  source: {
    kind: 'model',
    modelName: 'wine-classifier',
    modelVersion: '1',
    artifactUri: 'models/wine-classifier/1/model.onnx',
    format: 'onnx',
    signature: { inputs: [{ name: 'alcohol', type: 'double' }], outputs: [{ name: 'label', type: 'long' }] },
  },
  resources: { cpu: 0.5, memoryGiB: 1.5, gpuType: null, gpuCount: 0 },
  dedicated: null,
};

let kube: FakeKube;
let orchestrator: Orchestrator;
let reports: Reports;

beforeEach(async () => {
  kube = new FakeKube();
  await kube.start();
  orchestrator = createKubernetesOrchestrator({
    kubeConfig: kube.kubeConfig(),
    metricsPeriodMs: 100,
    rewatchDelayMs: 100,
    objectStoreUri: 's3://sluice-models/prod',
  });
  reports = new Reports(orchestrator);
  await waitFor(() => kube.watcherCount('pods') === 1 && kube.watcherCount('events') === 1 && kube.watcherCount('endpointslices') === 1, 'watches');
});

afterEach(async () => {
  reports.dispose();
  await orchestrator.close();
  await kube.stop();
});

function pod(name: string, versionLabels: Record<string, string>, status: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'sluice', labels: versionLabels, annotations: { 'sluice.io/version-id': versionLabels['sluice.io/version-id'] ?? '' }, ...extra },
    spec: { nodeName: 'gpu-node-1', containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 9000 }] }] },
    status,
  };
}

const runningStatus = (ip: string, restarts = 0) => ({
  phase: 'Running',
  podIP: ip,
  startTime: '2026-11-27T10:00:00Z',
  conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }],
  containerStatuses: [{ name: 'app', ready: true, restartCount: restarts, image: 'x', imageID: 'x', state: { running: {} } }],
});

describe('kubernetes manifests', () => {
  it('renders a GPU image version on a dedicated resource group exactly', () => {
    const m = renderManifests(gpuImage, defaultManifestOptions());
    const annotations = { 'sluice.io/version-id': 'ver-gpu', 'sluice.io/spec-hash': expect.stringMatching(/^[0-9a-f]{8}$/) };
    expect(m.deployment).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'vision-gpu1', namespace: 'sluice', labels: LABELS, annotations },
      spec: {
        replicas: 2,
        selector: { matchLabels: { 'sluice.io/group': 'vision', 'sluice.io/version': 'gpu1' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
        template: {
          metadata: { labels: LABELS, annotations },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            imagePullSecrets: [{ name: 'vision-gpu1-pull' }],
            nodeSelector: { 'sluice.io/resource-group': 'rg-gpu' },
            tolerations: [
              { key: 'sluice.io/resource-group', operator: 'Equal', value: 'rg-gpu', effect: 'NoSchedule' },
              { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
            ],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        {
                          key: 'nvidia.com/gpu.product',
                          operator: 'In',
                          values: ['NVIDIA-A100-SXM4-40GB', 'NVIDIA-A100-SXM4-80GB', 'NVIDIA-A100-PCIE-40GB', 'NVIDIA-A100-80GB-PCIe'],
                        },
                      ],
                    },
                  ],
                },
              },
            },
            containers: [
              {
                name: 'app',
                image: 'registry.example.com/vision/detector:2.1',
                command: ['python', '-m', 'serve'],
                ports: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }],
                env: [
                  { name: 'PORT', value: '9000' },
                  { name: 'MODEL_THREADS', value: '4' },
                ],
                resources: {
                  requests: { cpu: '4', memory: '8Gi' },
                  limits: { cpu: '4', memory: '8Gi', 'nvidia.com/gpu': '1' },
                },
                startupProbe: { tcpSocket: { port: 'http' }, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 60 },
                readinessProbe: { tcpSocket: { port: 'http' }, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 3 },
                livenessProbe: { tcpSocket: { port: 'http' }, timeoutSeconds: 2, periodSeconds: 10, failureThreshold: 3 },
              },
            ],
          },
        },
      },
    });
    expect(m.service).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'vision-gpu1', namespace: 'sluice', labels: LABELS, annotations },
      spec: {
        type: 'ClusterIP',
        selector: { 'sluice.io/group': 'vision', 'sluice.io/version': 'gpu1' },
        ports: [{ name: 'http', port: 9000, targetPort: 'http', protocol: 'TCP' }],
      },
    });
    expect(m.pullSecret?.type).toBe('kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from(m.pullSecret?.data?.['.dockerconfigjson'] ?? '', 'base64').toString());
    expect(config).toEqual({
      auths: { 'registry.example.com': { username: 'robot', password: 's3cret-pass', auth: Buffer.from('robot:s3cret-pass').toString('base64') } },
    });
    expect(m.configMap).toBeNull();

    // HTTP probes when the image is known to serve /ready and /health.
    const http = renderManifests(gpuImage, defaultManifestOptions({ imageProbes: 'http' })).deployment.spec?.template.spec?.containers[0];
    expect(http?.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(http?.livenessProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
  });

  it('renders a model version: runtime image, fetched artifact, signature ConfigMap, HTTP probes', () => {
    const m = renderManifests(modelVersion, defaultManifestOptions({ objectStoreUri: 's3://sluice-models/prod', runtimeImage: 'example/runtime:1' }));
    const spec = m.deployment.spec?.template.spec;
    const c = spec?.containers[0];
    expect(c?.image).toBe('example/runtime:1');
    expect(c?.resources).toEqual({ requests: { cpu: '500m', memory: '1536Mi' }, limits: { cpu: '500m', memory: '1536Mi' } });
    expect(c?.readinessProbe).toEqual({ httpGet: { path: '/ready', port: 'http' }, timeoutSeconds: 2, periodSeconds: 5, failureThreshold: 3 });
    expect(c?.livenessProbe).toEqual({ httpGet: { path: '/health', port: 'http' }, timeoutSeconds: 2, periodSeconds: 10, failureThreshold: 3 });
    expect(c?.env).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'HOST', value: '0.0.0.0' },
      { name: 'SLUICE_MODEL_PATH', value: '/models/model.onnx' },
      { name: 'SLUICE_MODEL_SIGNATURE', value: '/etc/sluice/signature.json' },
      { name: 'SLUICE_MODEL_NAME', value: 'wine-classifier' },
      { name: 'SLUICE_MODEL_VERSION', value: '1' },
      { name: 'SLUICE_MODEL_FORMAT', value: 'onnx' },
    ]);
    expect(spec?.initContainers?.[0]?.command?.slice(-2)).toEqual(['s3://sluice-models/prod/models/wine-classifier/1/model.onnx', '/models/model.onnx']);
    expect(spec?.volumes).toEqual([
      { name: 'model', emptyDir: {} },
      { name: 'signature', configMap: { name: 'wine-v1-signature' } },
    ]);
    expect(spec?.nodeSelector).toBeUndefined();
    expect(spec?.tolerations).toBeUndefined();
    expect(m.deployment.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(JSON.parse(m.configMap?.data?.['signature.json'] ?? '')).toEqual(modelVersion.source.kind === 'model' ? modelVersion.source.signature : null);
    expect(m.pullSecret).toBeNull();
  });

  it('names, quantities and artifact locations', () => {
    expect(resourceName('1st', 'v1')).toBe('v-1st-v1');
    expect(resourceName('a'.repeat(60), 'v1')).toBe(`${'a'.repeat(60)}-v1`);
    expect(resourceName('a'.repeat(62), 'v1')).toMatch(/^a{54}-[0-9a-f]{8}$/);
    expect([cpuQuantity(4), cpuQuantity(0.25), memoryQuantity(8), memoryQuantity(0.5)]).toEqual(['4', '250m', '8Gi', '512Mi']);
    expect(registryHost('nginx:1')).toBe('https://index.docker.io/v1/');
    expect(registryHost('localhost:5000/app')).toBe('localhost:5000');
    expect(clusterArtifactUri('https://x/m.onnx', null)).toBe('https://x/m.onnx');
    expect(() => clusterArtifactUri('/data/m.onnx', 's3://b')).toThrow(/not reachable from the cluster/);
    expect(() => clusterArtifactUri('models/m.onnx', null)).toThrow(/SLUICE_OBJECT_STORE/);
    expect([parseCpu('250m'), parseCpu('2'), parseCpu('1500000n'), parseMemory('128Mi'), parseMemory('1G')]).toEqual([250, 2000, 1.5, 134217728, 1e9]);
  });
});

describe('kubernetes orchestrator', () => {
  it('applies the manifests with server-side apply, scales with the same call', async () => {
    await orchestrator.deploy(gpuImage);
    const patches = kube.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/sluice/secrets/vision-gpu1-pull',
      '/apis/apps/v1/namespaces/sluice/deployments/vision-gpu1',
      '/api/v1/namespaces/sluice/services/vision-gpu1',
    ]);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query.get('fieldManager')).toBe('sluice');
      expect(p.query.get('force')).toBe('true');
    }
    const expected = renderManifests(gpuImage, defaultManifestOptions({ objectStoreUri: 's3://sluice-models/prod' }));
    expect(patches[1]?.body).toEqual(JSON.parse(JSON.stringify(expected.deployment)));
    expect(patches[2]?.body).toEqual(JSON.parse(JSON.stringify(expected.service)));
    expect(patches[0]?.body).toEqual(JSON.parse(JSON.stringify(expected.pullSecret)));
    // The image version needs no signature: a stale ConfigMap is deleted (404 is fine).
    expect(kube.requests.some((r) => r.method === 'DELETE' && r.path.endsWith('/configmaps/vision-gpu1-signature'))).toBe(true);

    await orchestrator.deploy({ ...gpuImage, replicas: 3 });
    expect((kube.get('deployments', 'vision-gpu1')?.spec as { replicas: number }).replicas).toBe(3);
  });

  it('turns pods, endpoints, events and metrics into reports', async () => {
    await orchestrator.deploy(gpuImage);
    const now = new Date().toISOString();

    kube.put('pods', 'ADDED', pod('vision-gpu1-abc-1', LABELS, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }));
    await reports.until(() => reports.instances('ver-gpu').get('vision-gpu1-abc-1')?.state === 'WAITING', 'pending pod');
    expect(reports.instances('ver-gpu').get('vision-gpu1-abc-1')).toMatchObject({ state: 'WAITING', reason: 'Unschedulable', restartCount: 0 });

    kube.put('events', 'ADDED', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'ev1', namespace: 'sluice' },
      involvedObject: { kind: 'Pod', name: 'vision-gpu1-abc-1', namespace: 'sluice' },
      reason: 'FailedScheduling',
      message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.',
      type: 'Warning',
      count: 1,
      lastTimestamp: now,
    });
    await reports.until(() => reports.events('FailedScheduling').length === 1, 'FailedScheduling event');
    expect(reports.events('FailedScheduling')[0]).toEqual({
      type: 'event',
      versionId: 'ver-gpu',
      level: 'WARNING',
      resourceKind: 'Pod',
      resourceName: 'vision-gpu1-abc-1',
      reason: 'FailedScheduling',
      message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.',
      count: 1,
    });
    // The same event counted again is reported again (the domain folds it); an old event from before start is not.
    kube.put('events', 'MODIFIED', { ...(kube.get('events', 'ev1') as object), count: 2 } as never);
    kube.put('events', 'ADDED', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'ev-old', namespace: 'sluice' },
      involvedObject: { kind: 'Deployment', name: 'vision-gpu1' },
      reason: 'ScalingReplicaSet',
      message: 'old',
      type: 'Normal',
      lastTimestamp: '2020-01-01T00:00:00Z',
    });
    kube.put('events', 'ADDED', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'ev-rs', namespace: 'sluice' },
      involvedObject: { kind: 'Deployment', name: 'vision-gpu1' },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set vision-gpu1-abc to 2',
      type: 'Normal',
      lastTimestamp: now,
    });
    await reports.until(() => reports.events('ScalingReplicaSet').length === 1, 'deployment event');
    expect(reports.events('FailedScheduling')).toHaveLength(2);
    expect(reports.events('ScalingReplicaSet')[0]).toMatchObject({ versionId: 'ver-gpu', resourceKind: 'Deployment', level: 'NORMAL' });

    kube.put('pods', 'MODIFIED', pod('vision-gpu1-abc-1', LABELS, runningStatus('10.1.0.7')));
    kube.put('pods', 'ADDED', pod('vision-gpu1-abc-2', LABELS, runningStatus('10.1.0.8', 1)));
    kube.put('endpointslices', 'ADDED', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'vision-gpu1-x', namespace: 'sluice', labels: { ...LABELS, 'kubernetes.io/service-name': 'vision-gpu1' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 9000, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.1.0.7'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'vision-gpu1-abc-1', namespace: 'sluice' } },
        { addresses: ['10.1.0.8'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'vision-gpu1-abc-2', namespace: 'sluice' } },
      ],
    });
    await reports.until(reports.versionStatus('ver-gpu', 'RUNNING'), 'version RUNNING');
    expect(reports.instances('ver-gpu').get('vision-gpu1-abc-2')).toMatchObject({
      state: 'RUNNING',
      restartCount: 1,
      host: '10.1.0.8',
      port: 9000,
      node: 'gpu-node-1',
      startedAt: new Date('2026-11-27T10:00:00Z'),
    });

    kube.metrics.push({ metadata: { name: 'vision-gpu1-abc-1' }, containers: [{ name: 'app', usage: { cpu: '1250m', memory: '512Mi' } }] });
    await reports.until(() => reports.instances('ver-gpu').get('vision-gpu1-abc-1')?.cpuMillicores === 1250, 'metrics');
    expect(reports.instances('ver-gpu').get('vision-gpu1-abc-1')?.memoryBytes).toBe(512 * 1024 * 1024);

    // A crash loop: the instance and the version are FAILED, with the restart count.
    kube.put('pods', 'MODIFIED', pod('vision-gpu1-abc-2', LABELS, {
      phase: 'Running',
      podIP: '10.1.0.8',
      conditions: [{ type: 'Ready', status: 'False' }],
      containerStatuses: [
        {
          name: 'app',
          ready: false,
          restartCount: 5,
          image: 'x',
          imageID: 'x',
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2m40s restarting failed container' } },
          lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
        },
      ],
    }));
    await reports.until(reports.versionStatus('ver-gpu', 'FAILED'), 'version FAILED');
    expect(reports.instances('ver-gpu').get('vision-gpu1-abc-2')).toMatchObject({ state: 'FAILED', restartCount: 5, reason: 'CrashLoopBackOff: exit code 137 (OOMKilled)' });
    const failed = reports.all.find((r) => r.type === 'version' && r.status === 'FAILED');
    expect(failed).toMatchObject({ reason: 'vision-gpu1-abc-2: CrashLoopBackOff: exit code 137 (OOMKilled)' });

    // Logs: timestamps split off, newest `limit` lines over the version's pods.
    kube.logs.set('vision-gpu1-abc-1', '2026-11-27T10:00:01.000000000Z loading model\n2026-11-27T10:00:03.000000000Z ready\n');
    kube.logs.set('vision-gpu1-abc-2', '2026-11-27T10:00:02.000000000Z loading model\n');
    const lines = await orchestrator.logs('ver-gpu', { limit: 2 });
    expect(lines.map((l) => [l.instance, l.line, l.time.toISOString()])).toEqual([
      ['vision-gpu1-abc-2', 'loading model', '2026-11-27T10:00:02.000Z'],
      ['vision-gpu1-abc-1', 'ready', '2026-11-27T10:00:03.000Z'],
    ]);
    expect(kube.requests.find((r) => r.path.endsWith('/log'))?.query.get('timestamps')).toBe('true');
    expect((await orchestrator.logs('ver-gpu', { instance: 'vision-gpu1-abc-1' })).map((l) => l.line)).toEqual(['loading model', 'ready']);

    // Restart = delete the pod; the Deployment makes a new one.
    await orchestrator.restartInstance('ver-gpu', 'vision-gpu1-abc-2');
    expect(kube.requests.some((r) => r.method === 'DELETE' && r.path === '/api/v1/namespaces/sluice/pods/vision-gpu1-abc-2')).toBe(true);
    await expect(orchestrator.restartInstance('ver-gpu', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('opens a terminal through exec', async () => {
    await orchestrator.deploy(gpuImage);
    kube.put('pods', 'ADDED', pod('vision-gpu1-abc-1', LABELS, runningStatus('10.1.0.7')));
    await reports.until(() => reports.instances('ver-gpu').has('vision-gpu1-abc-1'), 'pod');
    const term = await orchestrator.openTerminal('ver-gpu', 'vision-gpu1-abc-1');
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number | null>((r) => term.onExit(r));
    term.resize(120, 40);
    term.write('pwd\n');
    await waitFor(() => out.includes('/srv/app'), 'pwd answer');
    term.write('exit 7\n');
    expect(await exited).toBe(7);
    expect(kube.execSessions[0]).toMatchObject({ pod: 'vision-gpu1-abc-1', resizes: [{ Width: 120, Height: 40 }] });
    expect(kube.execSessions[0]?.command[0]).toBe('/bin/sh');
  });

  it('stops: deletes the objects, reports TERMINATING, removal and STOPPED once the pods are gone', async () => {
    await orchestrator.deploy({ ...gpuImage, replicas: 1 });
    kube.put('pods', 'ADDED', pod('vision-gpu1-abc-1', LABELS, runningStatus('10.1.0.7')));
    await reports.until(reports.versionStatus('ver-gpu', 'RUNNING'), 'RUNNING');
    await orchestrator.stop('ver-gpu');
    const deletes = kube.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    expect(deletes).toEqual(
      expect.arrayContaining([
        '/apis/apps/v1/namespaces/sluice/deployments/vision-gpu1',
        '/api/v1/namespaces/sluice/services/vision-gpu1',
        '/api/v1/namespaces/sluice/secrets/vision-gpu1-pull',
      ]),
    );
    expect(kube.get('deployments', 'vision-gpu1')).toBeUndefined();
    expect(reports.all.some((r) => r.type === 'version' && r.status === 'STOPPED')).toBe(false);

    const terminating = pod('vision-gpu1-abc-1', LABELS, runningStatus('10.1.0.7'), { deletionTimestamp: new Date().toISOString() });
    kube.put('pods', 'MODIFIED', terminating);
    await reports.until(() => reports.instances('ver-gpu').get('vision-gpu1-abc-1')?.state === 'TERMINATING', 'TERMINATING');
    kube.put('pods', 'DELETED', terminating);
    await reports.until(reports.versionStatus('ver-gpu', 'STOPPED'), 'STOPPED');
    expect(reports.all).toContainEqual({ type: 'instanceRemoved', versionId: 'ver-gpu', name: 'vision-gpu1-abc-1' });
  });

  it('reconcile deletes what is not wanted and re-applies what is', async () => {
    // Left by an earlier control plane: one version still wanted, one not.
    const stale = renderManifests({ ...modelVersion, versionId: 'ver-old', versionName: 'old' }, defaultManifestOptions({ objectStoreUri: 's3://b' }));
    kube.put('deployments', 'ADDED', JSON.parse(JSON.stringify(stale.deployment)));
    kube.put('services', 'ADDED', JSON.parse(JSON.stringify(stale.service)));
    await orchestrator.reconcile([gpuImage]);
    expect(kube.get('deployments', 'wine-old')).toBeUndefined();
    expect(kube.get('services', 'wine-old')).toBeUndefined();
    expect(kube.get('deployments', 'vision-gpu1')?.metadata.labels).toMatchObject({ 'sluice.io/group': 'vision', 'sluice.io/version': 'gpu1', 'sluice.io/version-id': 'ver-gpu' });
    // Its pods going away completes the stop of the unwanted version.
    const oldLabels = { ...LABELS, 'sluice.io/group': 'wine', 'sluice.io/version': 'old', 'sluice.io/version-id': 'ver-old' };
    kube.put('pods', 'ADDED', pod('wine-old-1', oldLabels, runningStatus('10.1.0.9')));
    kube.put('pods', 'DELETED', pod('wine-old-1', oldLabels, runningStatus('10.1.0.9')));
    await reports.until(reports.versionStatus('ver-old', 'STOPPED'), 'old version STOPPED');
  });

  it('refuses a model artifact the cluster cannot reach, with a typed error', async () => {
    await expect(orchestrator.deploy({ ...modelVersion, source: { ...modelVersion.source, artifactUri: '/home/me/model.onnx' } as VersionDeployment['source'] })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});
