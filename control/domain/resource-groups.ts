// Resource groups: dedicated node pools that admins create, fill with nodes, open to
// projects, and bind to exactly one service group. Capacity used/free is derived from the
// nodes and the resources of the versions placed on them.
import { badInput, conflict, notFound } from '../../platform/errors.ts';
import { requireAdmin, type Actor } from './actor.ts';
import { audit } from './audit.ts';
import type { DomainDeps } from './deps.ts';
import { assertDnsLabel, assertText } from './names.ts';
import type { ResourceGroup } from '../../platform/db/prisma.ts';
import { isAtRest } from './status.ts';

export type TagInput = { key: string; value: string };
export interface NodeInput { name: string; cpu: number; memoryGiB: number; gpuType?: string | null; gpuCount?: number | null }

function checkTags(tags: TagInput[] | null | undefined): TagInput[] {
  const list = tags ?? [];
  if (list.length > 50) throw badInput('at most 50 tags', { field: 'tags' });
  return list.map((t) => ({ key: assertText(t.key, 'tag key', 128), value: assertText(t.value, 'tag value', 256) }));
}

export interface Capacity { cpu: number; memoryGiB: number; gpus: number }

export class ResourceGroups {
  constructor(private readonly deps: DomainDeps) {}

  async create(actor: Actor, input: { name: string; description?: string | null; tags?: TagInput[] | null; projectIds?: string[] | null }): Promise<ResourceGroup> {
    requireAdmin(actor);
    const name = assertDnsLabel(input.name, 'name');
    const tags = checkTags(input.tags);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      if (await tx.resourceGroup.findUnique({ where: { name } })) throw conflict(`a resource group named "${name}" already exists`);
      for (const projectId of input.projectIds ?? []) {
        if (!(await tx.project.findUnique({ where: { id: projectId } }))) throw badInput(`project ${projectId} does not exist`, { field: 'projectIds' });
      }
      const created = await tx.resourceGroup.create({
        data: {
          name,
          description: assertText(input.description, 'description', 2000),
          tags,
          createdById: actor.userId,
          projects: { create: (input.projectIds ?? []).map((projectId) => ({ projectId })) },
        },
      });
      await audit(tx, actor, 'createResourceGroup', 'ResourceGroup', created.id, null, created, now());
      return created;
    });
  }

  async update(actor: Actor, id: string, input: { description?: string | null; tags?: TagInput[] | null }): Promise<ResourceGroup> {
    requireAdmin(actor);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const before = await tx.resourceGroup.findUnique({ where: { id } });
      if (!before) throw notFound(`resource group ${id} does not exist`);
      const after = await tx.resourceGroup.update({
        where: { id },
        data: {
          ...(input.description != null ? { description: assertText(input.description, 'description', 2000) } : {}),
          ...(input.tags != null ? { tags: checkTags(input.tags) } : {}),
        },
      });
      await audit(tx, actor, 'updateResourceGroup', 'ResourceGroup', id, before, after, now());
      return after;
    });
  }

  async associateProject(actor: Actor, id: string, projectId: string, associate: boolean): Promise<ResourceGroup> {
    requireAdmin(actor);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const rg = await tx.resourceGroup.findUnique({ where: { id }, include: { boundGroup: true } });
      if (!rg) throw notFound(`resource group ${id} does not exist`);
      if (!(await tx.project.findUnique({ where: { id: projectId } }))) throw notFound(`project ${projectId} does not exist`);
      if (associate) {
        await tx.resourceGroupProject.upsert({ where: { resourceGroupId_projectId: { resourceGroupId: id, projectId } }, create: { resourceGroupId: id, projectId }, update: {} });
      } else {
        if (rg.boundGroup?.projectId === projectId) throw conflict(`resource group "${rg.name}" serves a service of that project; unbind it first`);
        await tx.resourceGroupProject.deleteMany({ where: { resourceGroupId: id, projectId } });
      }
      await audit(tx, actor, associate ? 'associateResourceGroupProject' : 'dissociateResourceGroupProject', 'ResourceGroup', id, null, { projectId }, now());
      return tx.resourceGroup.findUniqueOrThrow({ where: { id } });
    });
  }

  /** Frees a resource group from its service group; refused while a version still runs on it. */
  async unbind(actor: Actor, id: string): Promise<ResourceGroup> {
    requireAdmin(actor);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const rg = await tx.resourceGroup.findUnique({ where: { id }, include: { versions: true } });
      if (!rg) throw notFound(`resource group ${id} does not exist`);
      const busy = rg.versions.filter((v) => !isAtRest(v.status));
      if (busy.length > 0) throw conflict(`resource group "${rg.name}" still runs ${busy.map((v) => v.name).join(', ')}; stop them first`);
      await tx.serviceVersion.updateMany({ where: { resourceGroupId: id }, data: { resourceGroupId: null, resourceSource: 'SHARED_POOL' } });
      const after = await tx.resourceGroup.update({ where: { id }, data: { boundGroupId: null } });
      await audit(tx, actor, 'unbindResourceGroup', 'ResourceGroup', id, rg, after, now());
      return after;
    });
  }

  async addNode(actor: Actor, id: string, input: NodeInput): Promise<ResourceGroup> {
    requireAdmin(actor);
    const name = assertDnsLabel(input.name, 'node name');
    if (!(input.cpu > 0 && input.cpu <= 1024)) throw badInput('node cpu must be between 0 and 1024', { field: 'cpu' });
    if (!(input.memoryGiB > 0 && input.memoryGiB <= 65536)) throw badInput('node memoryGiB must be between 0 and 65536', { field: 'memoryGiB' });
    const gpuCount = input.gpuCount ?? 0;
    if (!Number.isInteger(gpuCount) || gpuCount < 0 || gpuCount > 64) throw badInput('node gpuCount must be an integer from 0 to 64', { field: 'gpuCount' });
    if (gpuCount > 0 && !input.gpuType) throw badInput('node gpuType is required when it has GPUs', { field: 'gpuType' });
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const rg = await tx.resourceGroup.findUnique({ where: { id } });
      if (!rg) throw notFound(`resource group ${id} does not exist`);
      if (await tx.resourceNode.findUnique({ where: { resourceGroupId_name: { resourceGroupId: id, name } } })) {
        throw conflict(`resource group "${rg.name}" already has a node named "${name}"`);
      }
      const node = await tx.resourceNode.create({ data: { resourceGroupId: id, name, cpu: input.cpu, memoryGiB: input.memoryGiB, gpuType: input.gpuType ?? null, gpuCount } });
      await audit(tx, actor, 'addResourceNode', 'ResourceGroup', id, null, node, now());
      return tx.resourceGroup.findUniqueOrThrow({ where: { id } });
    });
  }

  async removeNode(actor: Actor, nodeId: string): Promise<ResourceGroup> {
    requireAdmin(actor);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const node = await tx.resourceNode.findUnique({ where: { id: nodeId } });
      if (!node) throw notFound(`node ${nodeId} does not exist`);
      await tx.resourceNode.delete({ where: { id: nodeId } });
      await audit(tx, actor, 'removeResourceNode', 'ResourceGroup', node.resourceGroupId, node, null, now());
      return tx.resourceGroup.findUniqueOrThrow({ where: { id: node.resourceGroupId } });
    });
  }

  async delete(actor: Actor, id: string): Promise<boolean> {
    requireAdmin(actor);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const rg = await tx.resourceGroup.findUnique({ where: { id } });
      if (!rg) throw notFound(`resource group ${id} does not exist`);
      if (rg.boundGroupId) throw conflict(`resource group "${rg.name}" is bound to a service group; unbind it first`);
      await tx.resourceGroup.delete({ where: { id } });
      await audit(tx, actor, 'deleteResourceGroup', 'ResourceGroup', id, rg, null, now());
      return true;
    });
  }

  /** Total, used (by versions that are not at rest) and free capacity of a resource group. */
  async capacity(id: string): Promise<{ total: Capacity; used: Capacity; free: Capacity }> {
    const rg = await this.deps.prisma.resourceGroup.findUnique({ where: { id }, include: { nodes: true, versions: true } });
    if (!rg) throw notFound(`resource group ${id} does not exist`);
    return computeCapacity(rg.nodes, rg.versions);
  }
}

