// GraphQL for instance logs: `logSearch` (newest first, paged backwards with `before`) and
// `logTail` (new lines as they are stored). Names fixed in CONTRACT.md, "Operations".
import { notFound } from '../../../platform/errors.ts';
import { resolveWindow } from '../../monitoring/window.ts';
import { assertVersionReadable } from '../access.ts';
import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';
import { TimeRangeEnum } from './monitoring.ts';
import { LogLineRef } from './service-version.ts';

const LogPageRef = builder
  .objectRef<{ lines: { time: Date; instance: string; stream: string; line: string }[]; before: string | null; dropped: number }>('LogPage')
  .implement({
    fields: (t) => ({
      lines: t.field({ type: [LogLineRef], resolve: (p) => p.lines }),
      before: t.exposeString('before', { nullable: true, description: 'pass as `before` for the next (older) page; null when none' }),
      dropped: t.exposeInt('dropped', { description: 'lines removed by the per-version size cap' }),
    }),
  });

/** An instance filter must name an instance of this version (current, or by the version's naming). */
async function assertInstance(ctx: GraphQLContext, versionId: string, instance: string | null | undefined): Promise<void> {
  if (instance == null) return;
  const row = await ctx.prisma.instance.findFirst({ where: { versionId, name: instance }, select: { id: true } });
  if (row) return;
  const v = await ctx.prisma.serviceVersion.findUnique({ where: { id: versionId }, select: { name: true, group: { select: { name: true } } } });
  // a replica scaled away since keeps its logs: accept the version's own instance names
  if (v && new RegExp(`^${escape(v.group.name)}-${escape(v.name)}-\\d+$`).test(instance)) return;
  throw notFound(`no instance ${instance} in this version`);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

builder.queryFields((t) => ({
  logSearch: t.field({
    type: LogPageRef,
    authScopes: { authenticated: true },
    description: 'Stored log lines of a version, newest first (default window: the last hour)',
    args: {
      versionId: t.arg.id({ required: true }),
      instance: t.arg.string(),
      query: t.arg.string({ description: 'substring, or a regular expression with `regex: true`' }),
      regex: t.arg.boolean(),
      range: t.arg({ type: TimeRangeEnum }),
      from: t.arg({ type: 'DateTime' }),
      to: t.arg({ type: 'DateTime' }),
      before: t.arg.string(),
      limit: t.arg.int(),
    },
    resolve: async (_root, args, ctx) => {
      const versionId = String(args.versionId);
      await assertVersionReadable(ctx, versionId);
      await assertInstance(ctx, versionId, args.instance);
      const window = resolveWindow({ range: args.range ?? null, from: args.from ?? null, to: args.to ?? null }, Date.now(), 'LAST_1H');
      return ctx.operations.logs.search(versionId, {
        ...window,
        instance: args.instance ?? null,
        query: args.query ?? null,
        regex: args.regex ?? false,
        before: args.before ?? null,
        limit: args.limit ?? null,
      });
    },
  }),
}));

builder.subscriptionFields((t) => ({
  logTail: t.field({
    type: LogLineRef,
    authScopes: { authenticated: true },
    args: { versionId: t.arg.id({ required: true }), instance: t.arg.string(), query: t.arg.string() },
    subscribe: async (_root, args, ctx) => {
      const versionId = String(args.versionId);
      await assertVersionReadable(ctx, versionId);
      await assertInstance(ctx, versionId, args.instance);
      return ctx.operations.logs.tail(versionId, { instance: args.instance ?? null, query: args.query ?? null });
    },
    resolve: (line) => line,
  }),
}));
