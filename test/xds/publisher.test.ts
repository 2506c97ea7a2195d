// The control loop: debounced rebuilds, failure keeps the last snapshot, close stops it.
import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../proto/envoy.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { SETTINGS, twoVersionModel } from './fixtures/model.ts';

const controls: XdsControl[] = [];
afterEach(async () => {
  for (const c of controls.splice(0)) await c.close();
});

function setup(load: () => Promise<DataPlaneModel>, debounceMs = 30, maxDelayMs = 1000) {
  const errors: Error[] = [];
  const c = createXdsControl({ loadModel: load, settings: SETTINGS, debounceMs, maxDelayMs, onError: (e) => errors.push(e) });
  controls.push(c);
  return { c, errors };
}

const m = (w: number) => twoVersionModel('g', ['a', w, 7001], ['b', 100 - w, 7002]);

describe('createXdsControl', () => {
  it('turns a burst of triggers into one rebuild', async () => {
    let loads = 0;
    const { c } = setup(async () => {
      loads++;
      return m(50);
    });
    for (let i = 0; i < 25; i++) c.trigger();
    await c.settled();
    expect(loads).toBe(1);
    // the snapshot served is the one built from that one load
    const expected = createXdsControl({ loadModel: async () => m(50), settings: SETTINGS });
    controls.push(expected);
    await expected.rebuild();
    expect(c.current!.types[TYPE_URL.route].version).toBe(expected.current!.types[TYPE_URL.route].version);
  });

  it('an urgent trigger (a replica gone) does not wait for the quiet time, and takes the pending ones along', async () => {
    let loads = 0;
    const { c } = setup(async () => {
      loads++;
      return m(50);
    }, 60_000);
    await c.rebuild();
    const before = loads;
    c.trigger();
    c.trigger({ urgent: true });
    const t0 = Date.now();
    await c.settled();
    // a minute of debounce would have held it; one rebuild for both triggers
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(loads - before).toBe(1);
    // a plain trigger right after an urgent one does not put it back to the quiet time
    c.trigger({ urgent: true });
    c.trigger();
    const t1 = Date.now();
    await c.settled();
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(loads - before).toBe(2);
  });

  it('a trigger during a rebuild causes exactly one more, with the newer model', async () => {
    let w = 10;
    let loads = 0;
    let release: (() => void) | undefined;
    const { c } = setup(async () => {
      loads++;
      const now = w;
      if (loads === 1) await new Promise<void>((r) => (release = r));
      return m(now);
    }, 5);
    c.trigger();
    while (!release) await new Promise((r) => setTimeout(r, 5));
    w = 90;
    c.trigger();
    c.trigger();
    await new Promise((r) => setTimeout(r, 30));
    release();
    await c.settled();
    await c.settled();
    expect(loads).toBe(2);
    const expected = createXdsControl({ loadModel: async () => m(90), settings: SETTINGS });
    controls.push(expected);
    await expected.rebuild();
    expect(c.current!.types[TYPE_URL.route].version).toBe(expected.current!.types[TYPE_URL.route].version);
  });

  it('keeps triggering from postponing a rebuild past maxDelayMs', async () => {
    let loads = 0;
    const { c } = setup(
      async () => {
        loads++;
        return m(50);
      },
      40,
      100,
    );
    const end = Date.now() + 400;
    while (Date.now() < end) {
      c.trigger();
      await new Promise((r) => setTimeout(r, 10));
    }
    await c.settled();
    expect(loads).toBeGreaterThanOrEqual(2);
  });

  it('a failing load or a bad model keeps the last good snapshot and reports the error', async () => {
    let mode: 'ok' | 'throw' | 'bad' = 'ok';
    const { c, errors } = setup(async () => {
      if (mode === 'throw') throw new Error('db down');
      if (mode === 'bad') return { groups: [{ groupId: 'x', name: 'Not A Label', versions: [] }] };
      return m(30);
    });
    const good = await c.rebuild();
    mode = 'throw';
    c.trigger();
    await c.settled();
    expect(c.current).toBe(good);
    expect(c.lastError?.message).toBe('db down');
    mode = 'bad';
    await expect(c.rebuild()).rejects.toMatchObject({ code: 'XDS_BAD_MODEL' });
    expect(c.current).toBe(good);
    expect(c.cache.getSnapshot('any')).toBe(good);
    expect(errors).toHaveLength(2);
    mode = 'ok';
    await c.rebuild();
    expect(c.lastError).toBeNull();
  });

  it('start refuses to serve without a first snapshot; close is idempotent', async () => {
    const { c } = setup(async () => {
      throw new Error('no db');
    });
    await expect(c.start(0, '127.0.0.1')).rejects.toThrow('no db');
    await c.close();
    await c.close();
    c.trigger();
    await c.settled();
  });
});
