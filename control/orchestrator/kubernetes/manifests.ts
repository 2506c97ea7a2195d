// VersionDeployment → the Kubernetes objects that run it (pure, no I/O): a Deployment and a
// Service, a ConfigMap with the model signature (model versions), and an image-pull Secret
// (private registries). Resource groups become node selectors plus a toleration for their
// taint; GPU types become node affinity on a configurable node label.

import { createHash } from 'node:crypto';
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1NodeSelectorRequirement,
  V1Probe,
  V1Secret,
  V1Service,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
  V2HorizontalPodAutoscaler,
  V2MetricSpec,
} from '@kubernetes/client-node';
import { badInput } from '../../../platform/errors.ts';
import type { VersionDeployment } from '../port.ts';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'sluice' } as const;
export const LABEL_GROUP = 'sluice.io/group';
export const LABEL_VERSION = 'sluice.io/version';
export const LABEL_VERSION_ID = 'sluice.io/version-id';
export const ANNOTATION_VERSION_ID = 'sluice.io/version-id';
export const ANNOTATION_SPEC_HASH = 'sluice.io/spec-hash';
export const LABEL_RESOURCE_GROUP = 'sluice.io/resource-group';
export const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=sluice';

export interface GpuNodeLabel {
  /** node label that names the GPU model (NVIDIA GPU feature discovery sets nvidia.com/gpu.product) */
  key: string;
  /** label values that count as a Sluice GPU type (T4, A100, …) */
  values: (gpuType: string) => string[];
}

export interface ModelFetch {
  /** the init container that copies the artifact to `target` (inside the shared /models volume) */
  container: (artifactUri: string, target: string) => V1Container;
}

export interface ManifestOptions {
  namespace: string;
  /** the built-in model runtime's image (runtime/server.ts packaged) */
  runtimeImage: string;
  /** the port the runtime listens on in its container */
  runtimePort: number;
  gpuNodeLabel: GpuNodeLabel;
  /** custom images promise no health paths: probe their port (tcp) unless told they serve /ready and /health */
  imageProbes: 'tcp' | 'http';
  modelFetch: ModelFetch;
  terminationGracePeriodSeconds: number;
  /** where object-store keys (a model's artifactUri like models/{name}/{version}/model.onnx) live: s3://bucket/prefix (SLUICE_OBJECT_STORE) */
  objectStoreUri: string | null;
}

// Product names as NVIDIA GPU feature discovery reports them, for the short names users pick.
const GPU_PRODUCTS: Record<string, string[]> = {
  T4: ['Tesla-T4'],
  V100: ['Tesla-V100-SXM2-16GB', 'Tesla-V100-SXM2-32GB', 'Tesla-V100-PCIE-16GB', 'Tesla-V100-PCIE-32GB'],
  A10: ['NVIDIA-A10'],
  A10G: ['NVIDIA-A10G'],
  A100: ['NVIDIA-A100-SXM4-40GB', 'NVIDIA-A100-SXM4-80GB', 'NVIDIA-A100-PCIE-40GB', 'NVIDIA-A100-80GB-PCIe'],
  L4: ['NVIDIA-L4'],
  H100: ['NVIDIA-H100-80GB-HBM3', 'NVIDIA-H100-PCIe', 'NVIDIA-H100-NVL'],
};

export const defaultGpuNodeLabel: GpuNodeLabel = {
  key: 'nvidia.com/gpu.product',
  values: (gpuType) => GPU_PRODUCTS[gpuType.toUpperCase()] ?? [gpuType],
};

const MODEL_DIR = '/models';
const MODEL_FILE = `${MODEL_DIR}/model.onnx`;
const SIGNATURE_DIR = '/etc/sluice';

