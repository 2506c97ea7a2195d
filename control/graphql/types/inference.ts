// GraphQL for the inference table and the quality loop (CONTRACT.md, "Inference table and
// quality"): the table, its rows and runs, labels, quality per version, rules, alerts with
// their webhook deliveries, the A/B verdict, the schedule, and alertChanged. Reads need
// read access to the group; changes need the DEVELOPER role in its project. Webhook
// secrets appear once, in createQualityRule's answer, and never again.
import { AlertState, QualityMetric } from '../../../prisma/generated/sqlite/enums.ts';
import { requireProjectRole } from '../../domain/actor.ts';
import { SluiceError, notFound } from '../../../platform/errors.ts';
import type { InferenceService, InferenceRowOut } from '../../inference/service.ts';
import type { FeatureDrift, VersionQuality } from '../../inference/quality.ts';
import type { ClassMetrics } from '../../inference/stats.ts';
import type { AbVerdict, Comparison } from '../../inference/verdict.ts';
import type { LabelReport } from '../../inference/labels.ts';
import { alertTopic, type QualityMetricName } from '../../inference/rules.ts';
import { assertGroupReadable } from '../access.ts';
import { builder } from '../builder.ts';
import { requireActor, type GraphQLContext } from '../context.ts';
import { z } from 'zod';
import { ALERTS_PAGE_DEFAULT, ALERTS_PAGE_MAX, DELIVERIES_PER_ALERT_MAX, DRIFT_FEATURES_MAX, INFERENCE_RUNS_MAX, QUALITY_CLASSES_MAX, QUALITY_HISTORY_DEFAULT, QUALITY_HISTORY_MAX, QUALITY_RULES_MAX, UNKNOWN_LABELS_MAX, VERDICT_COMPARISONS_MAX, VERSIONS_PER_GROUP_MAX, capped, pageSize } from '../list-bounds.ts';

export const QualityMetricEnum = builder.enumType(QualityMetric, { name: 'QualityMetric' });
export const AlertStateEnum = builder.enumType(AlertState, { name: 'AlertState' });
const LabelFileFormatEnum = builder.enumType('LabelFileFormat', { values: ['CSV', 'JSONL'] as const });

export function inference(ctx: GraphQLContext): InferenceService {
  if (!ctx.inference) throw new SluiceError('INTERNAL', 'the inference table is not configured on this server');
  return ctx.inference;
}

export async function canManage(ctx: GraphQLContext, groupId: string): Promise<void> {
  const actor = requireActor(ctx);
  await assertGroupReadable(ctx, groupId);
  const group = await ctx.prisma.serviceGroup.findUnique({ where: { id: groupId }, select: { projectId: true } });
  if (!group) throw notFound(`service group ${groupId} does not exist`);
  await requireProjectRole(ctx.prisma, actor, group.projectId, 'DEVELOPER');
}

