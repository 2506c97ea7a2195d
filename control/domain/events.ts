// Events, folded like Kubernetes events: the same (kind, name, reason, message) seen again
// bumps the count and the last-seen time instead of adding a row.
import type { Tx, PrismaClient, Event } from '../../platform/db/prisma.ts';

export interface EventInput {
  level: 'NORMAL' | 'WARNING';
  resourceKind: string;
  resourceName: string;
  reason: string;
  message: string;
  groupId?: string | null;
  versionId?: string | null;
  /** occurrences folded into this call; default 1 */
  count?: number;
}

const MAX_MESSAGE = 2000;

export async function recordEvent(db: Tx | PrismaClient, input: EventInput, at: Date): Promise<Event> {
  const occurrences = Math.max(1, Math.floor(input.count ?? 1));
  const message = input.message.length > MAX_MESSAGE ? `${input.message.slice(0, MAX_MESSAGE)}…` : input.message;
  return db.event.upsert({
    where: {
      resourceKind_resourceName_reason_message: {
        resourceKind: input.resourceKind,
        resourceName: input.resourceName,
        reason: input.reason,
        message,
      },
    },
    create: {
      level: input.level,
      resourceKind: input.resourceKind,
      resourceName: input.resourceName,
      reason: input.reason,
      message,
      groupId: input.groupId ?? null,
      versionId: input.versionId ?? null,
      count: occurrences,
      firstSeen: at,
      lastSeen: at,
    },
    update: { count: { increment: occurrences }, lastSeen: at, level: input.level },
  });
}
