// GraphQL for API keys: create (the key is shown once), revoke, list with last use.
import { assertGroupReadable } from '../access.ts';
import { z } from 'zod';
import { builder } from '../builder.ts';
import { API_KEYS_PAGE_MAX, pageSize } from '../list-bounds.ts';
import { reselect } from '../reselect.ts';
import { requireActor } from '../context.ts';
import { cursorRow, pastRow } from '../keyset.ts';

export const ApiKeyRef = builder.prismaObject('ApiKey', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'the first characters of the key, to tell keys apart' }),
    groupId: t.exposeID('groupId'),
    versionId: t.exposeID('versionId', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    revoked: t.boolean({ resolve: (k) => k.revokedAt != null }),
  }),
});

const CreatedApiKey = builder.objectRef<{ key: string; apiKeyId: string }>('CreatedApiKey').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'the secret key; shown only in this response' }),
    apiKey: t.prismaField({
      type: 'ApiKey',
      resolve: (query, created, _args, ctx) => ctx.prisma.apiKey.findUniqueOrThrow({ ...query, where: { id: created.apiKeyId } }),
    }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.prismaField({
    type: ['ApiKey'],
    authScopes: { authenticated: true },
    description: `The group's keys, newest first: at most \`first\` (default and cap ${API_KEYS_PAGE_MAX}); the next page is \`after\` the last key's id (\`skip\` also works, but repeats or misses keys created or deleted between pages)`,
    args: {
      groupId: t.arg.id({ required: true }),
      includeRevoked: t.arg.boolean({ defaultValue: false }),
      first: t.arg.int({ validate: z.number().int().min(0) }),
      skip: t.arg.int({ validate: z.number().int().min(0) }),
      after: t.arg.id({ description: 'the id of the last key of the previous page' }),
    },
    resolve: async (query, _root, { groupId, includeRevoked, first, skip, after }, ctx) => {
      await assertGroupReadable(ctx, groupId);
      const where = { groupId, ...(includeRevoked ? {} : { revokedAt: null }) };
      const cursor = after ? cursorRow(await ctx.prisma.apiKey.findFirst({ where: { groupId, id: String(after) }, select: { id: true, createdAt: true } }), 'after') : null;
      return ctx.prisma.apiKey.findMany({
        ...query,
        where: cursor ? { AND: [where, pastRow(cursor, 'desc')] } : where,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: pageSize(first, API_KEYS_PAGE_MAX),
        skip: skip ?? 0,
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    authScopes: { authenticated: true },
    args: { groupId: t.arg.id({ required: true }), versionId: t.arg.id(), name: t.arg.string() },
    resolve: async (_root, { groupId, versionId, name }, ctx) => {
      const { key, apiKey } = await ctx.domain.apiKeys.create(requireActor(ctx), groupId, {
        versionId: versionId ?? null,
        name: name ?? null,
      });
      return { key, apiKeyId: apiKey.id };
    },
  }),
  revokeApiKey: t.prismaField({
    type: 'ApiKey',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) =>
      reselect(ctx.domain.apiKeys.revoke(requireActor(ctx), id), ctx.prisma.apiKey, query, id),
  }),
}));
