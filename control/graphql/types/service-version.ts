// GraphQL for service versions: the type (model or image source, resources, policies,
// instances), the version operations (add, update, start, stop, delete) and traffic.
import { topics } from '../../../platform/pubsub/port.ts';
import type { ChangeNotice } from '../../domain/changes.ts';
import { resourceSpec, sourceSpec } from '../../domain/deployment.ts';
import { assertVersionReadable, untilDeleted } from '../access.ts';
import { AutoscalingInput, MirrorInput, ThrottleInput } from './traffic.ts';
import { builder } from '../builder.ts';
import { reselect, idOf } from '../reselect.ts';
import { requireActor } from '../context.ts';
import { ModelSourceEnum, ResourceSourceEnum, ServiceStatusEnum } from './enums.ts';
import { z } from 'zod';
import { COMMAND_ARGS_MAX, ENV_ENTRIES_MAX, INSTANCES_PER_VERSION_MAX, LOG_LINES_DEFAULT, LOG_LINES_MAX, capped, pageSize } from '../list-bounds.ts';

const ModelRef = builder.objectRef<{ source: string; name: string; version: string; trackingUri: string | null }>('ModelRef').implement({
  fields: (t) => ({
    source: t.exposeString('source'),
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    trackingUri: t.exposeString('trackingUri', { nullable: true }),
  }),
});

// Env values are write-only: they are often credentials, stored sealed, and no query
// returns them (set them again to change them).
const EnvVar = builder.objectRef<{ name: string }>('EnvVar').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    value: t.string({ nullable: true, description: 'always null: env values are write-only secrets', resolve: () => null }),
    hasValue: t.boolean({ resolve: () => true }),
  }),
});

const ImageSource = builder.objectRef<{
  image: string; command: string[]; port: number; env: { name: string }[];
  registryUsername: string | null; hasRegistryPassword: boolean;
}>('ImageSource').implement({
  fields: (t) => ({
    image: t.exposeString('image'),
    // capped like on write (list-bounds.ts): what the cost model assumes
    command: t.stringList({ resolve: (s) => capped(s.command, COMMAND_ARGS_MAX) }),
    port: t.exposeInt('port'),
    env: t.field({ type: [EnvVar], resolve: (s) => capped(s.env, ENV_ENTRIES_MAX) }),
    registryUsername: t.exposeString('registryUsername', { nullable: true }),
    // the password itself is stored encrypted and never leaves the server
    hasRegistryPassword: t.exposeBoolean('hasRegistryPassword'),
  }),
});

const ResourceSpec = builder.objectRef<{ cpu: number; memoryGiB: number; gpuType: string | null; gpuCount: number; label: string }>('ResourceSpec').implement({
  fields: (t) => ({
    cpu: t.exposeFloat('cpu'),
    memoryGiB: t.exposeFloat('memoryGiB'),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    gpuCount: t.exposeInt('gpuCount'),
    label: t.exposeString('label', { description: 'e.g. 4C8G, or 4C8G 1×T4' }),
  }),
});

const InferenceTableSettings = builder.objectRef<{ enabled: boolean; sampleRate: number; maxBodyBytes: number }>('InferenceTableSettings').implement({
  fields: (t) => ({ enabled: t.exposeBoolean('enabled'), sampleRate: t.exposeFloat('sampleRate'), maxBodyBytes: t.exposeInt('maxBodyBytes') }),
});

export const LogLineRef = builder.objectRef<{ time: Date; instance: string; stream: string; line: string }>('LogLine').implement({
  fields: (t) => ({
    time: t.expose('time', { type: 'DateTime' }),
    instance: t.exposeString('instance'),
    stream: t.exposeString('stream'),
    line: t.exposeString('line'),
  }),
});

const specLabel = (cpu: number, mem: number, gpuType: string | null, gpus: number) =>
  `${cpu}C${mem}G${gpus > 0 ? ` ${gpus}×${gpuType ?? 'GPU'}` : ''}`;

