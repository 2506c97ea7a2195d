// The versioned snapshot cache: the resources each proxy should have, by node id.
//
// One shared snapshot serves every node unless a node has an override of its own
// (canarying a config on one proxy). Versions are per type and derived from content,
// so an endpoint-only change bumps the EDS version alone and the server resends
// nothing else. Watchers hear of every change that affects their node.
import { createHash } from 'node:crypto';
import { TYPE_URL, type XdsTypeUrl } from '../proto/envoy.ts';
import type { EnvoyResources, XdsResource } from './translate.ts';
import { assertConsistent } from './consistency.ts';

export interface TypeSnapshot {
  /** content-derived version of this type's whole set */
  version: string;
  /** by resource name, in name order */
  resources: ReadonlyMap<string, XdsResource>;
}

export interface Snapshot {
  types: Readonly<Record<XdsTypeUrl, TypeSnapshot>>;
}

/**
 * The order a change is pushed in: clusters first, then their endpoints (so clusters
 * warm), then listeners, then the routes that name the clusters (Envoy's documented
 * make-before-break order for ADS).
 */
export const PUSH_ORDER: readonly XdsTypeUrl[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];

/** A type's snapshot from its resources (any order); the version is derived from content. */
export function typeSnapshot(list: readonly XdsResource[]): TypeSnapshot {
  const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const map = new Map<string, XdsResource>();
  const h = createHash('sha256');
  for (const r of sorted) {
    if (map.has(r.name)) throw new Error(`resource ${r.name} appears twice in ${r.typeUrl}`);
    map.set(r.name, r);
    h.update(r.name).update('\0').update(r.hash).update('\n');
  }
  return { version: h.digest('hex').slice(0, 16), resources: map };
}

/** A snapshot from translated resources (or from any hand-built resources, in tests). */
export function makeSnapshot(resources: EnvoyResources): Snapshot {
  for (const [key, url] of [
    ['listeners', TYPE_URL.listener],
    ['routes', TYPE_URL.route],
    ['clusters', TYPE_URL.cluster],
    ['endpoints', TYPE_URL.endpoint],
  ] as const) {
    for (const r of resources[key]) {
      if (r.typeUrl !== url || r.resource.type_url !== url) {
        throw new Error(`resource ${r.name} in ${key} has type ${r.resource.type_url}`);
      }
    }
  }
  return {
    types: {
      [TYPE_URL.listener]: typeSnapshot(resources.listeners),
      [TYPE_URL.route]: typeSnapshot(resources.routes),
      [TYPE_URL.cluster]: typeSnapshot(resources.clusters),
      [TYPE_URL.endpoint]: typeSnapshot(resources.endpoints),
    },
  };
}

export const snapshotVersions = (s: Snapshot): Record<XdsTypeUrl, string> => ({
  [TYPE_URL.listener]: s.types[TYPE_URL.listener].version,
  [TYPE_URL.route]: s.types[TYPE_URL.route].version,
  [TYPE_URL.cluster]: s.types[TYPE_URL.cluster].version,
  [TYPE_URL.endpoint]: s.types[TYPE_URL.endpoint].version,
});

export type SnapshotWatcher = (snapshot: Snapshot) => void;

export class SnapshotCache {
  private shared: Snapshot | undefined;
  private readonly perNode = new Map<string, Snapshot>();
  private readonly watchers = new Map<string, Set<SnapshotWatcher>>();

  /**
   * Sets the shared snapshot, or one node's override when `nodeId` is given. An
   * inconsistent snapshot is refused (throws XdsSnapshotError) and the last good one stays.
   */
  setSnapshot(snapshot: Snapshot, nodeId?: string): void {
    assertConsistent(snapshot);
    if (nodeId === undefined) {
      this.shared = snapshot;
      for (const [node, set] of this.watchers) {
        if (!this.perNode.has(node)) this.notify(set, snapshot);
      }
    } else {
      this.perNode.set(nodeId, snapshot);
      const set = this.watchers.get(nodeId);
      if (set) this.notify(set, snapshot);
    }
  }

  /** Drops a node's override; the node goes back to the shared snapshot. */
  clearNodeSnapshot(nodeId: string): void {
    if (!this.perNode.delete(nodeId)) return;
    const set = this.watchers.get(nodeId);
    if (set && this.shared) this.notify(set, this.shared);
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.perNode.get(nodeId) ?? this.shared;
  }

  /** Calls `fn` with the node's snapshot on every change; returns the unsubscribe. */
  watch(nodeId: string, fn: SnapshotWatcher): () => void {
    let set = this.watchers.get(nodeId);
    if (!set) {
      set = new Set();
      this.watchers.set(nodeId, set);
    }
    set.add(fn);
    return () => {
      const s = this.watchers.get(nodeId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.watchers.delete(nodeId);
    };
  }

  get watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  private notify(set: Set<SnapshotWatcher>, snapshot: Snapshot): void {
    // a watcher that throws must not starve the others of the update
    for (const fn of [...set]) {
      try {
        fn(snapshot);
      } catch {
        /* the server's watcher logs its own failures */
      }
    }
  }
}
