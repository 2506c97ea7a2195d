// Service versions: add, update, start, stop, delete, with the rules that keep a group
// consistent (at most two versions, unique DNS-1123 names, dedicated resource groups
// serving one service, deletion only at rest). Start and stop hand the version to the
// orchestrator; the lifecycle (lifecycle.ts) finishes the transition when it reports.
import { badInput, conflict, forbidden, notFound } from '../../platform/errors.ts';
import type { VersionDeployment } from '../orchestrator/port.ts';
import { requireProjectRole, type Actor } from './actor.ts';
import { audit } from './audit.ts';
import { ChangeFeed } from './changes.ts';
import { deploymentHash, versionDeployment, versionSpec, type VersionSpec } from './deployment.ts';
import type { DomainDeps } from './deps.ts';
import { assertDnsLabel, assertText } from './names.ts';
import { JSON_NULL, type Prisma, type ServiceVersion, type Tx } from '../../platform/db/prisma.ts';
import { isAtRest } from './status.ts';
import { refreshGroupStatus, transitionVersion } from './transitions.ts';
import { autoscalingData, autoscalingSpec, throttleData, type AutoscalingInput, type ThrottleInput } from './release-settings.ts';

export const MAX_VERSIONS_PER_GROUP = 2;
const MAX_REPLICAS = 64;

export interface ModelRefInput { name: string; version: string; source?: 'REGISTRY' | 'MLFLOW' | 'IMAGE' | null; trackingUri?: string | null }
export interface EnvVarInput { name: string; value: string }
export interface ImageSourceInput {
  image: string;
  command?: string[] | null;
  port?: number | null;
  env?: EnvVarInput[] | null;
  registryUsername?: string | null;
  registryPassword?: string | null;
}
export interface ResourceSpecInput { cpu?: number | null; memoryGiB?: number | null; gpuType?: string | null; gpuCount?: number | null }
export interface InferenceTableInput { enabled?: boolean | null; sampleRate?: number | null; maxBodyBytes?: number | null }

export interface AddVersionInput {
  name: string;
  description?: string | null;
  model?: ModelRefInput | null;
  image?: ImageSourceInput | null;
  replicas?: number | null;
  qpsLimit?: number | null;
  authEnabled?: boolean | null;
  /** auth accepts only JWTs from the external issuer (no API keys) */
  authJwtOnly?: boolean | null;
  resources?: ResourceSpecInput | null;
  resourceGroupId?: string | null;
  inferenceTable?: InferenceTableInput | null;
  logDeliveryEnabled?: boolean | null;
}

export interface UpdateVersionInput {
  description?: string | null;
  replicas?: number | null;
  /** null clears the limit; undefined leaves it */
  qpsLimit?: number | null;
  clearQpsLimit?: boolean | null;
  authEnabled?: boolean | null;
  /** auth accepts only JWTs from the external issuer (no API keys) */
  authJwtOnly?: boolean | null;
  resources?: ResourceSpecInput | null;
  image?: ImageSourceInput | null;
  model?: ModelRefInput | null;
  inferenceTable?: InferenceTableInput | null;
  logDeliveryEnabled?: boolean | null;
  /** release protection (release-settings.ts) */
  throttle?: ThrottleInput | null;
  autoscaling?: AutoscalingInput | null;
}

function checkInt(value: number | null | undefined, field: string, min: number, max: number): number | undefined {
  if (value == null) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(`${field} must be an integer from ${min} to ${max}`, { field });
  return value;
}

function checkNumber(value: number | null | undefined, field: string, min: number, max: number): number | undefined {
  if (value == null) return undefined;
  if (!Number.isFinite(value) || value < min || value > max) throw badInput(`${field} must be between ${min} and ${max}`, { field });
  return value;
}

