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
//
// A snapshot built from the one before it (cache.ts `applyChanges`) is checked by its
// deltas: only the changed resources and the names removed, against reference counts
// (who names each route configuration and cluster) that move from the checked snapshot to
// the next. Anything else (a snapshot built from scratch, or from one that was not the last
// checked) gets the full check, which builds those counts.
import { TYPE_URL } from '../proto/envoy.ts';
import type { Snapshot, TypeSnapshot } from './cache.ts';
import type { XdsResource } from './translate.ts';

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

/** Who names what: a route configuration's listeners, a cluster's route configurations (counts). */
interface RefIndex {
  routeRefs: Map<string, number>;
  clusterRefs: Map<string, number>;
  /** listeners that declare no references (then route configurations need no listener) */
  undeclared: number;
}

/** Checks done so far, by kind (tests count a change's cost by them). */
export const checkStats = { full: 0, byDelta: 0 };

// owned by the last snapshot checked in a line of changes: handed to the next one
const indexes = new WeakMap<Snapshot, RefIndex>();

const bump = (m: Map<string, number>, names: readonly string[] | undefined, by: 1 | -1) => {
  for (const n of names ?? []) {
    const c = (m.get(n) ?? 0) + by;
    if (c === 0) m.delete(n);
    else m.set(n, c);
  }
};

function buildIndex(s: Snapshot): RefIndex {
  const idx: RefIndex = { routeRefs: new Map(), clusterRefs: new Map(), undeclared: 0 };
  for (const l of s.types[TYPE_URL.listener].resources.values()) {
    if (l.references === undefined) idx.undeclared += 1;
    bump(idx.routeRefs, l.references, 1);
  }
  for (const r of s.types[TYPE_URL.route].resources.values()) bump(idx.clusterRefs, r.references, 1);
  return idx;
}

/** The delta from `prev` to `next` of one type, if `next` was built from `prev` (or is it). */
function deltaOf(prev: TypeSnapshot, next: TypeSnapshot): { changed: readonly string[]; removed: readonly string[] } | null {
  if (prev === next) return { changed: [], removed: [] };
  return next.delta && next.delta.from === prev.version ? next.delta : null;
}

/**
 * The problems `next` has, given that `prev` (checked, indexed) had none, by the deltas
 * alone; null when `next` was not built from `prev`. Moves the index to `next`.
 */
function changeProblems(prev: Snapshot, next: Snapshot): string[] | null {
  const idx = indexes.get(prev);
  if (!idx) return null;
  const d = {
    lds: deltaOf(prev.types[TYPE_URL.listener], next.types[TYPE_URL.listener]),
    rds: deltaOf(prev.types[TYPE_URL.route], next.types[TYPE_URL.route]),
    cds: deltaOf(prev.types[TYPE_URL.cluster], next.types[TYPE_URL.cluster]),
    eds: deltaOf(prev.types[TYPE_URL.endpoint], next.types[TYPE_URL.endpoint]),
  };
  if (!d.lds || !d.rds || !d.cds || !d.eds) return null;
  // the index belongs to one snapshot at a time: whatever happens below, prev loses it
  indexes.delete(prev);
  const was = (url: string, name: string): XdsResource | undefined => prev.types[url as keyof Snapshot['types']].resources.get(name);
  const lds = next.types[TYPE_URL.listener].resources;
  const rds = next.types[TYPE_URL.route].resources;
  const cds = next.types[TYPE_URL.cluster].resources;
  const eds = next.types[TYPE_URL.endpoint].resources;
  const declaredBefore = idx.undeclared === 0;
  // move the counts
  const unnamedNow = new Set<string>();
  for (const name of [...d.lds.changed, ...d.lds.removed]) {
    const old = was(TYPE_URL.listener, name);
    if (old) {
      if (old.references === undefined) idx.undeclared -= 1;
      bump(idx.routeRefs, old.references, -1);
      for (const r of old.references ?? []) unnamedNow.add(r);
    }
    const now = lds.get(name);
    if (now) {
      if (now.references === undefined) idx.undeclared += 1;
      bump(idx.routeRefs, now.references, 1);
    }
  }
  for (const name of [...d.rds.changed, ...d.rds.removed]) {
    bump(idx.clusterRefs, was(TYPE_URL.route, name)?.references, -1);
    bump(idx.clusterRefs, rds.get(name)?.references, 1);
  }
  // listeners that stopped declaring make every route configuration's check moot; ones that
  // all started declaring need every route configuration checked: the full check then
  if (idx.undeclared === 0 && !declaredBefore) return null;
  const problems: string[] = [];
  for (const name of d.eds.changed) if (!cds.has(name)) problems.push(`endpoints ${name} are named by no cluster`);
  for (const name of d.cds.removed) if (eds.has(name)) problems.push(`endpoints ${name} are named by no cluster`);
  for (const name of d.lds.changed) {
    for (const r of lds.get(name)?.references ?? []) {
      if (!rds.has(r)) problems.push(`listener ${name} names route configuration ${r}, which is missing`);
    }
  }
  for (const r of d.rds.removed) if (idx.routeRefs.has(r)) problems.push(`a listener names route configuration ${r}, which is missing`);
  if (idx.undeclared === 0) {
    for (const r of [...d.rds.changed, ...unnamedNow]) {
      if (rds.has(r) && !idx.routeRefs.has(r)) problems.push(`route configuration ${r} is named by no listener`);
    }
  }
  for (const name of d.rds.changed) {
    for (const c of rds.get(name)?.references ?? []) {
      if (!cds.has(c)) problems.push(`route configuration ${name} names cluster ${c}, which is missing`);
    }
  }
  for (const c of d.cds.removed) if (idx.clusterRefs.has(c)) problems.push(`a route configuration names cluster ${c}, which is missing`);
  if (problems.length > 0) return problems;
  indexes.set(next, idx);
  return problems;
}

/**
 * Throws XdsSnapshotError if the snapshot is inconsistent. With `prev` (the snapshot it
 * replaces, already checked) and deltas leading from it, only what changed is checked.
 */
export function assertConsistent(s: Snapshot, prev?: Snapshot): void {
  if (prev === s && indexes.has(s)) return;
  if (prev && prev !== s) {
    const changed = changeProblems(prev, s);
    // a problem found by the deltas is reported by the full check (every problem, named)
    if (changed !== null && changed.length === 0) {
      checkStats.byDelta += 1;
      return;
    }
  }
  checkStats.full += 1;
  const problems = snapshotProblems(s);
  if (problems.length > 0) throw new XdsSnapshotError(problems);
  indexes.set(s, buildIndex(s));
}
