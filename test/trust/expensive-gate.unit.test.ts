// The hostile client behind the /healthz figure runs several loops of the worst allowed query
// at once. The gate lets one expensive operation per caller and a few in the process run at
// a time (the rest wait in line, first come first served), and refuses a caller who already
// has too many waiting with TOO_MANY_REQUESTS.
import { describe, expect, it } from 'vitest';
import { ExpensiveGate } from '../../control/graphql/expensive-gate.ts';

const settle = () => new Promise((r) => setImmediate(r));

describe('the expensive-operation gate', () => {
  it('runs one expensive operation per caller at a time, the next when it is done', async () => {
    const gate = new ExpensiveGate({ threshold: 100, global: 2, maxWaiting: 4 });
    const first = await gate.enter('mallory');
    let secondIn = false;
    const second = gate.enter('mallory').then((release) => { secondIn = true; return release; });
    await settle();
    expect(secondIn).toBe(false);
    // another caller is not held up by mallory
    const alice = await gate.enter('alice');
    first();
    const release = await second;
    expect(secondIn).toBe(true);
    release();
    alice();
  });

  it('runs at most `global` at once in the process, in arrival order', async () => {
    const gate = new ExpensiveGate({ threshold: 100, global: 2, maxWaiting: 4 });
    const a = await gate.enter('a');
    const b = await gate.enter('b');
    const order: string[] = [];
    const c = gate.enter('c').then((r) => { order.push('c'); return r; });
    const d = gate.enter('d').then((r) => { order.push('d'); return r; });
    await settle();
    expect(order).toEqual([]);
    a();
    await settle();
    expect(order).toEqual(['c']);
    b();
    await settle();
    expect(order).toEqual(['c', 'd']);
    (await c)();
    (await d)();
    a(); // a second release is a no-op
    const e = await gate.enter('e');
    const f = await gate.enter('f');
    e();
    f();
  });

  it('refuses a caller with too many waiting, with TOO_MANY_REQUESTS', async () => {
    const gate = new ExpensiveGate({ threshold: 100, global: 1, maxWaiting: 2 });
    const running = await gate.enter('mallory');
    const waiting = [gate.enter('mallory'), gate.enter('mallory')];
    await expect(gate.enter('mallory')).rejects.toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS' } });
    running();
    (await waiting[0]!)();
    (await waiting[1]!)();
  });
});
