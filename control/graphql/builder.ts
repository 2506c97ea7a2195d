// The Pothos schema builder shared by every domain type file in ./types. Plugins: scope
// auth (who may call what), Prisma (types and batched relation loading from the
// generated Prisma types), Relay (connections for pagination) and validation.
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ValidationPlugin from '@pothos/plugin-validation';
import type PrismaTypes from '../../prisma/generated/pothos-types.ts';
import { getDatamodel } from '../../prisma/generated/pothos-types.ts';
import { forbidden, unauthenticated } from '../../platform/errors.ts';
import type { GraphQLContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: { authenticated: boolean; admin: boolean };
  Scalars: {
    // IDs arrive as strings (graphql-js coerces an Int literal to its string form), so
    // resolvers get `string`, never `string | number`
    ID: { Input: string; Output: string | number };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  // fields are non-null unless they say otherwise (CONTRACT's `ServiceGroup!`, `[ServiceGroup!]!`)
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ authenticated: ctx.actor !== null, admin: ctx.actor?.role === 'ADMIN' }),
    unauthorizedError: (_parent, ctx) =>
      ctx.actor ? forbidden(`${ctx.actor.username} may not do this`) : unauthenticated('send a bearer token in the Authorization header'),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