builder.prismaObject('InferenceJobRun', {
  fields: (t) => ({
    id: t.exposeID('id'),
    objectsProcessed: t.exposeInt('objectsProcessed'),
    rowsWritten: t.exposeInt('rowsWritten'),
    objectsQuarantined: t.exposeInt('objectsQuarantined'),
    recordsQuarantined: t.exposeInt('recordsQuarantined', { description: 'bad records kept aside from otherwise good objects' }),
    objectsTotal: t.exposeInt('objectsTotal', { description: 'objects this run set out to process (progress = processed + quarantined of this)' }),
    state: t.exposeString('state'),
    trigger: t.exposeString('trigger'),
    error: t.exposeString('error', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const InferenceTableRef = builder.objectRef<{ groupId: string; rowCount: number; labelledRows: number; lastRunAt: Date | null; location: string }>('InferenceTable').implement({
  fields: (t) => ({
    rowCount: t.exposeInt('rowCount'),
    labelledRows: t.exposeInt('labelledRows'),
    lastRunAt: t.expose('lastRunAt', { type: 'DateTime', nullable: true }),
    location: t.exposeString('location', { description: 'where the Parquet files are (store URL of the group folder)' }),
    pathPattern: t.string({ description: 'a glob Spark/DuckDB/Trino read with Hive partitioning', resolve: (p) => `${p.location}version=*/dt=*/*.parquet` }),
    running: t.boolean({ resolve: (p, _a, ctx) => inference(ctx).job.isRunning(p.groupId) }),
    runs: t.prismaField({
      type: ['InferenceJobRun'],
      args: { first: t.arg.int({ defaultValue: 10 }) },
      resolve: (query, p, { first }, ctx) => ctx.prisma.inferenceJobRun.findMany({ ...query, where: { groupId: p.groupId }, orderBy: { startedAt: 'desc' }, take: Math.min(INFERENCE_RUNS_MAX, Math.max(1, first ?? 10)) }),
    }),
  }),
});

const InferenceRowRef = builder.objectRef<InferenceRowOut>('InferenceRow').implement({
  fields: (t) => ({
    requestId: t.exposeString('requestId'),
    clientRequestId: t.exposeString('clientRequestId', { nullable: true }),
    rowIndex: t.exposeInt('rowIndex'),
    version: t.exposeString('version'),
    time: t.expose('time', { type: 'DateTime' }),
    features: t.expose('features', { type: 'JSON' }),
    prediction: t.expose('prediction', { type: 'JSON', nullable: true }),
    label: t.expose('label', { type: 'JSON', nullable: true }),
    status: t.exposeInt('status'),
    latencyMs: t.exposeFloat('latencyMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    shadow: t.exposeBoolean('shadow'),
  }),
});

const FeatureDriftRef = builder.objectRef<FeatureDrift>('FeatureDrift').implement({
  fields: (t) => ({
    feature: t.exposeString('feature'),
    psi: t.exposeFloat('psi', { nullable: true }),
    ksPValue: t.exposeFloat('ksPValue', { nullable: true }),
    jsDistance: t.exposeFloat('jsDistance', { nullable: true }),
    count: t.exposeInt('count'),
    nullFraction: t.exposeFloat('nullFraction', { nullable: true }),
    outOfRangeFraction: t.exposeFloat('outOfRangeFraction', { nullable: true, description: 'outside the training min..max' }),
    unseenCategories: t.exposeInt('unseenCategories', { nullable: true }),
  }),
});

const ClassQualityRef = builder.objectRef<ClassMetrics>('ClassQuality').implement({
  fields: (t) => ({
    label: t.exposeString('label'),
    precision: t.exposeFloat('precision', { nullable: true }),
    recall: t.exposeFloat('recall', { nullable: true }),
    f1: t.exposeFloat('f1', { nullable: true }),
    support: t.exposeInt('support'),
  }),
});

const VersionQualityRef = builder.objectRef<VersionQuality>('VersionQuality').implement({
  fields: (t) => ({
    version: t.exposeString('version'),
    rows: t.exposeInt('rows'),
    requests: t.exposeInt('requests'),
    labelledRows: t.exposeInt('labelledRows'),
    shadowRows: t.exposeInt('shadowRows'),
    accuracy: t.exposeFloat('accuracy', { nullable: true }),
    // in-memory lists capped at their bound (list-bounds.ts), what the cost model assumes
    classes: t.field({ type: [ClassQualityRef], resolve: (q) => capped(q.classes, QUALITY_CLASSES_MAX) }),
    mae: t.exposeFloat('mae', { nullable: true }),
    rmse: t.exposeFloat('rmse', { nullable: true }),
    errorRate: t.exposeFloat('errorRate', { nullable: true }),
    latencyP99Ms: t.exposeFloat('latencyP99Ms', { nullable: true }),
    drift: t.field({ type: [FeatureDriftRef], resolve: (q) => capped(q.drift, DRIFT_FEATURES_MAX) }),
    predictionDrift: t.field({ type: FeatureDriftRef, nullable: true, resolve: (q) => q.predictionDrift }),
  }),
});

builder.prismaObject('QualityRule', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    metric: t.expose('metric', { type: QualityMetricEnum }),
    feature: t.exposeString('feature', { nullable: true }),
    threshold: t.exposeFloat('threshold'),
    versionId: t.exposeID('versionId', { nullable: true }),
    windowSeconds: t.exposeInt('windowSeconds'),
    minRows: t.exposeInt('minRows'),
    webhookUrl: t.exposeString('webhookUrl', { nullable: true }),
    hasWebhookSecret: t.boolean({ resolve: (r) => r.webhookSecretEnc !== null }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.prismaObject('WebhookDelivery', {
  fields: (t) => ({
    id: t.exposeID('id'),
    event: t.exposeString('event'),
    url: t.exposeString('url'),
    state: t.exposeString('state', { description: 'PENDING, DELIVERED or FAILED' }),
    attempts: t.exposeInt('attempts'),
    responseStatus: t.exposeInt('responseStatus', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.prismaObject('QualityAlert', {
  name: 'Alert',
  fields: (t) => ({
    id: t.exposeID('id'),
    rule: t.relation('rule'),
    state: t.expose('state', { type: AlertStateEnum }),
    value: t.exposeFloat('value'),
    version: t.exposeString('version', { nullable: true }),
    openedAt: t.expose('openedAt', { type: 'DateTime' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    deliveries: t.relation('deliveries', {
      description: `The alert's webhook deliveries, oldest first: at most \`first\` (default and cap ${DELIVERIES_PER_ALERT_MAX})`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }) },
      query: (args) => ({ orderBy: { createdAt: 'asc' }, take: pageSize(args.first, DELIVERIES_PER_ALERT_MAX) }),
    }),
  }),
});

const CreatedQualityRule = builder.objectRef<{ ruleId: string; webhookSecret: string | null }>('CreatedQualityRule').implement({
  fields: (t) => ({
    rule: t.prismaField({ type: 'QualityRule', resolve: (query, c, _a, ctx) => ctx.prisma.qualityRule.findUniqueOrThrow({ ...query, where: { id: c.ruleId } }) }),
    webhookSecret: t.exposeString('webhookSecret', { nullable: true, description: 'signs the webhook (x-sluice-signature); shown only in this response' }),
  }),
});

const ComparisonRef = builder.objectRef<Comparison>('QualityComparison').implement({
  fields: (t) => ({
    metric: t.exposeString('metric'),
    outcome: t.exposeString('outcome', { description: 'A_BETTER, B_BETTER, NO_SIGNIFICANT_DIFFERENCE or NOT_ENOUGH_DATA' }),
    a: t.exposeFloat('a', { nullable: true }),
    b: t.exposeFloat('b', { nullable: true }),
    sampleA: t.exposeInt('sampleA'),
    sampleB: t.exposeInt('sampleB'),
    difference: t.exposeFloat('difference', { nullable: true, description: 'a − b' }),
    pValue: t.exposeFloat('pValue', { nullable: true }),
    confidenceLow: t.exposeFloat('confidenceLow', { nullable: true, description: '95% interval of the difference' }),
    confidenceHigh: t.exposeFloat('confidenceHigh', { nullable: true }),
    note: t.exposeString('note'),
  }),
});

const AbVerdictRef = builder.objectRef<AbVerdict>('AbVerdict').implement({
  fields: (t) => ({
    versionA: t.exposeString('versionA', { nullable: true }),
    versionB: t.exposeString('versionB', { nullable: true }),
    outcome: t.exposeString('outcome', { description: 'the accuracy comparison: A_BETTER, B_BETTER, NO_SIGNIFICANT_DIFFERENCE or NOT_ENOUGH_DATA' }),
    comparisons: t.field({ type: [ComparisonRef], resolve: (v) => capped(v.comparisons, VERDICT_COMPARISONS_MAX) }),
  }),
});

const LabelKeyRef = builder.objectRef<{ clientRequestId: string; rowIndex: number }>('LabelKey').implement({
  fields: (t) => ({ clientRequestId: t.exposeString('clientRequestId'), rowIndex: t.exposeInt('rowIndex') }),
});

const LabelReportRef = builder.objectRef<LabelReport>('LabelReport').implement({
  fields: (t) => ({
    received: t.exposeInt('received'),
    labelled: t.exposeInt('labelled', { description: 'table rows these labels apply to now' }),
    unknownCount: t.exposeInt('unknownCount', { description: 'labels whose id is not in the table (kept: their rows may still arrive)' }),
    unknown: t.field({ type: [LabelKeyRef], description: `the first ${UNKNOWN_LABELS_MAX} unknown ids`, resolve: (r) => capped(r.unknown, UNKNOWN_LABELS_MAX) }),
    key: t.exposeString('key', { description: 'the label file written to the store' }),
  }),
});

const InferenceScheduleRef = builder.objectRef<{ groupId: string; intervalSeconds: number; enabled: boolean; lastRunAt: Date | null }>('InferenceSchedule').implement({
  fields: (t) => ({
    groupId: t.exposeID('groupId'),
    intervalSeconds: t.exposeInt('intervalSeconds'),
    enabled: t.exposeBoolean('enabled'),
    lastRunAt: t.expose('lastRunAt', { type: 'DateTime', nullable: true }),
  }),
});

const LabelInputRef = builder.inputType('LabelInput', {
  fields: (t) => ({
    clientRequestId: t.string({ required: true }),
    rowIndex: t.int({ description: 'default 0' }),
    label: t.field({ type: 'JSON', required: true }),
  }),
});

const QualityRuleInputRef = builder.inputType('QualityRuleInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    metric: t.field({ type: QualityMetricEnum, required: true }),
    feature: t.string({ description: 'for PSI, KS_P_VALUE, JS_DISTANCE: one input column, or "prediction"; omitted: the worst feature' }),
    threshold: t.float({ required: true }),
    versionId: t.id({ description: 'omitted: every version of the group' }),
    webhookUrl: t.string(),
    windowSeconds: t.int({ description: 'trailing window the metric is measured over; default 3600' }),
    minRows: t.int({ description: 'rows (labelled rows for ACCURACY, requests for ERROR_RATE/LATENCY_P99) needed before the rule judges; default 1' }),
  }),
});

async function versionName(ctx: GraphQLContext, groupId: string, versionId: string | null | undefined): Promise<string | null> {
  if (!versionId) return null;
  const v = await ctx.prisma.serviceVersion.findFirst({ where: { id: versionId, groupId }, select: { name: true } });
  if (!v) throw notFound(`version ${versionId} is not in group ${groupId}`);
  return v.name;
}

builder.prismaObject('QualitySnapshot', {
  fields: (t) => ({
    id: t.exposeID('id'),
    version: t.exposeString('version'),
    windowFrom: t.expose('windowFrom', { type: 'DateTime' }),
    windowTo: t.expose('windowTo', { type: 'DateTime' }),
    rows: t.exposeInt('rows'),
    labelledRows: t.exposeInt('labelledRows'),
    quality: t.field({ type: VersionQualityRef, description: 'the VersionQuality of that window as computed then', resolve: (s) => s.metrics as unknown as VersionQuality }),
  }),
});

builder.queryFields((t) => ({
  qualityHistory: t.prismaField({
    type: ['QualitySnapshot'],
    description: 'Quality of the last hour as stored after each table run, newest first (the trend to chart)',
    authScopes: { authenticated: true },
    args: {
      groupId: t.arg.id({ required: true }),
      version: t.arg.string(),
      first: t.arg.int({ defaultValue: QUALITY_HISTORY_DEFAULT }),
      before: t.arg({ type: 'DateTime', description: 'only snapshots whose window ends before this (the next page: the last windowTo seen)' }),
    },
    resolve: async (query, _r, { groupId, version, first, before }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return ctx.prisma.qualitySnapshot.findMany({
        ...query,
        where: { groupId: String(groupId), ...(version ? { version } : {}), ...(before ? { windowTo: { lt: before } } : {}) },
        orderBy: { windowTo: 'desc' },
        take: Math.min(QUALITY_HISTORY_MAX, Math.max(1, first ?? QUALITY_HISTORY_DEFAULT)),
      });
    },
  }),
  inferenceTable: t.field({
    type: InferenceTableRef,
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }) },
    resolve: async (_r, { groupId }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return { groupId: String(groupId), ...(await inference(ctx).tableInfo(String(groupId))) };
    },
  }),
  inferenceRows: t.field({
    type: [InferenceRowRef],
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), versionId: t.arg.id(), clientRequestId: t.arg.string(), first: t.arg.int() },
    resolve: async (_r, a, ctx) => {
      const groupId = String(a.groupId);
      await assertGroupReadable(ctx, groupId);
      return inference(ctx).rows(groupId, { version: await versionName(ctx, groupId, a.versionId == null ? null : String(a.versionId)), clientRequestId: a.clientRequestId ?? null, first: a.first ?? null });
    },
  }),
  qualityMetrics: t.field({
    type: [VersionQualityRef],
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), from: t.arg({ type: 'DateTime' }), to: t.arg({ type: 'DateTime' }) },
    resolve: async (_r, { groupId, from, to }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return capped(await inference(ctx).quality(String(groupId), from ?? null, to ?? null), VERSIONS_PER_GROUP_MAX);
    },
  }),
  abVerdict: t.field({
    type: AbVerdictRef,
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), from: t.arg({ type: 'DateTime' }), to: t.arg({ type: 'DateTime' }) },
    resolve: async (_r, { groupId, from, to }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return inference(ctx).verdict(String(groupId), from ?? null, to ?? null);
    },
  }),
  alerts: t.prismaField({
    type: ['QualityAlert'],
    authScopes: { authenticated: true },
    description: `The group's alerts, newest first: at most \`first\` (default ${ALERTS_PAGE_DEFAULT}, cap ${ALERTS_PAGE_MAX})`,
    args: { groupId: t.arg.id({ required: true }), state: t.arg({ type: AlertStateEnum }), first: t.arg.int({ validate: z.number().int().min(0) }) },
    resolve: async (query, _r, { groupId, state, first }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return ctx.prisma.qualityAlert.findMany({
        ...query,
        where: { groupId: String(groupId), ...(state ? { state } : {}) },
        orderBy: { openedAt: 'desc' },
        take: Math.min(first ?? ALERTS_PAGE_DEFAULT, ALERTS_PAGE_MAX),
      });
    },
  }),
  qualityRules: t.prismaField({
    type: ['QualityRule'],
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }) },
    resolve: async (query, _r, { groupId }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return ctx.prisma.qualityRule.findMany({ ...query, where: { groupId: String(groupId) }, orderBy: { createdAt: 'asc' }, take: QUALITY_RULES_MAX });
    },
  }),
  inferenceSchedule: t.field({
    type: InferenceScheduleRef,
    nullable: true,
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }) },
    resolve: async (_r, { groupId }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return ctx.prisma.inferenceSchedule.findUnique({ where: { groupId: String(groupId) } });
    },
  }),
}));

