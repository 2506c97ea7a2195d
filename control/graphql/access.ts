// Read access for queries and subscriptions: admins see everything, others see the
// services of the projects they belong to. (Mutations are checked in the domain layer.)
import { readableProjectIds } from '../domain/actor.ts';
import type { Prisma } from '../../platform/db/prisma.ts';
import { notFound } from '../../platform/errors.ts';
import { requireActor, type GraphQLContext } from './context.ts';

export async function readableGroupsWhere(ctx: GraphQLContext): Promise<Prisma.ServiceGroupWhereInput> {
  const ids = await readableProjectIds(ctx.prisma, requireActor(ctx));
  return ids === null ? {} : { projectId: { in: ids } };
}

/** Throws NOT_FOUND for groups the caller may not see, so their existence does not leak. */
export async function assertGroupReadable(ctx: GraphQLContext, groupId: string): Promise<void> {
  const where = await readableGroupsWhere(ctx);
  const found = await ctx.prisma.serviceGroup.findFirst({ where: { AND: [where, { id: groupId }] }, select: { id: true } });
  if (!found) throw notFound(`service group ${groupId} does not exist`);
}

export async function assertVersionReadable(ctx: GraphQLContext, versionId: string): Promise<string> {
  const version = await ctx.prisma.serviceVersion.findUnique({ where: { id: versionId }, select: { groupId: true } });
  if (!version) throw notFound(`service version ${versionId} does not exist`);
  await assertGroupReadable(ctx, version.groupId);
  return version.groupId;
}

/** Ends a subscription stream when the watched thing is deleted; passes other notices on. */
export async function* untilDeleted<T extends { deleted?: boolean; kind?: string }>(
  source: AsyncIterableIterator<T>,
  deletedKind: string,
): AsyncGenerator<T> {
  try {
    for await (const notice of source) {
      if (notice.deleted && notice.kind === deletedKind) return;
      yield notice;
    }
  } finally {
    await source.return?.();
  }
}
