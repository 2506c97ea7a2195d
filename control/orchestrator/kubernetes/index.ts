// The Kubernetes orchestrator's public surface: the factory, the manifest renderer and its options.
export { createKubernetesOrchestrator, KubernetesApiError, type KubernetesOrchestratorOptions } from './orchestrator.ts';
export {
  defaultGpuNodeLabel,
  defaultManifestOptions,
  defaultModelFetch,
  renderManifests,
  resourceName,
  type GpuNodeLabel,
  type ManifestOptions,
  type ModelFetch,
  type VersionManifests,
} from './manifests.ts';
export { renderGroupYaml } from './render.ts';
