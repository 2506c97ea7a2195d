// Make-before-break, per proxy: which snapshot one proxy should be served right now, given
// the snapshot it should end up on (the target) and what it has been sent and has ACKed.
//
// Envoy's ADS ordering (xDS protocol docs, "Eventual consistency considerations"): clusters
// and their endpoints first, routes that name them after, and stale clusters removed only
// once nothing the proxy holds names them. Pushing in type order is not enough: a route
// sent right after a new cluster can reach a proxy that has not warmed that cluster (a 503
// burst), and a cluster removed in the same breath as the route change can vanish while
// the proxy still routes to it. So, per proxy:
//   - a route configuration whose new version names a cluster the proxy has not ACKed
//     (with its endpoints) is held at the version the proxy was last sent;
//   - a cluster that left the target stays (at its last sent version) while any route
//     configuration the proxy was sent or has ACKed still names it.
// Holds resolve on ACKs; a proxy that NACKs keeps its last good set (its ACKed routes keep
// naming old clusters, so they stay); a proxy that never ACKs only ever holds itself back,
// and the server lifts its holds after a bound (`expired`).
//
// Only a proxy that takes clusters by wildcard (Envoy) can warm a cluster before a route
// names it; proxyless gRPC clients ask for clusters by name after they see the route, so
// their routes are never held.
import { TYPE_URL, type XdsTypeUrl } from '../proto/envoy.ts';
import { applyTypeChange, typeSnapshot, type Snapshot, type TypeSnapshot } from './cache.ts';
import type { XdsResource } from './translate.ts';

export interface ProxyProgress {
  /** per type, the (effective) set last sent to this proxy and the one it last ACKed */
  sent: Partial<Record<XdsTypeUrl, TypeSnapshot>>;
  acked: Partial<Record<XdsTypeUrl, TypeSnapshot>>;
  /** true when the proxy subscribes to clusters by wildcard (it can warm them ahead) */
  clustersByWildcard: boolean;
  /** whether the proxy subscribes to a cluster's endpoints; null when it takes no EDS */
  wantsEndpoints: ((name: string) => boolean) | null;
  /** holds have lasted past the bound: serve the target as it is */
  expired: boolean;
}

export interface Plan {
  /** what to serve this proxy now (the target itself when nothing is held) */
  snapshot: Snapshot;
  /** route configurations held back at an older version (or not sent yet) */
  heldRoutes: string[];
  /** clusters kept past their removal because a route the proxy holds names them */
  keptClusters: string[];
}

// (every stream re-plans on every change: the common "nothing held" answer allocates little)
const NOTHING: string[] = [];
Object.freeze(NOTHING);

/** Whether the proxy has ACKed cluster `c` and, when it takes EDS, its endpoints. */
function isWarm(c: string, p: ProxyProgress, clusters: ReadonlyMap<string, unknown> | undefined, endpoints: ReadonlyMap<string, unknown> | undefined): boolean {
  return clusters?.has(c) === true && (p.wantsEndpoints === null || (p.wantsEndpoints(c) && endpoints?.has(c) === true));
}

/** Whether every cluster `r` names is warm. */
function allWarm(r: XdsResource, p: ProxyProgress, clusters: ReadonlyMap<string, unknown> | undefined, endpoints: ReadonlyMap<string, unknown> | undefined): boolean {
  for (const c of r.references ?? NOTHING) if (!isWarm(c, p, clusters, endpoints)) return false;
  return true;
}

/** The snapshot to serve one proxy now; pure. */
export function plan(target: Snapshot, p: ProxyProgress): Plan {
  if (p.expired) return { snapshot: target, heldRoutes: NOTHING, keptClusters: NOTHING };
  const routes = holdRoutes(target, p);
  const kept = keepClusters(target, p, routes.types);
  if (routes.held.length === 0 && kept.names.length === 0) return { snapshot: target, heldRoutes: NOTHING, keptClusters: NOTHING };
  return {
    snapshot: {
      types: {
        ...target.types,
        [TYPE_URL.route]: routes.types,
        [TYPE_URL.cluster]: kept.clusters,
        [TYPE_URL.endpoint]: kept.endpoints,
      },
    },
    heldRoutes: routes.held,
    keptClusters: kept.names,
  };
}

