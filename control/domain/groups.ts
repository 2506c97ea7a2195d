// Service groups: create, edit, start, stop, delete. A group is the unit users call
// (`/services/{name}/predict`); it holds at most two versions.
import { conflict, notFound } from '../../platform/errors.ts';
import { requireProjectRole, type Actor } from './actor.ts';
import { audit } from './audit.ts';
import { ChangeFeed } from './changes.ts';
import type { DomainDeps } from './deps.ts';
import { assertDnsLabel, assertText } from './names.ts';
import type { ServiceGroup } from '../../platform/db/prisma.ts';
import { isAtRest } from './status.ts';
import type { ServiceVersions } from './versions.ts';
import { canaryGuardData, type CanaryGuardInput } from './release-settings.ts';

export const DEFAULT_PROJECT = 'default';

export interface CreateGroupInput {
  name: string;
  type?: 'MODEL_SERVICE' | 'ML_SERVICE' | null;
  description?: string | null;
  projectId?: string | null;
}

export interface UpdateGroupInput {
  description?: string | null;
  type?: 'MODEL_SERVICE' | 'ML_SERVICE' | null;
  /** automatic canary rollback (canary-guard.ts) */
  canaryGuard?: CanaryGuardInput | null;
}

export class ServiceGroups {
  private readonly changes: ChangeFeed;

  constructor(
    private readonly deps: DomainDeps,
    private readonly versions: ServiceVersions,
  ) {
    this.changes = new ChangeFeed(deps.pubsub);
  }

  async get(id: string): Promise<ServiceGroup> {
    const group = await this.deps.prisma.serviceGroup.findUnique({ where: { id } });
    if (!group) throw notFound(`service group ${id} does not exist`);
    return group;
  }

  async create(actor: Actor, input: CreateGroupInput): Promise<ServiceGroup> {
    const name = assertDnsLabel(input.name, 'name');
    const description = assertText(input.description, 'description', 2000);
    const { prisma, now } = this.deps;
    const group = await prisma.$transaction(async (tx) => {
      const projectId = input.projectId ?? (await tx.project.findUnique({ where: { name: DEFAULT_PROJECT } }))?.id;
      if (!projectId) throw notFound(`project ${DEFAULT_PROJECT} does not exist`);
      const project = await tx.project.findUnique({ where: { id: projectId } });
      if (!project) throw notFound(`project ${projectId} does not exist`);
      await requireProjectRole(tx, actor, projectId, 'DEVELOPER');
      if (await tx.serviceGroup.findUnique({ where: { name } })) throw conflict(`a service group named "${name}" already exists`);
      const created = await tx.serviceGroup.create({
        data: {
          name,
          type: input.type ?? 'MODEL_SERVICE',
          description,
          projectId,
          createdById: actor.userId,
          createdByName: actor.username,
        },
      });
      await audit(tx, actor, 'createServiceGroup', 'ServiceGroup', created.id, null, created, now());
      return created;
    });
    await this.changes.group(group.id);
    return group;
  }

  async update(actor: Actor, id: string, input: UpdateGroupInput): Promise<ServiceGroup> {
    const { prisma, now } = this.deps;
    const group = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceGroup.findUnique({ where: { id } });
      if (!before) throw notFound(`service group ${id} does not exist`);
      await requireProjectRole(tx, actor, before.projectId, 'DEVELOPER');
      const after = await tx.serviceGroup.update({
        where: { id },
        data: {
          ...(input.description != null ? { description: assertText(input.description, 'description', 2000) } : {}),
          ...(input.type != null ? { type: input.type } : {}),
          ...(input.canaryGuard ? canaryGuardData(input.canaryGuard) : {}),
        },
      });
      await audit(tx, actor, 'updateServiceGroup', 'ServiceGroup', id, before, after, now());
      return after;
    });
    await this.changes.group(id);
    return group;
  }

  /** Starts every version of the group that is not running yet. */
  async start(actor: Actor, id: string): Promise<ServiceGroup> {
    const group = await this.get(id);
    await requireProjectRole(this.deps.prisma, actor, group.projectId, 'DEVELOPER');
    const versions = await this.deps.prisma.serviceVersion.findMany({ where: { groupId: id }, orderBy: { createdAt: 'asc' } });
    if (versions.length === 0) throw conflict(`service group "${group.name}" has no version to start`);
    for (const v of versions) if (isAtRest(v.status)) await this.versions.start(actor, v.id);
    return this.get(id);
  }

  async stop(actor: Actor, id: string): Promise<ServiceGroup> {
    const group = await this.get(id);
    await requireProjectRole(this.deps.prisma, actor, group.projectId, 'DEVELOPER');
    const versions = await this.deps.prisma.serviceVersion.findMany({ where: { groupId: id } });
    for (const v of versions) if (v.status === 'RUNNING' || v.status === 'STARTING') await this.versions.stop(actor, v.id);
    return this.get(id);
  }

  async delete(actor: Actor, id: string): Promise<boolean> {
    const { prisma, now } = this.deps;
    const versionIds = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceGroup.findUnique({ where: { id }, include: { versions: true } });
      if (!before) throw notFound(`service group ${id} does not exist`);
      await requireProjectRole(tx, actor, before.projectId, 'DEVELOPER');
      const busy = before.versions.filter((v) => !isAtRest(v.status));
      if (busy.length > 0) {
        throw conflict(
          `service group "${before.name}" cannot be deleted while versions are ${busy.map((v) => `${v.name} ${v.status}`).join(', ')}; stop it first`,
        );
      }
      await tx.serviceGroup.delete({ where: { id } });
      await audit(tx, actor, 'deleteServiceGroup', 'ServiceGroup', id, before, null, now());
      return before.versions.map((v) => v.id);
    });
    // FAILED versions may have left crash-looping replicas behind: make sure nothing stays
    for (const versionId of versionIds) await this.deps.orchestrator.stop(versionId).catch(() => undefined);
    await this.changes.group(id, true);
    await this.changes.dataPlane(`group ${id} deleted`);
    return true;
  }
}
