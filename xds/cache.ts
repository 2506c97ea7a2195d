// The versioned snapshot cache: the resources each proxy should have, by node id.
//
// One shared snapshot serves every node unless a node has an override of its own
// (canarying a config on one proxy). Versions are per type and derived from content,
// so an endpoint-only change bumps the EDS version alone and the server resends
// nothing else. Watchers hear of every change that affects their node.
//
// A snapshot can be built from the previous one and what changed (`applyChanges`): the
// types that did not change are the same objects, a changed type carries its `delta` (the
// version it was built from, the names set and removed), and its version is an additive
// set hash updated by the changed resources alone. The streams use the delta to serve a
// change in O(what changed) (ordering.ts, ads/), the consistency check to check it so.
import { TYPE_URL, type XdsTypeUrl } from '../proto/envoy.ts';
import type { EnvoyResources, XdsResource } from './translate.ts';
import { assertConsistent } from './consistency.ts';

export interface TypeSnapshot {
  /** content-derived version of this type's whole set */
  version: string;
  /** by resource name, in name order */
  resources: ReadonlyMap<string, XdsResource>;
  /** how this set differs from the one it was built from (absent: built from scratch) */
  delta?: TypeDelta;
}

/** What changed from the set of version `from` to this one. */
export interface TypeDelta {
  from: string;
  /** names added or whose resource changed (content hash) */
  changed: readonly string[];
  /** names no longer in the set */
  removed: readonly string[];
}

/** Per type: resources to add or replace, and names to remove. */
export type SnapshotChange = Partial<Record<XdsTypeUrl, { set: readonly XdsResource[]; removed: readonly string[] }>>;

// The version of a set: two 32-bit lanes, each the sum (mod 2^32) of a hash of every
// (name, content hash) pair. Order-independent and updatable per element: adding a
// resource adds its term, removing one subtracts it, so a change of k resources costs k
// terms whichever way the snapshot was built (the same set always gets the same version).
interface SetHash {
  a: number;
  b: number;
}
const setHashes = new WeakMap<TypeSnapshot, SetHash>();

function term(r: XdsResource): SetHash {
  // FNV-1a over name \0 hash, two lanes with different offsets, then a murmur3 finalizer
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const s = r.name;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193 + 0x2000);
  }
  a = Math.imul(a ^ 0, 0x01000193);
  b = Math.imul(b ^ 0, 0x01000193 + 0x2000);
  const h = r.hash;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193 + 0x2000);
  }
  return { a: fmix(a), b: fmix(b ^ 0x9e3779b9) };
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const versionOf = (h: SetHash, size: number) => `${hex8(h.a)}${hex8(h.b ^ size)}`;

function setHashOf(t: TypeSnapshot): SetHash {
  let h = setHashes.get(t);
  if (!h) {
    h = { a: 0, b: 0 };
    for (const r of t.resources.values()) {
      const x = term(r);
      h.a = (h.a + x.a) >>> 0;
      h.b = (h.b + x.b) >>> 0;
    }
    setHashes.set(t, h);
  }
  return h;
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
  const sorted = [...list].sort(byName);
  const map = new Map<string, XdsResource>();
  const h: SetHash = { a: 0, b: 0 };
  for (const r of sorted) {
    if (map.has(r.name)) throw new Error(`resource ${r.name} appears twice in ${r.typeUrl}`);
    map.set(r.name, r);
    const x = term(r);
    h.a = (h.a + x.a) >>> 0;
    h.b = (h.b + x.b) >>> 0;
  }
  const t: TypeSnapshot = { version: versionOf(h, map.size), resources: map };
  setHashes.set(t, h);
  return t;
}

const byName = (a: XdsResource, b: XdsResource) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Resources added, replaced or removed by `applyTypeChange` so far (tests count a change's cost by it). */
export const changeStats = { applied: 0 };

/**
 * `prev` with `set` added or replaced and `removed` gone: the same object when nothing
 * actually changed, else a new set with its `delta` from `prev`. The version is updated by
 * the changed resources' terms alone; the map is copied (a flat copy, no hashing, no
 * re-sort unless a name is new).
 */
export function applyTypeChange(prev: TypeSnapshot, set: readonly XdsResource[], removed: readonly string[]): TypeSnapshot {
  const changed: XdsResource[] = [];
  const gone: string[] = [];
  const seen = new Set<string>();
  for (const r of set) {
    if (seen.has(r.name)) throw new Error(`resource ${r.name} appears twice in ${r.typeUrl}`);
    seen.add(r.name);
    if (prev.resources.get(r.name)?.hash !== r.hash) changed.push(r);
  }
  for (const n of removed) if (!seen.has(n) && prev.resources.has(n)) gone.push(n);
  if (changed.length === 0 && gone.length === 0) return prev;
  changeStats.applied += changed.length + gone.length;
  const h = { ...setHashOf(prev) };
  const map = new Map(prev.resources);
  let added = false;
  for (const r of changed) {
    const old = map.get(r.name);
    if (old) {
      const x = term(old);
      h.a = (h.a - x.a) >>> 0;
      h.b = (h.b - x.b) >>> 0;
    } else {
      added = true;
    }
    const x = term(r);
    h.a = (h.a + x.a) >>> 0;
    h.b = (h.b + x.b) >>> 0;
    map.set(r.name, r);
  }
  for (const n of gone) {
    const x = term(map.get(n)!);
    h.a = (h.a - x.a) >>> 0;
    h.b = (h.b - x.b) >>> 0;
    map.delete(n);
  }
  // a new name goes in its place: the set stays in name order
  const resources = added ? new Map([...map.values()].sort(byName).map((r) => [r.name, r] as const)) : map;
  const t: TypeSnapshot = {
    version: versionOf(h, resources.size),
    resources,
    delta: { from: prev.version, changed: changed.map((r) => r.name), removed: gone },
  };
  setHashes.set(t, h);
  return t;
}

/** The snapshot after `change`: unchanged types are `prev`'s own objects. */
export function applyChanges(prev: Snapshot, change: SnapshotChange): Snapshot {
  const types = { ...prev.types };
  for (const url of PUSH_ORDER) {
    const c = change[url];
    if (!c) continue;
    for (const r of c.set) {
      if (r.typeUrl !== url || r.resource.type_url !== url) throw new Error(`resource ${r.name} of ${url} has type ${r.resource.type_url}`);
    }
    types[url] = applyTypeChange(prev.types[url], c.set, c.removed);
  }
  return { types };
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
    // checked against the snapshot it replaces: by its deltas when it was built from it
    assertConsistent(snapshot, nodeId === undefined ? this.shared : (this.perNode.get(nodeId) ?? this.shared));
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