export const defaultModelFetch: ModelFetch = {
  container(uri, target) {
    if (uri.startsWith('s3://')) {
      // Credentials and endpoint from an optional Secret the operator provides.
      return {
        name: 'model-fetch',
        image: 'amazon/aws-cli:2.17.0',
        command: ['sh', '-c', 'aws s3 cp ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$1" "$2"', 'fetch', uri, target],
        envFrom: [{ secretRef: { name: 'sluice-object-store', optional: true } }],
        volumeMounts: [{ name: 'model', mountPath: MODEL_DIR }],
      };
    }
    if (/^https?:\/\//.test(uri)) {
      return {
        name: 'model-fetch',
        image: 'curlimages/curl:8.10.1',
        command: ['curl', '-fsSL', '--retry', '3', '-o', target, uri],
        volumeMounts: [{ name: 'model', mountPath: MODEL_DIR }],
      };
    }
    throw badInput(`the model fetcher handles s3:// and https:// artifacts, not "${uri}"`);
  },
};

export function defaultManifestOptions(overrides: Partial<ManifestOptions> = {}): ManifestOptions {
  return {
    namespace: 'sluice',
    runtimeImage: 'ghcr.io/sluice-ml/sluice-runtime:0.1.0',
    runtimePort: 8080,
    gpuNodeLabel: defaultGpuNodeLabel,
    imageProbes: 'tcp',
    modelFetch: defaultModelFetch,
    terminationGracePeriodSeconds: 30,
    objectStoreUri: null,
    ...overrides,
  };
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** `{group}-{version}`, made a valid Service name (DNS-1035: starts with a letter, ≤ 63). */
export function resourceName(groupName: string, versionName: string): string {
  let name = `${groupName}-${versionName}`;
  if (!/^[a-z]/.test(name)) name = `v-${name}`;
  if (name.length > 63) name = `${name.slice(0, 54).replace(/-+$/, '')}-${shortHash(name)}`;
  return name;
}

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 8);

export function versionLabels(d: VersionDeployment): Record<string, string> {
  const labels: Record<string, string> = { ...MANAGED_BY, [LABEL_GROUP]: d.groupName, [LABEL_VERSION]: d.versionName };
  if (d.versionId.length <= 63 && LABEL_VALUE.test(d.versionId)) labels[LABEL_VERSION_ID] = d.versionId;
  return labels;
}

/** Quantities the API server accepts: 4 → "4", 0.5 → "500m"; 8 GiB → "8Gi", 0.5 GiB → "512Mi". */
export function cpuQuantity(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.round(cores * 1000)}m`;
}
export function memoryQuantity(gib: number): string {
  return Number.isInteger(gib) ? `${gib}Gi` : `${Math.round(gib * 1024)}Mi`;
}

export function specHash(d: VersionDeployment): string {
  const source = d.source.kind === 'image' && d.source.registryAuth ? { ...d.source, registryAuth: shortHash(JSON.stringify(d.source.registryAuth)) } : d.source;
  return shortHash(JSON.stringify({ source, resources: d.resources, dedicated: d.dedicated?.resourceGroupName ?? null }));
}

/** The registry host a Docker image reference pulls from (Docker Hub when none is named). */
export function registryHost(image: string): string {
  const first = image.split('/')[0] ?? '';
  const hasHost = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return hasHost ? first : 'https://index.docker.io/v1/';
}

/** An artifact location the cluster can fetch: absolute s3/http(s) URIs as they are, store keys under the object store. */
export function clusterArtifactUri(uri: string, objectStoreUri: string | null): string {
  if (/^(s3|https?):\/\//.test(uri)) return uri;
  const isKey = !/^[a-z][a-z0-9+.-]*:/i.test(uri) && !uri.startsWith('/');
  if (isKey && objectStoreUri && /^(s3|https?):\/\//.test(objectStoreUri)) {
    return `${objectStoreUri.replace(/\/+$/, '')}/${uri.replace(/^\/+/, '')}`;
  }
  throw badInput(
    `the model artifact "${uri}" is not reachable from the cluster: use an s3:// or https:// object store (SLUICE_OBJECT_STORE) for Kubernetes`,
  );
}

export interface VersionManifests {
  deployment: V1Deployment;
  service: V1Service;
  configMap: V1ConfigMap | null;
  pullSecret: V1Secret | null;
  /** when the version autoscales: Kubernetes scales it, not Sluice */
  autoscaler?: V2HorizontalPodAutoscaler | null;
}