function holdRoutes(target: Snapshot, p: ProxyProgress): { types: TypeSnapshot; held: string[] } {
  const rds = target.types[TYPE_URL.route];
  if (!p.clustersByWildcard) return { types: rds, held: NOTHING };
  const ackedClusters = p.acked[TYPE_URL.cluster]?.resources;
  const ackedEndpoints = p.acked[TYPE_URL.endpoint]?.resources;
  const sentSet = p.sent[TYPE_URL.route];
  const sent = sentSet?.resources;
  if (sentSet?.version === rds.version) return { types: rds, held: NOTHING };
  // built from what this proxy was sent: only the changed ones can need holding
  const fromSent = sentSet !== undefined && rds.delta?.from === sentSet.version;
  const held: string[] = [];
  if (fromSent) {
    const back: XdsResource[] = [];
    const drop: string[] = [];
    for (const name of rds.delta!.changed) {
      const r = rds.resources.get(name)!;
      if (allWarm(r, p, ackedClusters, ackedEndpoints)) continue;
      held.push(name);
      const prev = sent!.get(name);
      if (prev) back.push(prev);
      else drop.push(name);
    }
    return held.length === 0 ? { types: rds, held: NOTHING } : { types: applyTypeChange(rds, back, drop), held: held.sort() };
  }
  const out: XdsResource[] = [];
  for (const [name, r] of rds.resources) {
    const prev = sent?.get(name);
    if ((prev && prev.hash === r.hash) || allWarm(r, p, ackedClusters, ackedEndpoints)) {
      out.push(r);
      continue;
    }
    held.push(name);
    if (prev) out.push(prev);
  }
  return held.length === 0 ? { types: rds, held: NOTHING } : { types: typeSnapshot(out), held };
}

function keepClusters(
  target: Snapshot,
  p: ProxyProgress,
  routes: TypeSnapshot,
): { clusters: TypeSnapshot; endpoints: TypeSnapshot; names: string[] } {
  const cds = target.types[TYPE_URL.cluster];
  const eds = target.types[TYPE_URL.endpoint];
  const sentClusters = p.sent[TYPE_URL.cluster];
  const none = { clusters: cds, endpoints: eds, names: NOTHING };
  if (!sentClusters || sentClusters.version === cds.version) return none;
  const removed = new Set<string>();
  if (cds.delta?.from === sentClusters.version) {
    for (const name of cds.delta.removed) removed.add(name);
  } else {
    for (const name of sentClusters.resources.keys()) if (!cds.resources.has(name)) removed.add(name);
  }
  if (removed.size === 0) return none;
  // every route configuration the proxy may be using: about to be served, sent, ACKed
  const named = new Set<string>();
  for (const set of [routes, p.sent[TYPE_URL.route], p.acked[TYPE_URL.route]]) {
    if (!set) continue;
    for (const r of set.resources.values()) for (const c of r.references ?? []) if (removed.has(c)) named.add(c);
  }
  if (named.size === 0) return none;
  const names = [...named].sort();
  const sentEndpoints = p.sent[TYPE_URL.endpoint]?.resources;
  const keptEndpoints = names.flatMap((n) => {
    const e = sentEndpoints?.get(n);
    return e && !eds.resources.has(n) ? [e] : [];
  });
  return {
    clusters: typeSnapshot([...cds.resources.values(), ...names.map((n) => sentClusters.resources.get(n)!)]),
    endpoints: keptEndpoints.length === 0 ? eds : typeSnapshot([...eds.resources.values(), ...keptEndpoints]),
    names,
  };
}
