// The audit trail: every mutation writes who did what to which resource, with the row
// before and after, inside the same transaction as the change itself.
import type { Actor } from './actor.ts';
import type { Prisma, Tx } from '../../platform/db/prisma.ts';

// Fields that must never reach the audit log, even encrypted.
const REDACTED = new Set(['registryPasswordEnc', 'passwordHash', 'hash', 'valueEnc']);

function snapshot(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === null || value === undefined) return undefined;
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (REDACTED.has(key)) return v == null ? v : '[redacted]';
      // a version's env: names only (values are secrets, even in rows from before sealing)
      if (key === 'env' && Array.isArray(v)) return v.map((e: { name?: unknown }) => ({ name: e?.name, value: '[redacted]' }));
      return typeof v === 'bigint' ? v.toString() : v;
    }),
  ) as Prisma.InputJsonValue;
}


export async function audit(
  tx: Tx,
  actor: Actor,
  action: string,
  resourceKind: string,
  resourceId: string | null,
  before: unknown,
  after: unknown,
  at: Date,
): Promise<void> {
  await tx.auditLog.create({
    data: {
      actorId: actor.userId,
      actorName: actor.username,
      action,
      resourceKind,
      resourceId,
      before: snapshot(before),
      after: snapshot(after),
      at,
    },
  });
}
