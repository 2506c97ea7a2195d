// GraphQL for the built-in model registry: registered models and their versions.
import { builder } from '../builder.ts';

builder.prismaObject('RegisteredModel', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    versions: t.relation('versions', { query: { orderBy: { createdAt: 'asc' } } }),
  }),
});

builder.prismaObject('ModelVersion', {
  fields: (t) => ({
    id: t.exposeID('id'),
    version: t.exposeString('version'),
    format: t.exposeString('format'),
    artifactUri: t.exposeString('artifactUri'),
    signature: t.expose('signature', { type: 'JSON' }),
    description: t.exposeString('description'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    model: t.relation('model'),
  }),
});

builder.queryFields((t) => ({
  registeredModels: t.prismaField({
    type: ['RegisteredModel'],
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) => ctx.prisma.registeredModel.findMany({ ...query, orderBy: { name: 'asc' } }),
  }),
}));
