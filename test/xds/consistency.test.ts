// The snapshot check: an inconsistent snapshot is refused with a coded error (and, from the
// publisher, an onError event), and the last good snapshot keeps being served.
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot } from '../../xds/cache.ts';
import { XdsSnapshotError, snapshotProblems } from '../../xds/consistency.ts';
import { createXdsControl } from '../../xds/publisher.ts';
import { translate, type EnvoyResources } from '../../xds/translate.ts';
import { SETTINGS, twoVersionModel } from './fixtures/model.ts';

const good = () => translate(twoVersionModel('wine', ['v1', 80, 7001], ['v2', 20, 7002]), SETTINGS);

describe('snapshot consistency', () => {
  it('a translated snapshot is consistent', () => {
    expect(snapshotProblems(makeSnapshot(good()))).toEqual([]);
  });

  it.each<[string, (r: EnvoyResources) => EnvoyResources, RegExp]>([
    ['endpoints no cluster names', (r) => ({ ...r, clusters: r.clusters.filter((c) => c.name !== 'sluice/wine/v2') }), /endpoints sluice\/wine\/v2 are named by no cluster/],
    ['a route configuration no listener names', (r) => ({ ...r, listeners: r.listeners.filter((l) => l.name !== 'wine.sluice') }), /route configuration wine.sluice is named by no listener/],
    ['a listener naming a missing route configuration', (r) => ({ ...r, routes: r.routes.filter((x) => x.name !== 'sluice-edge/wine') }), /listener sluice-edge names route configuration sluice-edge\/wine, which is missing/],
  ])('refuses %s and keeps the last good snapshot', (_, spoil, message) => {
    const cache = new SnapshotCache();
    const ok = makeSnapshot(good());
    cache.setSnapshot(ok);
    const bad = makeSnapshot(spoil(good()));
    let err: unknown;
    try {
      cache.setSnapshot(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XdsSnapshotError);
    expect((err as XdsSnapshotError).code).toBe('XDS_INCONSISTENT_SNAPSHOT');
    expect((err as Error).message).toMatch(message);
    expect(cache.getSnapshot('any')).toBe(ok);
  });

  it('a route naming a missing cluster is refused (clusters and endpoints both gone)', () => {
    const r = good();
    const bad = makeSnapshot({
      ...r,
      clusters: r.clusters.filter((c) => c.name !== 'sluice/wine/v1'),
      endpoints: r.endpoints.filter((c) => c.name !== 'sluice/wine/v1'),
    });
    expect(snapshotProblems(bad)).toContain('route configuration sluice-edge/wine names cluster sluice/wine/v1, which is missing');
  });

  it('the publisher reports the refusal as an event and keeps serving the last good snapshot', async () => {
    const errors: Error[] = [];
    const cache = new SnapshotCache();
    const ok = makeSnapshot(good());
    cache.setSnapshot(ok);
    // a cache that sees the snapshot spoiled on the way in: the check runs in setSnapshot
    const spoiling = Object.assign(Object.create(cache) as SnapshotCache, {
      setSnapshot(s: typeof ok) {
        const list = [...s.types[TYPE_URL.cluster].resources.values()].slice(1);
        cache.setSnapshot({ types: { ...s.types, [TYPE_URL.cluster]: makeSnapshot({ listeners: [], routes: [], clusters: list, endpoints: [] }).types[TYPE_URL.cluster] } });
      },
    });
    const control = createXdsControl({
      loadModel: async () => twoVersionModel('wine', ['v1', 50, 7001], ['v2', 50, 7002]),
      settings: SETTINGS,
      cache: spoiling,
      onError: (e) => errors.push(e),
    });
    await expect(control.rebuild()).rejects.toBeInstanceOf(XdsSnapshotError);
    expect(errors[0]).toBeInstanceOf(XdsSnapshotError);
    expect(cache.getSnapshot('any')).toBe(ok);
    await control.close();
  });
});