builder.mutationFields((t) => ({
  runInferenceTableJob: t.prismaField({
    type: 'InferenceJobRun',
    description: 'Processes every new log object of the group; returns when done (then evaluates its rules)',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }) },
    resolve: async (query, _r, { groupId }, ctx) => {
      await canManage(ctx, String(groupId));
      const run = await inference(ctx).runJob(String(groupId), 'MANUAL');
      return ctx.prisma.inferenceJobRun.findUniqueOrThrow({ ...query, where: { id: run.id } });
    },
  }),
  submitLabels: t.int({
    description: 'Stores ground truth by client request id (+ row index); returns the table rows labelled. Unknown ids are kept and reported by submitLabelBatch.',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), labels: t.arg({ type: [LabelInputRef], required: true }) },
    resolve: async (_r, { groupId, labels }, ctx) => {
      await canManage(ctx, String(groupId));
      const group = await ctx.prisma.serviceGroup.findUniqueOrThrow({ where: { id: String(groupId) }, select: { name: true } });
      return (await inference(ctx).labels.submit(group.name, labels.map((l) => ({ clientRequestId: l.clientRequestId, rowIndex: l.rowIndex ?? 0, label: l.label })))).labelled;
    },
  }),
  submitLabelBatch: t.field({
    type: LabelReportRef,
    description: 'submitLabels with the full report: rows labelled and the ids not (yet) in the table',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), labels: t.arg({ type: [LabelInputRef], required: true }) },
    resolve: async (_r, { groupId, labels }, ctx) => {
      await canManage(ctx, String(groupId));
      const group = await ctx.prisma.serviceGroup.findUniqueOrThrow({ where: { id: String(groupId) }, select: { name: true } });
      return inference(ctx).labels.submit(group.name, labels.map((l) => ({ clientRequestId: l.clientRequestId, rowIndex: l.rowIndex ?? 0, label: l.label })));
    },
  }),
  importLabels: t.field({
    type: LabelReportRef,
    description: 'Imports a label file (CSV with a header, or JSON lines) from an object-store key: client_request_id, label, optional row_index',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), key: t.arg.string({ required: true }), format: t.arg({ type: LabelFileFormatEnum, required: true }) },
    resolve: async (_r, { groupId, key, format }, ctx) => {
      await canManage(ctx, String(groupId));
      const group = await ctx.prisma.serviceGroup.findUniqueOrThrow({ where: { id: String(groupId) }, select: { name: true } });
      return inference(ctx).labels.importFile(group.name, key, format);
    },
  }),
  createQualityRule: t.field({
    type: CreatedQualityRule,
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), input: t.arg({ type: QualityRuleInputRef, required: true }) },
    resolve: async (_r, { groupId, input }, ctx) => {
      await canManage(ctx, String(groupId));
      const { rule, webhookSecret } = await inference(ctx).rules.create(
        String(groupId),
        { ...input, metric: input.metric as QualityMetricName, versionId: input.versionId == null ? null : String(input.versionId) },
        requireActor(ctx).userId,
      );
      return { ruleId: rule.id, webhookSecret };
    },
  }),
  deleteQualityRule: t.boolean({
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      const rule = await ctx.prisma.qualityRule.findUnique({ where: { id: String(id) } });
      if (!rule) throw notFound(`quality rule ${String(id)} does not exist`);
      await canManage(ctx, rule.groupId);
      await ctx.prisma.qualityRule.delete({ where: { id: rule.id } });
      return true;
    },
  }),
  evaluateQualityRules: t.prismaField({
    type: ['QualityAlert'],
    description: 'Evaluates the group\'s rules now; returns the alerts opened, still open or resolved by this evaluation',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }) },
    resolve: async (query, _r, { groupId }, ctx) => {
      await canManage(ctx, String(groupId));
      const ids = await inference(ctx).rules.evaluate(String(groupId));
      return ctx.prisma.qualityAlert.findMany({ ...query, where: { id: { in: ids } }, orderBy: { openedAt: 'desc' }, take: QUALITY_RULES_MAX });
    },
  }),
  setInferenceSchedule: t.field({
    type: InferenceScheduleRef,
    description: 'Runs the table job for this group every intervalSeconds (at least 10); enabled false stops it',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), intervalSeconds: t.arg.int({ required: true }), enabled: t.arg.boolean({ defaultValue: true }) },
    resolve: async (_r, { groupId, intervalSeconds, enabled }, ctx) => {
      await canManage(ctx, String(groupId));
      if (intervalSeconds < 10 || intervalSeconds > 7 * 86400) throw new SluiceError('BAD_USER_INPUT', 'intervalSeconds must be 10..604800', { field: 'intervalSeconds' });
      return ctx.prisma.inferenceSchedule.upsert({
        where: { groupId: String(groupId) },
        create: { groupId: String(groupId), intervalSeconds, enabled: enabled ?? true },
        update: { intervalSeconds, enabled: enabled ?? true },
      });
    },
  }),
}));

builder.subscriptionFields((t) => ({
  alertChanged: t.prismaField({
    type: 'QualityAlert',
    description: 'Each alert of the group as it opens, changes, resolves or its webhook delivery settles',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }) },
    subscribe: async (_root, { groupId }, ctx) => {
      await assertGroupReadable(ctx, String(groupId));
      return ctx.pubsub.subscribe<{ alertId: string }>(alertTopic(String(groupId)));
    },
    resolve: (query, notice, _a, ctx) => ctx.prisma.qualityAlert.findUniqueOrThrow({ ...query, where: { id: (notice as { alertId: string }).alertId } }),
  }),
}));
