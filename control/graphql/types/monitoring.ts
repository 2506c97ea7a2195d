// GraphQL for metrics history: `metrics` (series of a group, a version or an instance over a
// window at one- or five-minute steps) and `metricsUpdated` (each new point), plus the live
// traffic figures on ServiceVersion for list views. Names fixed in CONTRACT.md, "Operations".
import { badInput, notFound } from '../../../platform/errors.ts';
import { MAX_POINTS_PER_OPERATION, METRIC_NAMES, stepCount, type MetricName, type MetricSeries, type MetricsTarget } from '../../monitoring/reader.ts';
import { metricsTopic, type MetricsNotice } from '../../monitoring/scraper.ts';
import { RANGE_MS, resolveWindow, type TimeRangeName } from '../../monitoring/window.ts';
import { assertGroupReadable } from '../access.ts';
import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';
import { YIELD_ALONE } from '../yield.ts';
import { ServiceVersionRef } from './service-version.ts';

export const MetricNameEnum = builder.enumType('MetricName', { values: METRIC_NAMES });
export const TimeRangeEnum = builder.enumType('TimeRange', { values: Object.keys(RANGE_MS) as TimeRangeName[] });
export const MetricStepEnum = builder.enumType('MetricStep', { values: ['ONE_MINUTE', 'FIVE_MINUTES'] as const });

const MetricPointRef = builder.objectRef<{ t: Date; v: number | null }>('MetricPoint').implement({
  fields: (t) => ({
    t: t.expose('t', { type: 'DateTime', description: 'start of the step' }),
    v: t.exposeFloat('v', { nullable: true, description: 'null: no data in that step' }),
  }),
});

const MetricSeriesRef = builder.objectRef<MetricSeries>('MetricSeries').implement({
  fields: (t) => ({
    name: t.expose('name', { type: MetricNameEnum }),
    versionId: t.exposeID('versionId', { nullable: true, description: 'null: the whole group' }),
    instance: t.exposeString('instance', { nullable: true }),
    // thousands of points completed in one stretch: each series in a loop turn of its own
    points: t.field({ type: [MetricPointRef], extensions: { [YIELD_ALONE]: true }, resolve: (s) => s.points }),
    reason: t.string({ nullable: true, description: 'why the series cannot have data (e.g. no GPU on this machine)', resolve: (s) => s.reason ?? null }),
  }),
});

async function targetFor(ctx: GraphQLContext, groupId: string, versionId: string | null, instance: string | null): Promise<MetricsTarget> {
  await assertGroupReadable(ctx, groupId);
  const group = await ctx.prisma.serviceGroup.findUnique({ where: { id: groupId }, select: { name: true, versions: { select: { id: true, name: true } } } });
  if (!group) throw notFound(`service group ${groupId} does not exist`);
  if (versionId && !group.versions.some((v) => v.id === versionId)) throw notFound(`service version ${versionId} does not exist in this group`);
  let version = versionId;
  if (instance) {
    const row = await ctx.prisma.instance.findFirst({ where: { name: instance, versionId: { in: group.versions.map((v) => v.id) } }, select: { versionId: true } });
    if (!row || (versionId && row.versionId !== versionId)) throw notFound(`no instance ${instance} in this ${versionId ? 'version' : 'group'}`);
    version = row.versionId;
  }
  return { groupId, groupName: group.name, versions: group.versions, versionId: version, instance };
}

/**
 * Points asked for so far by each running operation. Keyed by the operation's coerced
 * variables, an object GraphQL makes afresh for every execution (the context can outlive one:
 * a graphql-ws socket keeps its context across operations, and a cached document is reused).
 */
const pointsOfOperation = new WeakMap<object, number>();

/**
 * Counts a field's `series` × `steps` points against its operation's budget. A refusal says
 * the limit and the points of each series asked, so a client can split its names into
 * operations that fit (the dashboard does) without a copy of the window and step rules.
 */
function spendPoints(operationKey: object, series: number, steps: number): void {
  const spent = (pointsOfOperation.get(operationKey) ?? 0) + series * steps;
  if (spent > MAX_POINTS_PER_OPERATION) {
    throw badInput(`this operation asks for ${spent} metric points (series × steps, aliases included); at most ${MAX_POINTS_PER_OPERATION} per operation: ask fewer metrics, a shorter window or FIVE_MINUTES`, {
      reason: 'TOO_MANY_POINTS',
      limit: MAX_POINTS_PER_OPERATION,
      pointsPerSeries: steps,
    });
  }
  pointsOfOperation.set(operationKey, spent);
}