export const ServiceVersionRef = builder.prismaObject('ServiceVersion', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    status: t.expose('status', { type: ServiceStatusEnum }),
    statusReason: t.exposeString('statusReason', { nullable: true }),
    trafficPercent: t.exposeInt('trafficPercent'),
    replicas: t.exposeInt('replicas'),
    qpsLimit: t.exposeInt('qpsLimit', { nullable: true }),
    authEnabled: t.exposeBoolean('authEnabled'),
    authJwtOnly: t.exposeBoolean('authJwtOnly', {
      description: 'auth accepts only JWTs from the configured issuer (no API keys); Envoy verifies them itself (jwt_authn)',
    }),
    creator: t.exposeString('createdByName'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    group: t.relation('group'),
    modelSource: t.expose('modelSource', { type: ModelSourceEnum }),
    model: t.field({
      type: ModelRef,
      nullable: true,
      resolve: (v) => {
        const s = sourceSpec(v);
        return s.kind === 'model' && s.name && s.version ? { source: s.source, name: s.name, version: s.version, trackingUri: s.trackingUri } : null;
      },
    }),
    image: t.field({
      type: ImageSource,
      nullable: true,
      resolve: (v) => {
        const s = sourceSpec(v);
        if (s.kind !== 'image') return null;
        const { registryPasswordEnc, ...shown } = s;
        // env values are write-only secrets: names only
        return { ...shown, env: shown.env.map((e) => ({ name: e.name })), hasRegistryPassword: registryPasswordEnc != null };
      },
    }),
    resourceSource: t.expose('resourceSource', { type: ResourceSourceEnum }),
    resources: t.field({
      type: ResourceSpec,
      resolve: (v) => {
        const r = resourceSpec(v);
        return { ...r, label: specLabel(r.cpu, r.memoryGiB, r.gpuType, r.gpuCount) };
      },
    }),
    resourceGroup: t.relation('resourceGroup', { nullable: true }),
    logDeliveryEnabled: t.exposeBoolean('logDeliveryEnabled'),
    inferenceTable: t.field({
      type: InferenceTableSettings,
      resolve: (v) => ({ enabled: v.inferenceTableEnabled, sampleRate: v.inferenceSampleRate, maxBodyBytes: v.inferenceMaxBodyBytes }),
    }),
    instances: t.relation('instances', {
      description: `The version's instances by name: at most \`first\` (default and cap ${INSTANCES_PER_VERSION_MAX}, the most replicas a version may have)`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }) },
      query: (args) => ({ orderBy: { name: 'asc' }, take: pageSize(args.first, INSTANCES_PER_VERSION_MAX) }),
    }),
    runningInstances: t.relationCount('instances', { where: { state: 'RUNNING' } }),
    logs: t.field({
      type: [LogLineRef],
      args: { instance: t.arg.string(), limit: t.arg.int({ defaultValue: LOG_LINES_DEFAULT }) },
      resolve: (v, args, ctx) =>
        ctx.domain.deps.orchestrator.logs(v.id, {
          ...(args.instance ? { instance: args.instance } : {}),
          limit: Math.min(Math.max(args.limit ?? LOG_LINES_DEFAULT, 1), LOG_LINES_MAX),
        }),
    }),
  }),
});

const ModelRefInput = builder.inputType('ModelRefInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    version: t.string({ required: true }),
    source: t.field({ type: ModelSourceEnum, description: 'REGISTRY (default) or MLFLOW' }),
    trackingUri: t.string({ description: 'the MLflow tracking server, for MLFLOW' }),
  }),
});
const EnvVarInput = builder.inputType('EnvVarInput', {
  fields: (t) => ({ name: t.string({ required: true }), value: t.string({ required: true }) }),
});
const ImageSourceInput = builder.inputType('ImageSourceInput', {
  fields: (t) => ({
    image: t.string({ required: true }),
    command: t.stringList({ validate: z.array(z.string()).max(COMMAND_ARGS_MAX, `at most ${COMMAND_ARGS_MAX} command arguments`) }),
    port: t.int(),
    env: t.field({ type: [EnvVarInput], validate: z.array(z.unknown()).max(ENV_ENTRIES_MAX, `at most ${ENV_ENTRIES_MAX} environment entries`) }),
    registryUsername: t.string(),
    registryPassword: t.string(),
  }),
});
const ResourceSpecInput = builder.inputType('ResourceSpecInput', {
  fields: (t) => ({ cpu: t.float(), memoryGiB: t.float(), gpuType: t.string(), gpuCount: t.int() }),
});
const InferenceTableInput = builder.inputType('InferenceTableInput', {
  fields: (t) => ({ enabled: t.boolean(), sampleRate: t.float(), maxBodyBytes: t.int() }),
});

