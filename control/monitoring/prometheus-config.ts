// The Prometheus scrape configuration for Sluice (what `npm run prometheus:config` prints):
// the edge's /metrics, and every replica's /metrics with the labels the PromQL reader
// (prometheus.ts) selects on — sluice_group, sluice_version, sluice_instance, sluice_role.
// Embedded (local orchestrator): static targets from the running instances. Kubernetes: pod
// discovery in the namespace, keeping Sluice's pods and turning their labels into those.
// Envoy proxies (their admin /stats/prometheus) and NVIDIA DCGM exporters are added when
// given: the GPU series carry the `pod` label of the replica they measured (the exporter's
// Kubernetes mapping), which the PromQL joins to the replicas' `sluice_instance`.
import { dump } from 'js-yaml';
import { LABEL_GROUP, LABEL_VERSION, MANAGED_BY } from '../orchestrator/kubernetes/manifests.ts';

export interface ReplicaTarget {
  group: string;
  version: string;
  instance: string;
  address: string; // host:port
}

export interface PrometheusConfigInput {
  intervalSeconds: number;
  /** host:port of each edge (its /metrics) */
  edges: string[];
  orchestrator: 'local' | 'kubernetes';
  replicas?: ReplicaTarget[];
  namespace?: string;
  /** host:port of each Envoy's admin listener, when Envoy is the data plane */
  envoyAdmins?: string[];
  /** host:port of each DCGM exporter (Kubernetes: found by discovery when none are given) */
  dcgmExporters?: string[];
}

/** Prometheus' own spelling of a Kubernetes label in discovery metadata. */
const metaLabel = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;

export function prometheusConfig(input: PrometheusConfigInput): Record<string, unknown> {
  const interval = `${input.intervalSeconds}s`;
  const edge = { job_name: 'sluice-edge', metrics_path: '/metrics', static_configs: [{ targets: input.edges, labels: { sluice_role: 'edge' } }] };
  let replicas: Record<string, unknown>;
  if (input.orchestrator === 'kubernetes') {
    const [managedKey, managedValue] = Object.entries(MANAGED_BY)[0] as [string, string];
    replicas = {
      job_name: 'sluice-replicas',
      metrics_path: '/metrics',
      kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [input.namespace ?? 'sluice'] } }],
      relabel_configs: [
        { source_labels: [metaLabel(managedKey)], regex: managedValue, action: 'keep' },
        { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Running', action: 'keep' },
        { source_labels: [metaLabel(LABEL_GROUP)], target_label: 'sluice_group' },
        { source_labels: [metaLabel(LABEL_VERSION)], target_label: 'sluice_version' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'sluice_instance' },
        { target_label: 'sluice_role', replacement: 'replica' },
      ],
    };
  } else {
    replicas = {
      job_name: 'sluice-replicas',
      metrics_path: '/metrics',
      static_configs: (input.replicas ?? []).map((r) => ({
        targets: [r.address],
        labels: { sluice_group: r.group, sluice_version: r.version, sluice_instance: r.instance, sluice_role: 'replica' },
      })),
    };
  }
  const jobs = [edge, replicas];
  if (input.envoyAdmins?.length) {
    jobs.push({ job_name: 'sluice-envoy', metrics_path: '/stats/prometheus', static_configs: [{ targets: input.envoyAdmins, labels: { sluice_role: 'envoy' } }] });
  }
  // the exporter's own `pod`/`namespace` labels name the measured replica: never overwrite them
  if (input.dcgmExporters?.length) {
    jobs.push({ job_name: 'dcgm-exporter', honor_labels: true, static_configs: [{ targets: input.dcgmExporters, labels: { sluice_role: 'gpu' } }] });
  } else if (input.orchestrator === 'kubernetes') {
    jobs.push({
      job_name: 'dcgm-exporter',
      honor_labels: true,
      kubernetes_sd_configs: [{ role: 'pod' }],
      relabel_configs: [
        { source_labels: [metaLabel('app.kubernetes.io/name')], regex: 'dcgm-exporter', action: 'keep' },
        { target_label: 'sluice_role', replacement: 'gpu' },
      ],
    });
  }
  return { global: { scrape_interval: interval, evaluation_interval: interval }, scrape_configs: jobs };
}

export const prometheusConfigYaml = (input: PrometheusConfigInput) => dump(prometheusConfig(input), { lineWidth: 200 });
