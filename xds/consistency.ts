// The snapshot check every snapshot passes before it is served: a proxy given endpoints
// for a cluster that does not exist, a route configuration no listener asks for, or a
// reference to a resource that is not there would either wait forever (warming) or serve
// 503s. An inconsistent snapshot is refused (XdsSnapshotError, code
// XDS_INCONSISTENT_SNAPSHOT): the cache keeps the last good one, and the publisher reports
// the refusal as a failed rebuild (log + onError).
//
// Rules, from the resources' names and their declared `references` (set by translation):
//   - every EDS resource is named by a CDS cluster (same name: Sluice's clusters take
//     their endpoints by their own name);
//   - every RDS resource is named by a listener (when the listeners declare references);
//   - every reference resolves: a listener's route configurations exist, a route
//     configuration's clusters exist.
import { TYPE_URL } from '../proto/envoy.ts';
import type { Snapshot } from './cache.ts';

export class XdsSnapshotError extends Error {
  readonly code = 'XDS_INCONSISTENT_SNAPSHOT' as const;
  constructor(readonly problems: string[]) {
    super(`inconsistent xDS snapshot: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
    this.name = 'XdsSnapshotError';
  }
}

/** Every problem the snapshot has (empty when it is consistent). */
export function snapshotProblems(s: Snapshot): string[] {
  const problems: string[] = [];
  const lds = s.types[TYPE_URL.listener].resources;
  const rds = s.types[TYPE_URL.route].resources;
  const cds = s.types[TYPE_URL.cluster].resources;
  const eds = s.types[TYPE_URL.endpoint].resources;
  for (const name of eds.keys()) {
    if (!cds.has(name)) problems.push(`endpoints ${name} are named by no cluster`);
  }
  const namedRoutes = new Set<string>();
  let listenersDeclare = true;
  for (const l of lds.values()) {
    if (l.references === undefined) listenersDeclare = false;
    for (const r of l.references ?? []) {
      namedRoutes.add(r);
      if (!rds.has(r)) problems.push(`listener ${l.name} names route configuration ${r}, which is missing`);
    }
  }
  for (const r of rds.values()) {
    if (listenersDeclare && !namedRoutes.has(r.name)) problems.push(`route configuration ${r.name} is named by no listener`);
    for (const c of r.references ?? []) {
      if (!cds.has(c)) problems.push(`route configuration ${r.name} names cluster ${c}, which is missing`);
    }
  }
  return problems;
}

/** Throws XdsSnapshotError if the snapshot is inconsistent. */
export function assertConsistent(s: Snapshot): void {
  const problems = snapshotProblems(s);
  if (problems.length > 0) throw new XdsSnapshotError(problems);
}