const GPU_TYPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function resourceData(spec: ResourceSpecInput): Prisma.ServiceVersionUncheckedUpdateInput {
  const gpuType = spec.gpuType ?? undefined;
  if (gpuType !== undefined && !GPU_TYPE.test(gpuType)) throw badInput(`resources.gpuType "${gpuType}" is not a GPU type name`, { field: 'resources.gpuType' });
  const gpuCount = checkInt(spec.gpuCount, 'resources.gpuCount', 0, 16);
  if (gpuCount && gpuCount > 0 && !gpuType) throw badInput('resources.gpuType is required when resources.gpuCount > 0', { field: 'resources.gpuType' });
  return {
    ...(spec.cpu != null ? { cpu: checkNumber(spec.cpu, 'resources.cpu', 0.1, 256) } : {}),
    ...(spec.memoryGiB != null ? { memoryGiB: checkNumber(spec.memoryGiB, 'resources.memoryGiB', 0.125, 4096) } : {}),
    ...(gpuType !== undefined ? { gpuType } : {}),
    ...(gpuCount !== undefined ? { gpuCount } : {}),
  };
}

function inferenceData(input: InferenceTableInput): Prisma.ServiceVersionUncheckedUpdateInput {
  return {
    ...(input.enabled != null ? { inferenceTableEnabled: input.enabled } : {}),
    ...(input.sampleRate != null ? { inferenceSampleRate: checkNumber(input.sampleRate, 'inferenceTable.sampleRate', 0, 1) } : {}),
    ...(input.maxBodyBytes != null ? { inferenceMaxBodyBytes: checkInt(input.maxBodyBytes, 'inferenceTable.maxBodyBytes', 1024, 16 * 1024 * 1024) } : {}),
  };
}

export class ServiceVersions {
  private readonly changes: ChangeFeed;

  constructor(private readonly deps: DomainDeps) {
    this.changes = new ChangeFeed(deps.pubsub);
  }

  private imageData(image: ImageSourceInput): Prisma.ServiceVersionUncheckedUpdateInput {
    const ref = assertText(image.image, 'image.image', 512).trim();
    if (!ref) throw badInput('image.image is required', { field: 'image.image' });
    const command = image.command ?? [];
    if (command.some((c) => typeof c !== 'string' || c.length > 4096) || command.length > 256) {
      throw badInput('image.command must be at most 256 strings of at most 4096 characters', { field: 'image.command' });
    }
    if (command.length === 0 && this.deps.orchestrator.runsImageEntrypoint !== true) {
      throw badInput('image.command is required: this platform runs a custom image\'s startup command as a process (only Kubernetes runs the image\'s own entrypoint)', { field: 'image.command', reason: 'IMAGE_COMMAND_REQUIRED' });
    }
    const env = image.env ?? [];
    for (const e of env) {
      if (!ENV_NAME.test(e.name)) throw badInput(`image.env name "${e.name}" is not a valid variable name`, { field: 'image.env' });
      assertText(e.value, `image.env ${e.name}`, 32 * 1024);
    }
    const port = checkInt(image.port, 'image.port', 1, 65535) ?? 8080;
    if ((image.registryPassword != null) !== (image.registryUsername != null)) {
      throw badInput('image.registryUsername and image.registryPassword go together', { field: 'image.registryPassword' });
    }
    return {
      modelSource: 'IMAGE',
      image: ref,
      command,
      // env values are secrets (tokens, passwords): sealed at rest, never read back out
      env: env.map((e) => ({ name: e.name, valueEnc: this.deps.secrets.seal(e.value) })),
      port,
      ...(image.registryUsername != null
        ? {
            registryUsername: assertText(image.registryUsername, 'image.registryUsername', 256),
            registryPasswordEnc: this.deps.secrets.seal(assertText(image.registryPassword, 'image.registryPassword', 4096)),
          }
        : {}),
      modelName: null,
      modelVersion: null,
      mlflowTrackingUri: null,
    };
  }

  private async modelData(model: ModelRefInput): Promise<Prisma.ServiceVersionUncheckedUpdateInput> {
    const source = model.source ?? 'REGISTRY';
    if (source === 'IMAGE') throw badInput('model.source is REGISTRY or MLFLOW; give an image in `image`', { field: 'model.source' });
    const name = assertText(model.name, 'model.name', 256);
    const version = assertText(model.version, 'model.version', 128);
    if (!name || !version) throw badInput('model.name and model.version are required', { field: 'model' });
    const trackingUri = model.trackingUri ?? null;
    if (source === 'MLFLOW' && !trackingUri) throw badInput('model.trackingUri is required for an MLflow model', { field: 'model.trackingUri' });
    await this.deps.models.check({ source, name, version, trackingUri });
    return {
      modelSource: source,
      modelName: name,
      modelVersion: version,
      mlflowTrackingUri: trackingUri,
      image: null,
      command: JSON_NULL,
      env: JSON_NULL,
      port: null,
      registryUsername: null,
      registryPasswordEnc: null,
    };
  }

