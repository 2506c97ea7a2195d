// GraphQL for the built-in model registry: registered models and their versions.
import { z } from 'zod';
import { builder } from '../builder.ts';
import { MODELS_PAGE_MAX, MODEL_VERSIONS_MAX, pageSize } from '../list-bounds.ts';
import { requireActor } from '../context.ts';
import { SluiceError } from '../../../platform/errors.ts';
import { cursorRow, pastRow } from '../keyset.ts';

builder.prismaObject('RegisteredModel', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    versions: t.prismaField({
      type: ['ModelVersion'],
      description: `The model's newest \`first\` versions (default and cap ${MODEL_VERSIONS_MAX}), oldest first; older ones are \`before\` the id of the oldest version of the previous page`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }), before: t.arg.id({ description: 'the id of the oldest version of the previous page' }) },
      // the newest are the ones a user picks from; older ones page backwards with `before`
      resolve: async (query, model, args, ctx) => {
        const cursor = args.before ? cursorRow(await ctx.prisma.modelVersion.findFirst({ where: { modelId: model.id, id: String(args.before) }, select: { id: true, createdAt: true } }), 'before') : null;
        const where = { modelId: model.id };
        return (await ctx.prisma.modelVersion.findMany({ ...query, where: cursor ? { AND: [where, pastRow(cursor, 'desc')] } : where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: pageSize(args.first, MODEL_VERSIONS_MAX) })).reverse();
      },
    }),
  }),
});

builder.prismaObject('ModelVersion', {
  fields: (t) => ({
    id: t.exposeID('id'),
    version: t.exposeString('version'),
    format: t.exposeString('format'),
    artifactUri: t.exposeString('artifactUri'),
    signature: t.expose('signature', { type: 'JSON' }),
    baseline: t.expose('baseline', { type: 'JSON', nullable: true }),
    description: t.exposeString('description'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    model: t.relation('model'),
  }),
});

builder.queryFields((t) => ({
  registeredModels: t.prismaField({
    type: ['RegisteredModel'],
    authScopes: { authenticated: true },
    description: `Registered models by name: at most \`first\` (default and cap ${MODELS_PAGE_MAX}); the next page is \`after\` the last model's name (\`skip\` also works, but repeats or misses models registered or deleted between pages)`,
    args: {
      first: t.arg.int({ validate: z.number().int().min(0) }),
      skip: t.arg.int({ validate: z.number().int().min(0) }),
      after: t.arg.string({ description: 'the name of the last model of the previous page' }),
    },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.registeredModel.findMany({ ...query, where: args.after ? { name: { gt: args.after } } : {}, orderBy: { name: 'asc' }, take: pageSize(args.first, MODELS_PAGE_MAX), skip: args.skip ?? 0 }),
  }),
}));

const RegisterModelVersionInput = builder.inputType('RegisterModelVersionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    version: t.string({ required: true }),
    path: t.string({ description: 'an absolute path of an .onnx file on the server' }),
    contentBase64: t.string({ description: 'the .onnx file, base64-encoded (an upload)' }),
    signature: t.field({ type: 'JSON', description: '{inputs: [{name, type}], outputs: [...]}; omitted: read from the graph' }),
    baseline: t.field({ type: 'JSON', description: 'training-data summary for drift: {format: 1, rows, features: {<name>: {type: "numeric", edges, counts, min, max}}, prediction}' }),
    description: t.string(),
  }),
});

builder.mutationFields((t) => ({
  registerModelVersion: t.prismaField({
    type: 'ModelVersion',
    description: 'Registers a model version after loading it as a real model with its signature',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RegisterModelVersionInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      if (!ctx.registry) throw new SluiceError('INTERNAL', 'the model registry is not configured on this server');
      const registered = await ctx.registry.register(requireActor(ctx), input);
      return ctx.prisma.modelVersion.findFirstOrThrow({ ...query, where: { version: registered.version, model: { name: registered.name } } });
    },
  }),
}));
