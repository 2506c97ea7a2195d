// GraphQL for service groups: the type, the queries, the mutations of the group's
// operation column (create, edit, start, stop, delete) and its live subscription.
import { z } from 'zod';
import { topics } from '../../../platform/pubsub/port.ts';
import type { ChangeNotice } from '../../domain/changes.ts';
import { assertGroupReadable, readableGroupsWhere, untilDeleted } from '../access.ts';
import { CanaryGuardInput } from './traffic.ts';
import { builder } from '../builder.ts';
import { reselect, idOf } from '../reselect.ts';
import { readOncePerNotice } from '../notice-cache.ts';
import { requireActor, type GraphQLContext } from '../context.ts';
import type { Prisma } from '../../../platform/db/prisma.ts';
import { ServiceStatusEnum, ServiceTypeEnum } from './enums.ts';
import { predictPath } from '../../../xds/contract.ts';
import { API_KEYS_PAGE_MAX, GROUP_CONNECTION_DEFAULT, GROUP_PAGE_MAX, VERSIONS_PER_GROUP_MAX, groupPageSize, pageSize } from '../list-bounds.ts';
import { cursorRow, pastRow } from '../keyset.ts';

export const ServiceGroupRef = builder.prismaObject('ServiceGroup', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    type: t.expose('type', { type: ServiceTypeEnum }),
    status: t.expose('status', { type: ServiceStatusEnum }),
    description: t.exposeString('description'),
    creator: t.exposeString('createdByName'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    project: t.relation('project'),
    runningVersions: t.relationCount('versions', { where: { status: 'RUNNING' } }),
    totalVersions: t.relationCount('versions'),
    callAddress: t.string({
      resolve: (group, _args, ctx) => `${ctx.domain.deps.edgeBaseUrl}${predictPath(group.name)}`,
    }),
    // capped (list-bounds.ts): the cost model multiplies what is selected under them by the cap
    versions: t.relation('versions', {
      description: `The group's versions, oldest first: at most \`first\` (default and cap ${VERSIONS_PER_GROUP_MAX}); totalVersions counts them all`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }) },
      query: (args) => ({ orderBy: { createdAt: 'asc' }, take: pageSize(args.first, VERSIONS_PER_GROUP_MAX) }),
    }),
    apiKeys: t.relation('apiKeys', {
      description: `The group's API keys, newest first: at most \`first\` (default and cap ${API_KEYS_PAGE_MAX})`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }) },
      query: (args) => ({ orderBy: { createdAt: 'desc' }, take: pageSize(args.first, API_KEYS_PAGE_MAX) }),
    }),
    resourceGroup: t.relation('resourceGroup', { nullable: true }),
  }),
});

const GroupFilter = builder.inputType('ServiceGroupFilter', {
  fields: (t) => ({
    status: t.field({ type: ServiceStatusEnum }),
    type: t.field({ type: ServiceTypeEnum }),
    projectId: t.id(),
    nameContains: t.string({ validate: z.string().max(63) }),
  }),
});

type GroupFilterValue = typeof GroupFilter.$inferInput;

/** The groups the caller may read, narrowed by the list's filter. */
async function filteredGroupsWhere(ctx: GraphQLContext, filter: GroupFilterValue | null | undefined): Promise<Prisma.ServiceGroupWhereInput> {
  return {
    AND: [
      await readableGroupsWhere(ctx),
      {
        ...(filter?.status ? { status: filter.status } : {}),
        ...(filter?.type ? { type: filter.type } : {}),
        ...(filter?.projectId ? { projectId: filter.projectId } : {}),
        ...(filter?.nameContains ? { name: { contains: filter.nameContains } } : {}),
      },
    ],
  };
}