  /** A dedicated resource group must be open to the group's project and serve no other group. */
  private async bindResourceGroup(tx: Tx, resourceGroupId: string, groupId: string, projectId: string): Promise<void> {
    const rg = await tx.resourceGroup.findUnique({ where: { id: resourceGroupId }, include: { projects: true } });
    if (!rg) throw badInput(`resource group ${resourceGroupId} does not exist`, { field: 'resourceGroupId' });
    if (!rg.projects.some((p) => p.projectId === projectId)) {
      throw badInput(`resource group "${rg.name}" is not associated with this group's project`, { field: 'resourceGroupId' });
    }
    if (rg.boundGroupId && rg.boundGroupId !== groupId) throw conflict(`resource group "${rg.name}" already serves another service group`);
    if (!rg.boundGroupId) await tx.resourceGroup.update({ where: { id: rg.id }, data: { boundGroupId: groupId } });
  }

  async get(id: string): Promise<ServiceVersion> {
    const version = await this.deps.prisma.serviceVersion.findUnique({ where: { id } });
    if (!version) throw notFound(`service version ${id} does not exist`);
    return version;
  }

  async add(actor: Actor, groupId: string, input: AddVersionInput): Promise<ServiceVersion> {
    const name = assertDnsLabel(input.name, 'name');
    const description = assertText(input.description, 'description', 2000);
    if ((input.model == null) === (input.image == null)) throw badInput('give exactly one of model and image', { field: 'model' });
    const replicas = checkInt(input.replicas, 'replicas', 0, MAX_REPLICAS) ?? 1;
    const qpsLimit = checkInt(input.qpsLimit, 'qpsLimit', 1, 1_000_000);
    if (input.image) this.assertMayRunCommand(actor, input.image);
    const sourceData = input.model ? await this.modelData(input.model) : this.imageData(input.image!);
    const resources = input.resources ? resourceData(input.resources) : {};
    const inference = input.inferenceTable ? inferenceData(input.inferenceTable) : {};
    const { prisma, now } = this.deps;

    const version = await prisma.$transaction(async (tx) => {
      const group = await tx.serviceGroup.findUnique({ where: { id: groupId }, include: { versions: { select: { name: true } } } });
      if (!group) throw notFound(`service group ${groupId} does not exist`);
      await requireProjectRole(tx, actor, group.projectId, 'DEVELOPER');
      if (group.versions.length >= MAX_VERSIONS_PER_GROUP) {
        throw conflict(`service group "${group.name}" already has ${MAX_VERSIONS_PER_GROUP} versions (the most a group may have)`);
      }
      if (group.versions.some((v) => v.name === name)) throw conflict(`service group "${group.name}" already has a version named "${name}"`);
      if (input.resourceGroupId) await this.bindResourceGroup(tx, input.resourceGroupId, group.id, group.projectId);
      const created = await tx.serviceVersion.create({
        data: {
          ...(sourceData as Prisma.ServiceVersionUncheckedCreateInput),
          ...(resources as object),
          ...(inference as object),
          groupId,
          name,
          description,
          replicas,
          qpsLimit: qpsLimit ?? null,
          // secure by default: a new version answers only callers with a key or token
          authEnabled: input.authEnabled ?? true,
          authJwtOnly: input.authJwtOnly ?? false,
          resourceSource: input.resourceGroupId ? 'DEDICATED' : 'SHARED_POOL',
          resourceGroupId: input.resourceGroupId ?? null,
          logDeliveryEnabled: input.logDeliveryEnabled ?? true,
          createdById: actor.userId,
          createdByName: actor.username,
        },
      });
      await refreshGroupStatus(tx, groupId);
      await audit(tx, actor, 'addServiceVersion', 'ServiceVersion', created.id, null, created, now());
      return created;
    });
    await this.changes.version(groupId, version.id);
    return version;
  }

