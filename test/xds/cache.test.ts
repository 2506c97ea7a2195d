// Snapshot cache: shared snapshot, per-node overrides, watchers, per-type versions.
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot, snapshotVersions } from '../../xds/cache.ts';
import { translate } from '../../xds/translate.ts';
import { SETTINGS, twoVersionModel } from './fixtures/model.ts';

const snap = (w1: number, w2: number) =>
  makeSnapshot(translate(twoVersionModel('g', ['a', w1, 7001], ['b', w2, 7002]), SETTINGS));

describe('SnapshotCache', () => {
  it('serves the shared snapshot to every node and notifies watchers', () => {
    const cache = new SnapshotCache();
    expect(cache.getSnapshot('n1')).toBeUndefined();
    const seen: string[] = [];
    const stop = cache.watch('n1', (s) => seen.push(s.types[TYPE_URL.route].version));
    cache.watch('n2', (s) => seen.push(`n2:${s.types[TYPE_URL.route].version}`));
    const s1 = snap(80, 20);
    cache.setSnapshot(s1);
    expect(cache.getSnapshot('n1')).toBe(s1);
    expect(cache.getSnapshot('anyone')).toBe(s1);
    expect(seen).toHaveLength(2);
    stop();
    cache.setSnapshot(snap(50, 50));
    expect(seen).toHaveLength(3);
    expect(cache.watcherCount).toBe(1);
  });

  it('a node override wins until cleared, and shared changes skip the overridden node', () => {
    const cache = new SnapshotCache();
    const shared = snap(80, 20);
    const canary = snap(0, 100);
    cache.setSnapshot(shared);
    const got: unknown[] = [];
    cache.watch('canary', (s) => got.push(s));
    cache.setSnapshot(canary, 'canary');
    expect(cache.getSnapshot('canary')).toBe(canary);
    expect(cache.getSnapshot('other')).toBe(shared);
    cache.setSnapshot(snap(70, 30));
    expect(got).toEqual([canary]);
    cache.clearNodeSnapshot('canary');
    expect(got).toHaveLength(2);
    expect(cache.getSnapshot('canary')).not.toBe(canary);
  });

  it('a throwing watcher does not stop the others', () => {
    const cache = new SnapshotCache();
    let ok = 0;
    cache.watch('n', () => {
      throw new Error('boom');
    });
    cache.watch('n', () => ok++);
    cache.setSnapshot(snap(1, 1));
    expect(ok).toBe(1);
  });

  it('versions are per type and content-derived', () => {
    const a = snapshotVersions(snap(80, 20));
    const b = snapshotVersions(snap(80, 20));
    const c = snapshotVersions(snap(50, 50));
    expect(a).toEqual(b);
    expect(c[TYPE_URL.route]).not.toBe(a[TYPE_URL.route]);
    expect(c[TYPE_URL.cluster]).toBe(a[TYPE_URL.cluster]);
    expect(c[TYPE_URL.endpoint]).toBe(a[TYPE_URL.endpoint]);
    expect(c[TYPE_URL.listener]).toBe(a[TYPE_URL.listener]);
  });

  it('refuses resources filed under the wrong type', () => {
    const r = translate(twoVersionModel('g', ['a', 1, 7001], ['b', 1, 7002]), SETTINGS);
    expect(() => makeSnapshot({ ...r, routes: r.clusters })).toThrow(/has type/);
  });
});