builder.queryFields((t) => ({
  serviceGroups: t.prismaField({
    type: ['ServiceGroup'],
    authScopes: { authenticated: true },
    description: `The groups the caller may read, oldest first: at most \`first\` (default and cap ${GROUP_PAGE_MAX}); the next page is \`after\` the last group's id (\`skip\` also works, but repeats or misses groups created or deleted between pages)`,
    args: {
      filter: t.arg({ type: GroupFilter }),
      first: t.arg.int({ validate: z.number().int().min(0) }),
      skip: t.arg.int({ validate: z.number().int().min(0) }),
      after: t.arg.id({ description: 'the id of the last group of the previous page' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const where = await filteredGroupsWhere(ctx, args.filter);
      const after = args.after
        ? cursorRow(await ctx.prisma.serviceGroup.findFirst({ where: { AND: [await readableGroupsWhere(ctx), { id: String(args.after) }] }, select: { id: true, createdAt: true } }), 'after')
        : null;
      return ctx.prisma.serviceGroup.findMany({
        ...query,
        where: after ? { AND: [where, pastRow(after, 'asc')] } : where,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        // paged, so that the cost model's bound (list-bounds.ts) is what really runs
        take: groupPageSize(args.first),
        skip: args.skip ?? 0,
      });
    },
  }),
  serviceGroupsConnection: t.prismaConnection({
    type: 'ServiceGroup',
    cursor: 'id',
    defaultSize: GROUP_CONNECTION_DEFAULT,
    maxSize: GROUP_PAGE_MAX,
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: GroupFilter }) },
    resolve: async (query, _root, args, ctx) =>
      ctx.prisma.serviceGroup.findMany({
        ...query,
        where: await filteredGroupsWhere(ctx, args.filter),
        orderBy: { id: 'asc' },
      }),
  }),
  serviceGroup: t.prismaField({
    type: 'ServiceGroup',
    nullable: true,
    authScopes: { authenticated: true },
    args: { id: t.arg.id(), name: t.arg.string({ validate: z.string().max(1000) }) },
    resolve: async (query, _root, args, ctx) => {
      if (args.id == null && args.name == null) return null;
      return ctx.prisma.serviceGroup.findFirst({
        ...query,
        where: { AND: [await readableGroupsWhere(ctx), args.id != null ? { id: args.id } : { name: args.name! }] },
      });
    },
  }),
}));

const CreateServiceGroupInput = builder.inputType('CreateServiceGroupInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    type: t.field({ type: ServiceTypeEnum }),
    description: t.string(),
    projectId: t.id(),
  }),
});

const UpdateServiceGroupInput = builder.inputType('UpdateServiceGroupInput', {
  fields: (t) => ({ description: t.string(), type: t.field({ type: ServiceTypeEnum }), canaryGuard: t.field({ type: CanaryGuardInput }) }),
});

builder.mutationFields((t) => ({
  createServiceGroup: t.prismaField({
    type: 'ServiceGroup',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateServiceGroupInput, required: true }) },
    resolve: (query, _root, { input }, ctx) =>
      reselect(ctx.domain.groups.create(requireActor(ctx), {
        name: input.name,
        type: input.type ?? null,
        description: input.description ?? null,
        projectId: input.projectId ?? null,
      }), ctx.prisma.serviceGroup, query, idOf),
  }),
  updateServiceGroup: t.prismaField({
    type: 'ServiceGroup',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateServiceGroupInput, required: true }) },
    resolve: (query, _root, { id, input }, ctx) =>
      reselect(ctx.domain.groups.update(requireActor(ctx), id, { description: input.description ?? null, type: input.type ?? null, canaryGuard: input.canaryGuard ?? null }), ctx.prisma.serviceGroup, query, id),
  }),
  startServiceGroup: t.prismaField({
    type: 'ServiceGroup',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) =>
      reselect(ctx.domain.groups.start(requireActor(ctx), id), ctx.prisma.serviceGroup, query, id),
  }),
  stopServiceGroup: t.prismaField({
    type: 'ServiceGroup',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) =>
      reselect(ctx.domain.groups.stop(requireActor(ctx), id), ctx.prisma.serviceGroup, query, id),
  }),
  deleteServiceGroup: t.boolean({
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.domain.groups.delete(requireActor(ctx), id),
  }),
}));

builder.subscriptionFields((t) => ({
  serviceGroupChanged: t.prismaField({
    type: 'ServiceGroup',
    description: 'Every change of the group, its versions, instances and events; ends when the group is deleted',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, { id }, ctx) => {
      await assertGroupReadable(ctx, id);
      return untilDeleted(ctx.pubsub.subscribe<ChangeNotice>(topics.group(id)), 'group');
    },
    resolve: (query, notice, { id }, ctx) =>
      readOncePerNotice(notice, `group:${id}:${JSON.stringify(query)}`, () =>
        ctx.prisma.serviceGroup.findUniqueOrThrow({ ...query, where: { id } })),
  }),
  serviceGroupsChanged: t.field({
    type: GroupChange,
    description: 'Any group created, changed or deleted (for lists)',
    authScopes: { authenticated: true },
    subscribe: (_root, _args, ctx) => ctx.pubsub.subscribe<ChangeNotice>(topics.groups),
    resolve: async (notice, _args, ctx) => {
      const where = await readableGroupsWhere(ctx);
      const visible = await ctx.prisma.serviceGroup.findFirst({ where: { AND: [where, { id: notice.groupId ?? notice.id }] }, select: { id: true } });
      return { groupId: notice.groupId ?? notice.id, kind: notice.kind, deleted: Boolean(notice.deleted) || !visible };
    },
  }),
}));

const GroupChange = builder.objectRef<{ groupId: string; kind: string; deleted: boolean }>('ServiceGroupChange').implement({
  fields: (t) => ({
    groupId: t.exposeID('groupId'),
    kind: t.exposeString('kind'),
    deleted: t.exposeBoolean('deleted'),
  }),
});