/**
 * Per-pod metrics the HorizontalPodAutoscaler reads through the custom metrics API (a
 * prometheus-adapter rule over the runtime's own series): concurrency by Little's law,
 * rate(sluice_runtime_request_duration_seconds_sum[1m]), and requests per second,
 * rate(sluice_runtime_requests_total[1m]).
 */
export const HPA_METRICS = { concurrency: 'sluice_runtime_concurrency', qps: 'sluice_runtime_requests_per_second' } as const;

/**
 * The version's HorizontalPodAutoscaler (autoscaling/v2): the same bounds, targets and
 * cool-down (as the scale-down stabilization window) as the local autoscaler uses. A
 * minimum of 0 becomes 1 here: HPA scales to zero only behind the alpha HPAScaleToZero gate.
 */
export function renderAutoscaler(d: VersionDeployment, namespace: string, labels: Record<string, string>): V2HorizontalPodAutoscaler | null {
  const a = d.autoscaling;
  if (!a) return null;
  const name = resourceName(d.groupName, d.versionName);
  const metrics: V2MetricSpec[] = [];
  if (a.targetConcurrency) metrics.push({ type: 'Pods', pods: { metric: { name: HPA_METRICS.concurrency }, target: { type: 'AverageValue', averageValue: String(a.targetConcurrency) } } });
  if (a.targetQps) metrics.push({ type: 'Pods', pods: { metric: { name: HPA_METRICS.qps }, target: { type: 'AverageValue', averageValue: String(a.targetQps) } } });
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: Math.max(1, a.minReplicas),
      maxReplicas: a.maxReplicas,
      metrics,
      behavior: { scaleDown: { stabilizationWindowSeconds: a.cooldownSeconds } },
    },
  };
}

