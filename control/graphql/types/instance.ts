// GraphQL for instances (replicas) and events: lists, the restart action, and live feeds.
import { topics } from '../../../platform/pubsub/port.ts';
import type { ChangeNotice } from '../../domain/changes.ts';
import { assertGroupReadable, assertVersionReadable, readableGroupsWhere } from '../access.ts';
import { z } from 'zod';
import { builder } from '../builder.ts';
import { EVENTS_PAGE, INSTANCES_PER_VERSION_MAX, pageSize } from '../list-bounds.ts';
import { requireActor } from '../context.ts';
import { EventLevelEnum, InstanceStateEnum } from './enums.ts';

builder.prismaObject('Instance', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    state: t.expose('state', { type: InstanceStateEnum }),
    stateReason: t.exposeString('stateReason', { nullable: true }),
    restartCount: t.exposeInt('restartCount'),
    host: t.exposeString('host', { nullable: true }),
    port: t.exposeInt('port', { nullable: true }),
    node: t.exposeString('node', { nullable: true }),
    cpuMillicores: t.exposeFloat('cpuMillicores', { nullable: true }),
    memoryBytes: t.float({ nullable: true, resolve: (i) => (i.memoryBytes == null ? null : Number(i.memoryBytes)) }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    version: t.relation('version'),
  }),
});

builder.prismaObject('Event', {
  fields: (t) => ({
    id: t.exposeID('id'),
    level: t.expose('level', { type: EventLevelEnum }),
    resourceKind: t.exposeString('resourceKind'),
    resourceName: t.exposeString('resourceName'),
    reason: t.exposeString('reason'),
    message: t.exposeString('message'),
    count: t.exposeInt('count'),
    firstSeen: t.expose('firstSeen', { type: 'DateTime' }),
    lastSeen: t.expose('lastSeen', { type: 'DateTime' }),
    groupId: t.exposeID('groupId', { nullable: true }),
    versionId: t.exposeID('versionId', { nullable: true }),
  }),
});

const EventFilter = builder.inputType('EventFilter', {
  fields: (t) => ({ groupId: t.id(), versionId: t.id(), level: t.field({ type: EventLevelEnum }), reason: t.string() }),
});

builder.queryFields((t) => ({
  instances: t.prismaField({
    type: ['Instance'],
    authScopes: { authenticated: true },
    description: `The version's instances by name: at most \`first\` (default and cap ${INSTANCES_PER_VERSION_MAX})`,
    args: { versionId: t.arg.id({ required: true }), first: t.arg.int({ validate: z.number().int().min(0) }) },
    resolve: async (query, _root, { versionId, first }, ctx) => {
      await assertVersionReadable(ctx, versionId);
      return ctx.prisma.instance.findMany({ ...query, where: { versionId }, orderBy: { name: 'asc' }, take: pageSize(first, INSTANCES_PER_VERSION_MAX) });
    },
  }),
  events: t.prismaConnection({
    type: 'Event',
    cursor: 'id',
    defaultSize: EVENTS_PAGE.default,
    maxSize: EVENTS_PAGE.max,
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: EventFilter }) },
    resolve: async (query, _root, { filter }, ctx) => {
      if (filter?.groupId) await assertGroupReadable(ctx, filter.groupId);
      if (filter?.versionId) await assertVersionReadable(ctx, filter.versionId);
      const readable = await ctx.prisma.serviceGroup.findMany({ where: await readableGroupsWhere(ctx), select: { id: true } });
      return ctx.prisma.event.findMany({
        ...query,
        where: {
          ...(filter?.groupId ? { groupId: filter.groupId } : { groupId: { in: readable.map((g) => g.id) } }),
          ...(filter?.versionId ? { versionId: filter.versionId } : {}),
          ...(filter?.level ? { level: filter.level } : {}),
          ...(filter?.reason ? { reason: filter.reason } : {}),
        },
        orderBy: [{ lastSeen: 'desc' }, { id: 'asc' }],
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  restartInstance: t.boolean({
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await ctx.domain.versions.restartInstance(requireActor(ctx), id);
      return true;
    },
  }),
}));

const InstanceChange = builder.objectRef<{ versionId: string; instanceId: string; deleted: boolean }>('InstanceChange').implement({
  fields: (t) => ({ versionId: t.exposeID('versionId'), instanceId: t.exposeID('instanceId'), deleted: t.exposeBoolean('deleted') }),
});

builder.subscriptionFields((t) => ({
  instancesChanged: t.field({
    type: InstanceChange,
    authScopes: { authenticated: true },
    args: { versionId: t.arg.id({ required: true }) },
    subscribe: async (_root, { versionId }, ctx) => {
      await assertVersionReadable(ctx, versionId);
      return ctx.pubsub.subscribe<ChangeNotice>(topics.instances(versionId));
    },
    resolve: (notice) => ({ versionId: notice.versionId ?? '', instanceId: notice.id, deleted: Boolean(notice.deleted) }),
  }),
  eventRecorded: t.prismaField({
    type: 'Event',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id() },
    subscribe: async (_root, { groupId }, ctx) => {
      if (groupId != null) await assertGroupReadable(ctx, groupId);
      const source = ctx.pubsub.subscribe<ChangeNotice>(topics.events);
      const where = await readableGroupsWhere(ctx);
      return (async function* () {
        try {
          for await (const notice of source) {
            if (groupId != null && notice.groupId !== groupId) continue;
            if (!notice.groupId) continue;
            const visible = await ctx.prisma.serviceGroup.findFirst({ where: { AND: [where, { id: notice.groupId }] }, select: { id: true } });
            if (visible) yield notice;
          }
        } finally {
          await source.return?.();
        }
      })();
    },
    resolve: (query, notice, _args, ctx) => ctx.prisma.event.findUniqueOrThrow({ ...query, where: { id: notice.id } }),
  }),
}));