builder.queryFields((t) => ({
  metrics: t.field({
    type: [MetricSeriesRef],
    authScopes: { authenticated: true },
    description: 'Metrics history; default window the last hour, default step one minute up to 24 h and five minutes beyond',
    args: {
      groupId: t.arg.id({ required: true }),
      versionId: t.arg.id(),
      instance: t.arg.string(),
      names: t.arg({ type: [MetricNameEnum], required: true }),
      range: t.arg({ type: TimeRangeEnum }),
      from: t.arg({ type: 'DateTime' }),
      to: t.arg({ type: 'DateTime' }),
      step: t.arg({ type: MetricStepEnum }),
    },
    resolve: async (_root, args, ctx, info) => {
      if (args.names.length === 0) throw badInput('ask for at least one metric name', { reason: 'NO_METRIC_NAMES' });
      const reader = ctx.operations.metrics;
      if (!reader) throw badInput('this control plane keeps no metrics history', { reason: 'NO_METRICS_HISTORY' });
      const window = resolveWindow({ range: args.range ?? null, from: args.from ?? null, to: args.to ?? null }, Date.now(), 'LAST_1H');
      const stepSec = args.step ? (args.step === 'ONE_MINUTE' ? 60 : 300) : window.toMs - window.fromMs <= RANGE_MS.LAST_24H ? 60 : 300;
      const names = [...new Set(args.names)] as MetricName[];
      // counted before anything is read, so a refused operation costs nothing
      spendPoints(info.variableValues, names.length, stepCount(window.fromMs, window.toMs, stepSec));
      const target = await targetFor(ctx, String(args.groupId), args.versionId != null ? String(args.versionId) : null, args.instance ?? null);
      return reader.query(target, { names, ...window, stepSec });
    },
  }),
}));

builder.subscriptionFields((t) => ({
  metricsUpdated: t.field({
    type: [MetricSeriesRef],
    authScopes: { authenticated: true },
    description: 'the newest one-minute point of every metric, after each scrape (the open minute so far)',
    args: { groupId: t.arg.id({ required: true }), versionId: t.arg.id() },
    subscribe: async (_root, args, ctx) => {
      const groupId = String(args.groupId);
      await targetFor(ctx, groupId, args.versionId != null ? String(args.versionId) : null, null);
      return ctx.pubsub.subscribe<MetricsNotice>(metricsTopic(groupId));
    },
    resolve: (notice, args) =>
      notice.series
        .filter((s) => (args.versionId != null ? s.versionId === String(args.versionId) : true))
        .map((s) => ({ ...s, points: s.points.map((p) => ({ t: new Date(p.t), v: p.v })) })),
  }),
}));

/** The newest one-minute figures of a version (at most three minutes old), for list views. */
async function latestMinute(ctx: GraphQLContext, versionId: string) {
  const row = await ctx.prisma.metricRollup.findFirst({
    where: { versionId, step: 60, instance: '', t: { gte: new Date(Date.now() - 180_000) } },
    orderBy: { t: 'desc' },
  });
  if (!row) return null;
  const covered = Math.min(60, Math.max(1, (row.updatedAt.getTime() - row.t.getTime()) / 1000));
  return { qps: row.requests / covered, throttledQps: row.throttled / covered, concurrency: row.samples > 0 ? row.concurrencySum / row.samples : null };
}

builder.objectFields(ServiceVersionRef, (t) => ({
  currentQps: t.float({ nullable: true, description: 'requests per second in the newest minute (throttled ones included)', resolve: async (v, _a, ctx) => (await latestMinute(ctx, v.id))?.qps ?? null }),
  throttledQps: t.float({ nullable: true, description: 'throttled requests per second in the newest minute', resolve: async (v, _a, ctx) => (await latestMinute(ctx, v.id))?.throttledQps ?? null }),
  concurrency: t.float({ nullable: true, description: 'requests in flight at the edge, averaged over the newest minute', resolve: async (v, _a, ctx) => (await latestMinute(ctx, v.id))?.concurrency ?? null }),
}));
