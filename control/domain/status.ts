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
