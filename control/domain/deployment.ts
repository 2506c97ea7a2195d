// A version row → what runs it. One pure projection of a `ServiceVersion` row onto the
// backend it stands for, used by the domain (to hand the orchestrator a VersionDeployment),
// the Kubernetes renderer (`npm run k8s:render`) and GraphQL (the version's `model`,
// `image` and `resources` fields), so the three can never read the row differently.
//
// Two steps, because one of them needs the outside world:
//   versionSpec(row, placement)            pure: the model reference or image, the spec,
//                                          the replicas and the dedicated nodes, with the
//                                          registry password still sealed and the model
//                                          not yet resolved. Its hash (deploymentHash) is
//                                          what change detection compares.
//   versionDeployment(spec, resolved)      pure: the spec plus the resolved model and the
//                                          opened password → the orchestrator's input.
import { createHash } from 'node:crypto';
import type { ServiceVersion } from '../../platform/db/prisma.ts';
import type { BackendSource, DedicatedNodes, ResourceSpec, VersionDeployment } from '../orchestrator/port.ts';

/** The row's fields this module reads (a full ServiceVersion row is one). */
export type VersionRow = Pick<
  ServiceVersion,
  | 'id' | 'name' | 'replicas' | 'modelSource' | 'modelName' | 'modelVersion' | 'mlflowTrackingUri'
  | 'image' | 'command' | 'env' | 'port' | 'registryUsername' | 'registryPasswordEnc'
  | 'cpu' | 'memoryGiB' | 'gpuType' | 'gpuCount'
>;

/** A dedicated resource group with its nodes, as the database holds it. */
export interface ResourceGroupRow {
  name: string;
  nodes: { name: string; cpu: number; memoryGiB: number; gpuType: string | null; gpuCount: number; state: string }[];
}

/** The default port of an image version that names none. */
export const DEFAULT_IMAGE_PORT = 8080;

/** What a version's row says it runs, before the model is resolved or any secret opened. */
export type SourceSpec =
  | { kind: 'model'; source: 'REGISTRY' | 'MLFLOW'; name: string; version: string; trackingUri: string | null }
  | {
      kind: 'image';
      image: string;
      command: string[];
      /** values sealed at rest (`valueEnc`); rows from before sealing hold `value` */
      env: { name: string; value?: string; valueEnc?: string }[];
      port: number;
      registryUsername: string | null;
      /** sealed (SecretSealer); opened only on the way to the orchestrator */
      registryPasswordEnc: string | null;
    };

export interface VersionSpec {
  versionId: string;
  groupName: string;
  versionName: string;
  replicas: number;
  source: SourceSpec;
  resources: ResourceSpec;
  dedicated: DedicatedNodes | null;
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const envList = (v: unknown): { name: string; value?: string; valueEnc?: string }[] =>
  Array.isArray(v)
    ? v.filter((e): e is { name: string; value?: string; valueEnc?: string } =>
        !!e && typeof e === 'object' && typeof e.name === 'string' && (typeof e.value === 'string' || typeof e.valueEnc === 'string'))
        .map((e) => (typeof e.valueEnc === 'string' ? { name: e.name, valueEnc: e.valueEnc } : { name: e.name, value: e.value ?? '' }))
    : [];

/** The model or image a row names. */
export function sourceSpec(row: VersionRow): SourceSpec {
  if (row.modelSource === 'IMAGE') {
    return {
      kind: 'image',
      image: row.image ?? '',
      command: stringList(row.command),
      env: envList(row.env),
      port: row.port ?? DEFAULT_IMAGE_PORT,
      registryUsername: row.registryUsername,
      registryPasswordEnc: row.registryUsername ? row.registryPasswordEnc : null,
    };
  }
  return {
    kind: 'model',
    source: row.modelSource,
    name: row.modelName ?? '',
    version: row.modelVersion ?? '',
    trackingUri: row.mlflowTrackingUri,
  };
}

export const resourceSpec = (row: VersionRow): ResourceSpec => ({ cpu: row.cpu, memoryGiB: row.memoryGiB, gpuType: row.gpuType, gpuCount: row.gpuCount });

/** Everything about a version that decides what runs, from its row and where it is placed. */
export function versionSpec(row: VersionRow, placement: { groupName: string; resourceGroup: ResourceGroupRow | null }): VersionSpec {
  const rg = placement.resourceGroup;
  return {
    versionId: row.id,
    groupName: placement.groupName,
    versionName: row.name,
    replicas: row.replicas,
    source: sourceSpec(row),
    resources: resourceSpec(row),
    dedicated: rg
      ? {
          resourceGroupName: rg.name,
          nodes: rg.nodes.map((n) => ({ name: n.name, cpu: n.cpu, memoryGiB: n.memoryGiB, gpuType: n.gpuType, gpuCount: n.gpuCount, state: n.state })),
        }
      : null,
  };
}

/** JSON with object keys sorted, so equal specs hash equally whatever order built them. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The hash of what runs: equal hashes ⇔ the orchestrator would be handed the same backend.
 * Every field of the spec takes part — replicas, resources, nodes, the model reference with
 * its MLflow tracking URI, the image with its command, env, port and registry credentials
 * (sealed: re-entering a password re-seals it, which counts as a change, erring on the side
 * of a redeploy). Policy (auth, QPS, inference table) is not in it: that is the data plane's.
 */
export function deploymentHash(spec: VersionSpec): string {
  return createHash('sha256').update(canonical(spec)).digest('hex');
}

/** The model source the resolver found, and how to open the sealed registry password. */
export interface ResolvedSource {
  /** required when the spec names a model */
  model: Extract<BackendSource, { kind: 'model' }> | null;
  openSecret: (sealed: string) => string;
}

/** The orchestrator's input: the spec with its model resolved and its password opened. */
export function versionDeployment(spec: VersionSpec, resolved: ResolvedSource): VersionDeployment {
  const s = spec.source;
  let source: BackendSource;
  if (s.kind === 'image') {
    source = {
      kind: 'image',
      image: s.image,
      command: s.command,
      // env values are secrets: opened only here, on the way to the orchestrator
      env: s.env.map((e) => ({ name: e.name, value: e.valueEnc != null ? resolved.openSecret(e.valueEnc) : (e.value ?? '') })),
      port: s.port,
      registryAuth: s.registryUsername && s.registryPasswordEnc ? { username: s.registryUsername, password: resolved.openSecret(s.registryPasswordEnc) } : null,
    };
  } else {
    if (!resolved.model) throw new Error(`version ${spec.versionName} names model ${s.name}/${s.version}, but no resolved model was given`);
    source = resolved.model;
  }
  return {
    versionId: spec.versionId,
    groupName: spec.groupName,
    versionName: spec.versionName,
    replicas: spec.replicas,
    source,
    resources: spec.resources,
    dedicated: spec.dedicated,
  };
}
