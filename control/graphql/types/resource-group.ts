// GraphQL for resource groups: dedicated node pools with capacity, associated projects
// and the one service they serve. Admins manage them and see them all; other users see
// those associated with one of their projects or bound to a service they may read, and
// through them only what they could read anyway (the bound service, their own projects).
import { builder } from '../builder.ts';
import { reselect, idOf } from '../reselect.ts';
import { requireActor, type GraphQLContext } from '../context.ts';
import { readableProjectIds } from '../../domain/actor.ts';
import { readableGroupsWhere } from '../access.ts';
import type { Prisma } from '../../../platform/db/prisma.ts';
import { computeCapacity } from '../../domain/resource-groups.ts';
import { NodeStateEnum } from './enums.ts';
import { z } from 'zod';
import { NODES_PER_RESOURCE_GROUP_MAX, PROJECTS_PER_RESOURCE_GROUP_MAX, RESOURCE_GROUPS_PAGE, TAGS_MAX, capped, pageSize } from '../list-bounds.ts';

const tagsValidation = z.array(z.unknown()).max(TAGS_MAX, `at most ${TAGS_MAX} tags`);

const Tag = builder.objectRef<{ key: string; value: string }>('Tag').implement({
  fields: (t) => ({ key: t.exposeString('key'), value: t.exposeString('value') }),
});

const Capacity = builder.objectRef<{ cpu: number; memoryGiB: number; gpus: number }>('Capacity').implement({
  fields: (t) => ({ cpu: t.exposeFloat('cpu'), memoryGiB: t.exposeFloat('memoryGiB'), gpus: t.exposeInt('gpus') }),
});

const CapacityReport = builder.objectRef<{ total: { cpu: number; memoryGiB: number; gpus: number }; used: { cpu: number; memoryGiB: number; gpus: number }; free: { cpu: number; memoryGiB: number; gpus: number } }>('CapacityReport').implement({
  fields: (t) => ({
    total: t.field({ type: Capacity, resolve: (c) => c.total }),
    used: t.field({ type: Capacity, resolve: (c) => c.used }),
    free: t.field({ type: Capacity, resolve: (c) => c.free }),
  }),
});

builder.prismaObject('ResourceNode', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    cpu: t.exposeFloat('cpu'),
    memoryGiB: t.exposeFloat('memoryGiB'),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    gpuCount: t.exposeInt('gpuCount'),
    state: t.expose('state', { type: NodeStateEnum }),
  }),
});

builder.prismaObject('ResourceGroup', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    // capped like on write (list-bounds.ts): what the cost model assumes
    tags: t.field({ type: [Tag], resolve: (rg) => capped((rg.tags as { key: string; value: string }[] | null) ?? [], TAGS_MAX) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    nodes: t.relation('nodes', {
      description: `The group's nodes by name: at most \`first\` (default and cap ${NODES_PER_RESOURCE_GROUP_MAX}), the next page \`after\` the last name; capacity counts them all`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }), after: t.arg.string({ description: 'the name of the last node of the previous page' }) },
      query: (args) => ({ where: args.after ? { name: { gt: args.after } } : {}, orderBy: { name: 'asc' }, take: pageSize(args.first, NODES_PER_RESOURCE_GROUP_MAX) }),
    }),
    boundGroup: t.prismaField({
      type: 'ServiceGroup',
      nullable: true,
      select: { boundGroupId: true },
      // the bound service only for those who may read it (its versions, env, keys follow)
      resolve: async (query, rg, _args, ctx) => {
        if (!rg.boundGroupId) return null;
        const where = await readableGroupsWhere(ctx);
        return ctx.prisma.serviceGroup.findFirst({ ...query, where: { AND: [where, { id: rg.boundGroupId }] } });
      },
    }),
    projects: t.prismaField({
      type: ['Project'],
      description: `The associated projects the caller may read: at most \`first\` (default and cap ${PROJECTS_PER_RESOURCE_GROUP_MAX})`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }) },
      select: { projects: { select: { project: true } } },
      resolve: async (_query, rg, args, ctx) => {
        const readable = await readableProjectIds(ctx.prisma, requireActor(ctx));
        const projects = rg.projects.map((p) => p.project);
        return capped(readable === null ? projects : projects.filter((p) => readable.includes(p.id)), pageSize(args.first, PROJECTS_PER_RESOURCE_GROUP_MAX));
      },
    }),
    capacity: t.field({
      type: CapacityReport,
      select: { nodes: true, versions: true },
      resolve: (rg) => computeCapacity(rg.nodes, rg.versions),
    }),
  }),
});

