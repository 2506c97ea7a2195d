// Version status transitions and their consequences inside one transaction: the traffic
// shares of the group's running versions stay summing to 100, and the group's stored
// status follows its versions.
import { deriveGroupStatus, rebalance, type StatusName } from './status.ts';
import type { Tx } from '../../platform/db/prisma.ts';

export async function refreshGroupStatus(tx: Tx, groupId: string): Promise<StatusName> {
  const versions = await tx.serviceVersion.findMany({ where: { groupId }, select: { status: true } });
  const status = deriveGroupStatus(versions.map((v) => v.status));
  await tx.serviceGroup.update({ where: { id: groupId }, data: { status } });
  return status;
}

/**
 * Moves a version to `status`. Entering RUNNING: the only running version gets 100, a
 * second one gets 0 (the first keeps 100 until traffic is set). Leaving RUNNING: its share
 * goes to the versions still running.
 */
export async function transitionVersion(
  tx: Tx,
  versionId: string,
  status: StatusName,
  reason: string | null,
): Promise<void> {
  const version = await tx.serviceVersion.findUniqueOrThrow({ where: { id: versionId } });
  const wasRunning = version.status === 'RUNNING';
  const willRun = status === 'RUNNING';
  await tx.serviceVersion.update({
    where: { id: versionId },
    data: { status, statusReason: reason, ...(willRun ? {} : { trafficPercent: 0 }) },
  });
  if (wasRunning !== willRun) {
    const running = await tx.serviceVersion.findMany({
      where: { groupId: version.groupId, status: 'RUNNING' },
      select: { id: true, trafficPercent: true },
      orderBy: { createdAt: 'asc' },
    });
    const shares = willRun && running.length > 1
      ? new Map(running.map((r) => [r.id, r.id === versionId ? 0 : r.trafficPercent]))
      : rebalance(running.map((r) => ({ id: r.id, percent: r.id === versionId ? 0 : r.trafficPercent })));
    // when the newcomer joins others, the others' shares are unchanged (they already sum to 100)
    for (const [id, percent] of shares) {
      await tx.serviceVersion.update({ where: { id }, data: { trafficPercent: percent } });
    }
  }
  await refreshGroupStatus(tx, version.groupId);
}