const AddServiceVersionInput = builder.inputType('AddServiceVersionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    model: t.field({ type: ModelRefInput }),
    image: t.field({ type: ImageSourceInput }),
    replicas: t.int(),
    qpsLimit: t.int(),
    authEnabled: t.boolean({ description: 'require an API key or token on /predict (default true)' }),
    authJwtOnly: t.boolean({ description: 'accept only JWTs from the configured issuer, no API keys (default false)' }),
    resources: t.field({ type: ResourceSpecInput }),
    resourceGroupId: t.id(),
    inferenceTable: t.field({ type: InferenceTableInput }),
    logDeliveryEnabled: t.boolean(),
  }),
});

const UpdateServiceVersionInput = builder.inputType('UpdateServiceVersionInput', {
  fields: (t) => ({
    description: t.string(),
    replicas: t.int(),
    qpsLimit: t.int({ description: 'a new limit; use clearQpsLimit to remove it' }),
    clearQpsLimit: t.boolean(),
    authEnabled: t.boolean(),
    authJwtOnly: t.boolean(),
    resources: t.field({ type: ResourceSpecInput }),
    model: t.field({ type: ModelRefInput }),
    image: t.field({ type: ImageSourceInput }),
    inferenceTable: t.field({ type: InferenceTableInput }),
    logDeliveryEnabled: t.boolean(),
    throttle: t.field({ type: ThrottleInput }),
    autoscaling: t.field({ type: AutoscalingInput }),
  }),
});

const TrafficAllocationInput = builder.inputType('TrafficAllocationInput', {
  fields: (t) => ({ versionId: t.id({ required: true }), percent: t.int({ required: true }) }),
});

builder.queryFields((t) => ({
  serviceVersion: t.prismaField({
    type: 'ServiceVersion',
    nullable: true,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      await assertVersionReadable(ctx, id);
      return ctx.prisma.serviceVersion.findUnique({ ...query, where: { id } });
    },
  }),
}));

builder.mutationFields((t) => ({
  addServiceVersion: t.prismaField({
    type: 'ServiceVersion',
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), input: t.arg({ type: AddServiceVersionInput, required: true }) },
    resolve: (query, _root, { groupId, input }, ctx) =>
      reselect(ctx.domain.versions.add(requireActor(ctx), groupId, {
        ...input,
        resourceGroupId: input.resourceGroupId ?? null,
      }), ctx.prisma.serviceVersion, query, idOf),
  }),
  updateServiceVersion: t.prismaField({
    type: 'ServiceVersion',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateServiceVersionInput, required: true }) },
    resolve: (query, _root, { id, input }, ctx) =>
      reselect(ctx.domain.versions.update(requireActor(ctx), id, input), ctx.prisma.serviceVersion, query, id),
  }),
  startServiceVersion: t.prismaField({
    type: 'ServiceVersion',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) =>
      reselect(ctx.domain.versions.start(requireActor(ctx), id), ctx.prisma.serviceVersion, query, id),
  }),
  stopServiceVersion: t.prismaField({
    type: 'ServiceVersion',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) =>
      reselect(ctx.domain.versions.stop(requireActor(ctx), id), ctx.prisma.serviceVersion, query, id),
  }),
  deleteServiceVersion: t.boolean({
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.domain.versions.delete(requireActor(ctx), id),
  }),
  setTrafficAllocation: t.prismaField({
    type: 'ServiceGroup',
    authScopes: { authenticated: true },
    args: {
      groupId: t.arg.id({ required: true }),
      allocations: t.arg({ type: [TrafficAllocationInput], required: true }),
      mirror: t.arg({ type: MirrorInput }),
    },
    resolve: (query, _root, { groupId, allocations, mirror }, ctx) =>
      reselect(ctx.domain.traffic.set(
        requireActor(ctx),
        groupId,
        allocations.map((a) => ({ versionId: a.versionId, percent: a.percent })),
        // absent: mirror unchanged; null or percent 0: off
        mirror === undefined ? undefined : mirror === null ? null : { versionId: String(mirror.versionId), percent: mirror.percent },
      ), ctx.prisma.serviceGroup, query, groupId),
  }),
}));

builder.subscriptionFields((t) => ({
  serviceVersionChanged: t.prismaField({
    type: 'ServiceVersion',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, { id }, ctx) => {
      await assertVersionReadable(ctx, id);
      return untilDeleted(ctx.pubsub.subscribe<ChangeNotice>(topics.version(id)), 'version');
    },
    resolve: (query, _notice, { id }, ctx) => ctx.prisma.serviceVersion.findUniqueOrThrow({ ...query, where: { id } }),
  }),
}));