const TagInput = builder.inputType('TagInput', { fields: (t) => ({ key: t.string({ required: true }), value: t.string({ required: true }) }) });
const NodeInput = builder.inputType('ResourceNodeInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    cpu: t.float({ required: true }),
    memoryGiB: t.float({ required: true }),
    gpuType: t.string(),
    gpuCount: t.int(),
  }),
});

/** Resource groups a caller may see: all for admins, else those of their projects or services. */
async function visibleResourceGroups(ctx: GraphQLContext): Promise<Prisma.ResourceGroupWhereInput> {
  const ids = await readableProjectIds(ctx.prisma, requireActor(ctx));
  if (ids === null) return {};
  return { OR: [{ projects: { some: { projectId: { in: ids } } } }, { boundGroup: { projectId: { in: ids } } }] };
}

builder.queryFields((t) => ({
  resourceGroups: t.prismaConnection({
    type: 'ResourceGroup',
    cursor: 'id',
    defaultSize: RESOURCE_GROUPS_PAGE.default,
    maxSize: RESOURCE_GROUPS_PAGE.max,
    authScopes: { authenticated: true },
    args: { nameContains: t.arg.string() },
    resolve: async (query, _root, { nameContains }, ctx) => {
      const visible = await visibleResourceGroups(ctx);
      return ctx.prisma.resourceGroup.findMany({ ...query, where: { AND: [visible, nameContains ? { name: { contains: nameContains } } : {}] }, orderBy: { id: 'asc' } });
    },
  }),
  resourceGroup: t.prismaField({
    type: 'ResourceGroup',
    nullable: true,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) =>
      ctx.prisma.resourceGroup.findFirst({ ...query, where: { AND: [await visibleResourceGroups(ctx), { id: String(id) }] } }),
  }),
}));

builder.mutationFields((t) => ({
  createResourceGroup: t.prismaField({
    type: 'ResourceGroup',
    authScopes: { admin: true },
    args: {
      name: t.arg.string({ required: true }),
      description: t.arg.string(),
      tags: t.arg({ type: [TagInput], validate: tagsValidation }),
      projectIds: t.arg.idList(),
    },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.resourceGroups.create(requireActor(ctx), {
        name: args.name,
        description: args.description ?? null,
        tags: args.tags ?? null,
        projectIds: args.projectIds ?? null,
      }), ctx.prisma.resourceGroup, query, idOf),
  }),
  updateResourceGroup: t.prismaField({
    type: 'ResourceGroup',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), description: t.arg.string(), tags: t.arg({ type: [TagInput], validate: tagsValidation }) },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.resourceGroups.update(requireActor(ctx), args.id, { description: args.description ?? null, tags: args.tags ?? null }), ctx.prisma.resourceGroup, query, args.id),
  }),
  associateResourceGroupProject: t.prismaField({
    type: 'ResourceGroup',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), projectId: t.arg.id({ required: true }), associate: t.arg.boolean({ defaultValue: true }) },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.resourceGroups.associateProject(requireActor(ctx), args.id, args.projectId, args.associate ?? true), ctx.prisma.resourceGroup, query, args.id),
  }),
  unbindResourceGroup: t.prismaField({
    type: 'ResourceGroup',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.resourceGroups.unbind(requireActor(ctx), args.id), ctx.prisma.resourceGroup, query, args.id),
  }),
  addResourceNode: t.prismaField({
    type: 'ResourceGroup',
    authScopes: { admin: true },
    args: { resourceGroupId: t.arg.id({ required: true }), node: t.arg({ type: NodeInput, required: true }) },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.resourceGroups.addNode(requireActor(ctx), args.resourceGroupId, args.node), ctx.prisma.resourceGroup, query, args.resourceGroupId),
  }),
  removeResourceNode: t.prismaField({
    type: 'ResourceGroup',
    authScopes: { admin: true },
    args: { nodeId: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.resourceGroups.removeNode(requireActor(ctx), args.nodeId), ctx.prisma.resourceGroup, query, idOf),
  }),
  deleteResourceGroup: t.boolean({
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.domain.resourceGroups.delete(requireActor(ctx), args.id),
  }),
}));