export function renderManifests(d: VersionDeployment, options: ManifestOptions): VersionManifests {
  const name = resourceName(d.groupName, d.versionName);
  const ns = options.namespace;
  const labels = versionLabels(d);
  const annotations = { [ANNOTATION_VERSION_ID]: d.versionId, [ANNOTATION_SPEC_HASH]: specHash(d) };
  const meta = (objName: string) => ({ name: objName, namespace: ns, labels, annotations });
  const src = d.source;

  const pullSecret: V1Secret | null =
    src.kind === 'image' && src.registryAuth
      ? {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: meta(`${name}-pull`),
          type: 'kubernetes.io/dockerconfigjson',
          data: { '.dockerconfigjson': Buffer.from(dockerConfigJson(src.image, src.registryAuth)).toString('base64') },
        }
      : null;

  const configMap: V1ConfigMap | null =
    src.kind === 'model'
      ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${name}-signature`), data: { 'signature.json': JSON.stringify(src.signature, null, 2) } }
      : null;

  const port = src.kind === 'model' ? options.runtimePort : src.port;
  const http = src.kind === 'model' || options.imageProbes === 'http';
  const probe = (path: string, extra: Partial<V1Probe>): V1Probe => ({
    ...(http ? { httpGet: { path, port: 'http' } } : { tcpSocket: { port: 'http' } }),
    timeoutSeconds: 2,
    ...extra,
  });

  const env: V1EnvVar[] = [{ name: 'PORT', value: String(port) }];
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const initContainers: V1Container[] = [];
  if (src.kind === 'model') {
    env.push(
      { name: 'HOST', value: '0.0.0.0' },
      { name: 'SLUICE_MODEL_PATH', value: MODEL_FILE },
      { name: 'SLUICE_MODEL_SIGNATURE', value: `${SIGNATURE_DIR}/signature.json` },
      { name: 'SLUICE_MODEL_NAME', value: src.modelName },
      { name: 'SLUICE_MODEL_VERSION', value: src.modelVersion },
      { name: 'SLUICE_MODEL_FORMAT', value: src.format },
    );
    if (d.resources.gpuCount > 0) env.push({ name: 'SLUICE_USE_GPU', value: '1' });
    volumes.push({ name: 'model', emptyDir: {} }, { name: 'signature', configMap: { name: `${name}-signature` } });
    mounts.push({ name: 'model', mountPath: MODEL_DIR, readOnly: true }, { name: 'signature', mountPath: SIGNATURE_DIR, readOnly: true });
    initContainers.push(options.modelFetch.container(clusterArtifactUri(src.artifactUri, options.objectStoreUri), MODEL_FILE));
  } else {
    for (const e of src.env) if (e.name !== 'PORT') env.push({ name: e.name, value: e.value });
  }

  const gpu = d.resources.gpuCount > 0;
  const quantities = { cpu: cpuQuantity(d.resources.cpu), memory: memoryQuantity(d.resources.memoryGiB) };
  const container: V1Container = {
    name: src.kind === 'model' ? 'runtime' : 'app',
    image: src.kind === 'model' ? options.runtimeImage : src.image,
    ...(src.kind === 'image' && src.command.length > 0 ? { command: src.command } : {}),
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    env,
    resources: {
      requests: { ...quantities },
      // Extended resources (GPUs) go in limits; the API server copies them to requests.
      limits: { ...quantities, ...(gpu ? { 'nvidia.com/gpu': String(d.resources.gpuCount) } : {}) },
    },
    // Big models take a while to load: the startup probe gives them five minutes before liveness counts.
    startupProbe: probe('/ready', { periodSeconds: 5, failureThreshold: 60 }),
    readinessProbe: probe('/ready', { periodSeconds: 5, failureThreshold: 3 }),
    livenessProbe: probe('/health', { periodSeconds: 10, failureThreshold: 3 }),
    ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
  };

  const tolerations: V1Toleration[] = [];
  const nodeSelector: Record<string, string> = {};
  if (d.dedicated) {
    nodeSelector[LABEL_RESOURCE_GROUP] = d.dedicated.resourceGroupName;
    tolerations.push({ key: LABEL_RESOURCE_GROUP, operator: 'Equal', value: d.dedicated.resourceGroupName, effect: 'NoSchedule' });
  }
  const gpuRequirements: V1NodeSelectorRequirement[] = [];
  if (gpu) {
    // GPU node pools are commonly tainted nvidia.com/gpu:NoSchedule to keep CPU pods off them.
    tolerations.push({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    if (d.resources.gpuType) {
      gpuRequirements.push({ key: options.gpuNodeLabel.key, operator: 'In', values: options.gpuNodeLabel.values(d.resources.gpuType) });
    }
  }

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name),
    spec: {
      // an autoscaled Deployment leaves replicas to the HPA (server-side apply would fight it)
      ...(d.autoscaling ? {} : { replicas: d.replicas }),
      selector: { matchLabels: { [LABEL_GROUP]: d.groupName, [LABEL_VERSION]: d.versionName } },
      // A GPU is rarely spare: replace in place rather than surge an extra replica.
      strategy: { type: 'RollingUpdate', rollingUpdate: gpu ? { maxSurge: 0, maxUnavailable: 1 } : { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
          ...(pullSecret ? { imagePullSecrets: [{ name: `${name}-pull` }] } : {}),
          ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
          ...(tolerations.length > 0 ? { tolerations } : {}),
          ...(gpuRequirements.length > 0
            ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: gpuRequirements }] } } } }
            : {}),
          ...(initContainers.length > 0 ? { initContainers } : {}),
          containers: [container],
          ...(volumes.length > 0 ? { volumes } : {}),
        },
      },
    },
  };

  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name),
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_GROUP]: d.groupName, [LABEL_VERSION]: d.versionName },
      ports: [{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }],
    },
  };

  return { deployment, service, configMap, pullSecret, autoscaler: renderAutoscaler(d, ns, labels) };
}

function dockerConfigJson(image: string, auth: { username: string; password: string }): string {
  const host = registryHost(image);
  const token = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  return JSON.stringify({ auths: { [host]: { username: auth.username, password: auth.password, auth: token } } });
}

/** The objects in the order they must be applied (what pods mount exists before the pods). */
export function orderedObjects(m: VersionManifests): (V1Secret | V1ConfigMap | V1Deployment | V1Service | V2HorizontalPodAutoscaler)[] {
  return [m.pullSecret, m.configMap, m.deployment, m.service, m.autoscaler ?? null].filter((o): o is NonNullable<typeof o> => o !== null);
}
