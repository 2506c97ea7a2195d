// Status rules that are pure: the group's status derived from its versions, which version
// transitions are allowed, and how traffic shares are kept summing to 100.
import type { ServiceStatus as Status } from '../../prisma/generated/sqlite/enums.ts';

export type StatusName = (typeof Status)[keyof typeof Status];

/** Nothing runs and nothing is on its way up or down. */
export const isAtRest = (s: StatusName) => s === 'DRAFT' || s === 'STOPPED' || s === 'FAILED';

export function deriveGroupStatus(versionStatuses: StatusName[]): StatusName {
  if (versionStatuses.length === 0) return 'DRAFT';
  if (versionStatuses.includes('STARTING')) return 'STARTING';
  if (versionStatuses.includes('STOPPING')) return 'STOPPING';
  if (versionStatuses.includes('RUNNING')) return 'RUNNING';
  if (versionStatuses.every((s) => s === 'DRAFT')) return 'DRAFT';
  if (versionStatuses.includes('FAILED')) return 'FAILED';
  return 'STOPPED';
}

/**
 * Shares for the running versions after one joined or left. A newcomer gets 0 while others
 * run (traffic moves only when an operator says so); the remaining shares are scaled to sum
 * to 100, with rounding remainders given to the largest shares first, deterministically.
 */
export function rebalance(shares: { id: string; percent: number }[]): Map<string, number> {
  const result = new Map<string, number>();
  if (shares.length === 0) return result;
  const total = shares.reduce((sum, s) => sum + Math.max(0, s.percent), 0);
  if (total === 0) {
    // nobody had traffic (e.g. the only version with traffic stopped): the first takes all
    const sorted = [...shares].sort((a, b) => a.id.localeCompare(b.id));
    sorted.forEach((s, i) => result.set(s.id, i === 0 ? 100 : 0));
    return result;
  }
  const exact = shares.map((s) => ({ id: s.id, exact: (Math.max(0, s.percent) * 100) / total }));
  let assigned = 0;
  for (const e of exact) {
    const floor = Math.floor(e.exact);
    result.set(e.id, floor);
    assigned += floor;
  }
  const byRemainder = [...exact].sort((a, b) => b.exact - Math.floor(b.exact) - (a.exact - Math.floor(a.exact)) || a.id.localeCompare(b.id));
  for (let i = 0; assigned < 100; i++, assigned++) {
    const e = byRemainder[i % byRemainder.length]!;
    result.set(e.id, (result.get(e.id) ?? 0) + 1);
  }
  return result;
}

/** One replica as an orchestrator sees it (a local process, a pod). */
export interface ReplicaReadiness {
  name: string;
  state: 'WAITING' | 'RUNNING' | 'TERMINATING' | 'FAILED';
  reason?: string | undefined;
}

/** What an orchestrator reports for a version as a whole, or null for "still on its way". */
export type VersionVerdict = { status: 'RUNNING' } | { status: 'FAILED'; reason: string } | null;

/**
 * The one readiness rule, for every orchestrator: a version is RUNNING once at least
 * `wanted` of its replicas are RUNNING (ready) and none has FAILED; FAILED as soon as one
 * replica has failed for good (crash loop given up, image cannot be pulled, …); otherwise
 * still starting. "At least" rather than "exactly": during a rollout or a scale-down the
 * old replicas still count while they serve, and a TERMINATING one never counts.
 */
export function versionReadiness(wanted: number, replicas: readonly ReplicaReadiness[]): VersionVerdict {
  const failed = replicas.find((r) => r.state === 'FAILED');
  if (failed) return { status: 'FAILED', reason: `${failed.name}: ${failed.reason ?? 'failed'}` };
  const running = replicas.filter((r) => r.state === 'RUNNING').length;
  return running >= wanted ? { status: 'RUNNING' } : null;
}

/**
 * A version's next status when its orchestrator reports on it; null when the report changes
 * nothing (a late RUNNING for a version being stopped, a repeat). The rules:
 *   RUNNING  from STARTING, or from FAILED (it recovered: a replica came back)
 *   FAILED   from anything but DRAFT, STOPPING and STOPPED (a stop wins over a failure)
 *   STOPPED  from STOPPING; from RUNNING or STARTING it means the replicas went away
 *            unexpectedly, which is a FAILED version
 */
export function nextVersionStatus(
  from: StatusName,
  report: { status: 'RUNNING' | 'FAILED' | 'STOPPED'; reason?: string | undefined },
): { to: StatusName; reason: string | null } | null {
  let to: StatusName | null = null;
  if (report.status === 'RUNNING' && (from === 'STARTING' || from === 'FAILED')) to = 'RUNNING';
  else if (report.status === 'FAILED' && from !== 'STOPPING' && from !== 'STOPPED' && from !== 'DRAFT') to = 'FAILED';
  else if (report.status === 'STOPPED' && from === 'STOPPING') to = 'STOPPED';
  else if (report.status === 'STOPPED' && (from === 'RUNNING' || from === 'STARTING')) to = 'FAILED';
  if (!to || to === from) return null;
  const reason = report.reason ?? (to === 'FAILED' && report.status === 'STOPPED' ? 'replicas went away unexpectedly' : null);
  return { to, reason };
}