  async update(actor: Actor, id: string, input: UpdateVersionInput): Promise<ServiceVersion> {
    if (input.model != null && input.image != null) throw badInput('give at most one of model and image', { field: 'model' });
    if (input.image) this.assertMayRunCommand(actor, input.image);
    const data: Prisma.ServiceVersionUncheckedUpdateInput = {
      ...(input.description != null ? { description: assertText(input.description, 'description', 2000) } : {}),
      ...(input.replicas != null ? { replicas: checkInt(input.replicas, 'replicas', 0, MAX_REPLICAS) } : {}),
      ...(input.qpsLimit != null ? { qpsLimit: checkInt(input.qpsLimit, 'qpsLimit', 1, 1_000_000) } : {}),
      ...(input.clearQpsLimit ? { qpsLimit: null } : {}),
      ...(input.authEnabled != null ? { authEnabled: input.authEnabled } : {}),
      ...(input.authJwtOnly != null ? { authJwtOnly: input.authJwtOnly } : {}),
      ...(input.logDeliveryEnabled != null ? { logDeliveryEnabled: input.logDeliveryEnabled } : {}),
      ...(input.resources ? resourceData(input.resources) : {}),
      ...(input.inferenceTable ? inferenceData(input.inferenceTable) : {}),
      ...(input.image ? this.imageData(input.image) : {}),
      ...(input.model ? await this.modelData(input.model) : {}),
      ...(input.throttle ? throttleData(input.throttle) : {}),
      ...(input.autoscaling ? autoscalingData(input.autoscaling) : {}),
    };
    const { prisma, now } = this.deps;
    const { before, after } = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceVersion.findUnique({ where: { id }, include: { group: true } });
      if (!before) throw notFound(`service version ${id} does not exist`);
      await requireProjectRole(tx, actor, before.group.projectId, 'DEVELOPER');
      if (before.status === 'STOPPING') throw conflict(`version "${before.name}" is stopping; update it once it has stopped`);
      const after = await tx.serviceVersion.update({ where: { id }, data });
      await audit(tx, actor, 'updateServiceVersion', 'ServiceVersion', id, before, after, now());
      return { before, after };
    });
    const live = after.status === 'RUNNING' || after.status === 'STARTING';
    // what runs changed ⇔ the deployment hash changed (model, MLflow URI, image, registry
    // credentials, spec, replicas, nodes: see deployment.ts); policy alone goes to the data plane
    if (live && deploymentHash(await this.spec(before)) !== deploymentHash(await this.spec(after))) {
      await this.deps.orchestrator.deploy(await this.deployment(after));
    }
    await this.changes.version(after.groupId, id);
    if (live) await this.changes.dataPlane(`version ${id} updated`);
    return after;
  }

  /**
   * A command is code that runs on the platform's machines. Where the orchestrator isolates
   * it (a container, or an unprivileged user that cannot read the data dir) any developer
   * may set one; where it would run with the control plane's own rights, only an admin may.
   */
  private assertMayRunCommand(actor: Actor, image: ImageSourceInput): void {
    if (!image.command || image.command.length === 0) return;
    if (this.deps.orchestrator.isolatesCommands === true || actor.role === 'ADMIN') return;
    throw forbidden(
      `${actor.username} may not set a command: this platform cannot isolate commands from the control plane ` +
        '(run it as root with SLUICE_RUN_AS set, or on Kubernetes), so running one is an admin right',
    );
  }

  /** The version's spec: its row with its group's name and its dedicated nodes (deployment.ts). */
  async spec(version: ServiceVersion): Promise<VersionSpec> {
    const { prisma } = this.deps;
    const group = await prisma.serviceGroup.findUniqueOrThrow({ where: { id: version.groupId }, select: { name: true } });
    const resourceGroup = version.resourceGroupId
      ? await prisma.resourceGroup.findUnique({ where: { id: version.resourceGroupId }, include: { nodes: { orderBy: { name: 'asc' } } } })
      : null;
    return versionSpec(version, { groupName: group.name, resourceGroup });
  }

  /** What the orchestrator needs to run a version: the model or image, the spec, the nodes. */
  async deployment(version: ServiceVersion): Promise<VersionDeployment> {
    const { secrets, models } = this.deps;
    const spec = await this.spec(version);
    const model = spec.source.kind === 'model' ? await models.resolve(version) : null;
    return { ...versionDeployment(spec, { model, openSecret: (sealed) => secrets.open(sealed) }), autoscaling: autoscalingSpec(version) };
  }

  async start(actor: Actor, id: string): Promise<ServiceVersion> {
    const { prisma, now } = this.deps;
    const version = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceVersion.findUnique({ where: { id }, include: { group: true } });
      if (!before) throw notFound(`service version ${id} does not exist`);
      await requireProjectRole(tx, actor, before.group.projectId, 'DEVELOPER');
      if (before.status === 'STOPPING') throw conflict(`version "${before.name}" is stopping; start it once it has stopped`);
      if (!isAtRest(before.status)) return null; // already RUNNING or STARTING: starting again changes nothing
      await transitionVersion(tx, id, 'STARTING', null);
      const after = await tx.serviceVersion.findUniqueOrThrow({ where: { id } });
      await audit(tx, actor, 'startServiceVersion', 'ServiceVersion', id, before, after, now());
      return after;
    });
    if (!version) return this.get(id);
    await this.changes.version(version.groupId, id);
    try {
      await this.deps.orchestrator.deploy(await this.deployment(version));
    } catch (error) {
      // the orchestrator refused outright (bad artifact, no capacity): the version failed to start
      const reason = error instanceof Error ? error.message : String(error);
      await prisma.$transaction((tx) => transitionVersion(tx, id, 'FAILED', reason));
      await this.changes.version(version.groupId, id);
    }
    return this.get(id);
  }

  async stop(actor: Actor, id: string): Promise<ServiceVersion> {
    const { prisma, now } = this.deps;
    const version = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceVersion.findUnique({ where: { id }, include: { group: true } });
      if (!before) throw notFound(`service version ${id} does not exist`);
      await requireProjectRole(tx, actor, before.group.projectId, 'DEVELOPER');
      if (before.status === 'DRAFT' || before.status === 'STOPPED' || before.status === 'STOPPING') return null;
      await transitionVersion(tx, id, 'STOPPING', null);
      const after = await tx.serviceVersion.findUniqueOrThrow({ where: { id } });
      await audit(tx, actor, 'stopServiceVersion', 'ServiceVersion', id, before, after, now());
      return after;
    });
    if (!version) return this.get(id);
    // traffic leaves the version before its replicas go
    await this.changes.dataPlane(`version ${id} stopping`);
    await this.changes.version(version.groupId, id);
    await this.deps.orchestrator.stop(id);
    return this.get(id);
  }

  async delete(actor: Actor, id: string): Promise<boolean> {
    const { prisma, now } = this.deps;
    const before = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceVersion.findUnique({ where: { id }, include: { group: true } });
      if (!before) throw notFound(`service version ${id} does not exist`);
      await requireProjectRole(tx, actor, before.group.projectId, 'DEVELOPER');
      if (!isAtRest(before.status)) throw conflict(`version "${before.name}" is ${before.status}; stop it before deleting it`);
      await tx.serviceVersion.delete({ where: { id } });
      await refreshGroupStatus(tx, before.groupId);
      await audit(tx, actor, 'deleteServiceVersion', 'ServiceVersion', id, before, null, now());
      return before;
    });
    await this.deps.orchestrator.stop(id).catch(() => undefined);
    await this.changes.version(before.groupId, id, true);
    return true;
  }

  /** Restarts one replica (the instance list's restart action). */
  async restartInstance(actor: Actor, instanceId: string): Promise<void> {
    const { prisma, now } = this.deps;
    const instance = await prisma.instance.findUnique({ where: { id: instanceId }, include: { version: { include: { group: true } } } });
    if (!instance) throw notFound(`instance ${instanceId} does not exist`);
    await requireProjectRole(prisma, actor, instance.version.group.projectId, 'DEVELOPER');
    await prisma.$transaction((tx) => audit(tx, actor, 'restartInstance', 'Instance', instanceId, instance, null, now()));
    await this.deps.orchestrator.restartInstance(instance.versionId, instance.name);
  }
}