export function computeCapacity(
  nodes: { cpu: number; memoryGiB: number; gpuCount: number; state: string }[],
  versions: { cpu: number; memoryGiB: number; gpuCount: number; replicas: number; status: string }[],
): { total: Capacity; used: Capacity; free: Capacity } {
  const ready = nodes.filter((n) => n.state === 'READY');
  const total = {
    cpu: ready.reduce((s, n) => s + n.cpu, 0),
    memoryGiB: ready.reduce((s, n) => s + n.memoryGiB, 0),
    gpus: ready.reduce((s, n) => s + n.gpuCount, 0),
  };
  const live = versions.filter((v) => v.status === 'RUNNING' || v.status === 'STARTING' || v.status === 'STOPPING');
  const used = {
    cpu: live.reduce((s, v) => s + v.cpu * v.replicas, 0),
    memoryGiB: live.reduce((s, v) => s + v.memoryGiB * v.replicas, 0),
    gpus: live.reduce((s, v) => s + v.gpuCount * v.replicas, 0),
  };
  return {
    total,
    used,
    free: { cpu: Math.max(0, total.cpu - used.cpu), memoryGiB: Math.max(0, total.memoryGiB - used.memoryGiB), gpus: Math.max(0, total.gpus - used.gpus) },
  };
}
