// The behaviour every PubSub implementation must share, run against the in-process and
// the Redis implementations alike.

import { describe, expect, it } from 'vitest';
import type { LocalPubSub, PubSubOptions } from '../../platform/pubsub/memory.ts';
import type { Subscription } from '../../platform/pubsub/subscription.ts';

export type Factory = (options?: PubSubOptions) => Promise<LocalPubSub>;

/** Reads `n` payloads, failing (not hanging) after `ms`. */
export async function take<T>(sub: AsyncIterator<T>, n: number, ms = 5_000): Promise<T[]> {
  const out: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${out.length}/${n} payloads`)), ms);
  });
  try {
    while (out.length < n) {
      const r = await Promise.race([sub.next(), timeout]);
      if (r.done) throw new Error(`iterator ended after ${out.length}/${n} payloads`);
      out.push(r.value);
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with true if nothing arrives within `ms` (the pending next() is left to the caller's return()). */
export async function nothingWithin(sub: AsyncIterator<unknown>, ms: number): Promise<boolean> {
  const next = sub.next().then(
    (r) => r.done === true,
    () => true,
  );
  const quiet = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), ms));
  return Promise.race([next, quiet]);
}

export function pubSubContract(name: string, factory: Factory, settleMs: number): void {
  describe(`${name}: PubSub contract`, () => {
    it('delivers in publish order per topic, and only the subscribed topic', async () => {
      const ps = await factory();
      try {
        const a = ps.subscribe<{ i: number }>('orders');
        const b = ps.subscribe<{ i: number }>('other');
        await Promise.all([a.ready, b.ready]);
        await Promise.all(Array.from({ length: 200 }, (_, i) => ps.publish('orders', { i })));
        await ps.publish('other', { i: -1 });
        expect((await take(a, 200)).map((p) => p.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
        expect(await take(b, 1)).toEqual([{ i: -1 }]);
        expect(await nothingWithin(a, settleMs)).toBe(true);
        await a.return?.();
        await b.return?.();
      } finally {
        await ps.close();
      }
    });

    it('fans out to many subscribers of one topic', async () => {
      const ps = await factory();
      try {
        const subs = Array.from({ length: 50 }, () => ps.subscribe<string>('fan'));
        await Promise.all(subs.map((s) => s.ready));
        expect(ps.subscriberCount('fan')).toBe(50);
        await ps.publish('fan', 'one');
        await ps.publish('fan', 'two');
        for (const s of subs) expect(await take(s, 2)).toEqual(['one', 'two']);
      } finally {
        await ps.close();
      }
    });

    it('does not deliver what was published before subscribe', async () => {
      const ps = await factory();
      try {
        await ps.publish('late', 'before');
        const s = ps.subscribe<string>('late');
        await s.ready;
        await ps.publish('late', 'after');
        expect(await take(s, 1)).toEqual(['after']);
      } finally {
        await ps.close();
      }
    });

    it('unsubscribes on return(), ending a pending next(), and on break from for-await', async () => {
      const ps = await factory();
      try {
        const keep = ps.subscribe<number>('t');
        const leave = ps.subscribe<number>('t');
        await Promise.all([keep.ready, leave.ready]);
        const pending = leave.next();
        await leave.return?.();
        await expect(pending).resolves.toEqual({ value: undefined, done: true });
        expect(ps.subscriberCount('t')).toBe(1);
        await ps.publish('t', 1);
        expect(await take(keep, 1)).toEqual([1]);
        await expect(leave.next()).resolves.toMatchObject({ done: true });

        const looped = ps.subscribe<number>('loop');
        await looped.ready;
        const consumer = (async () => {
          for await (const v of looped) if (v === 2) break;
        })();
        await ps.publish('loop', 1);
        await ps.publish('loop', 2);
        await consumer;
        expect(ps.subscriberCount('loop')).toBe(0);
        await keep.return?.();
        expect(ps.subscriberCount()).toBe(0);
        // Re-subscribing after the last one left works (Redis: UNSUBSCRIBE then SUBSCRIBE).
        const again = ps.subscribe<number>('t');
        await again.ready;
        await ps.publish('t', 3);
        expect(await take(again, 1)).toEqual([3]);
      } finally {
        await ps.close();
      }
    });

    it('drops the oldest payloads for a lagging subscriber and counts them', async () => {
      const drops: Array<[string, number]> = [];
      const ps = await factory({ bufferSize: 3, onDrop: (topic, total) => drops.push([topic, total]) });
      try {
        const slow: Subscription<number> = ps.subscribe<number>('lag');
        const fast = ps.subscribe<number>('lag');
        await Promise.all([slow.ready, fast.ready]);
        const seen: number[] = [];
        const reading = (async () => {
          for await (const v of fast) {
            seen.push(v);
            if (seen.length === 6) break;
          }
        })();
        for (let i = 1; i <= 6; i++) await ps.publish('lag', i);
        await reading;
        expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
        expect(slow.dropped).toBe(3);
        expect(drops).toEqual([['lag', 1], ['lag', 2], ['lag', 3]]);
        expect(await take(slow, 3)).toEqual([4, 5, 6]);
      } finally {
        await ps.close();
      }
    });

    it('carries payloads as JSON and refuses what JSON cannot carry', async () => {
      const ps = await factory();
      try {
        const s = ps.subscribe('json');
        await s.ready;
        await ps.publish('json', { at: new Date(0), n: null, list: [1, 'a'], nested: { ok: true } });
        expect(await take(s, 1)).toEqual([{ at: '1970-01-01T00:00:00.000Z', n: null, list: [1, 'a'], nested: { ok: true } }]);
        const cyclic: Record<string, unknown> = {};
        cyclic['self'] = cyclic;
        await expect(ps.publish('json', cyclic)).rejects.toMatchObject({ code: 'INTERNAL', reason: 'NOT_SERIALIZABLE' });
        await expect(ps.publish('json', 10n)).rejects.toMatchObject({ reason: 'NOT_SERIALIZABLE' });
        await expect(ps.publish('json', undefined)).rejects.toMatchObject({ reason: 'NOT_SERIALIZABLE' });
      } finally {
        await ps.close();
      }
    });

    it('close() ends every subscription; publish and subscribe after it are typed errors', async () => {
      const ps = await factory();
      const s = ps.subscribe('bye');
      await s.ready;
      const pending = s.next();
      await ps.close();
      await expect(pending).resolves.toEqual({ value: undefined, done: true });
      await expect(ps.publish('bye', 1)).rejects.toMatchObject({ name: 'PubSubError', code: 'INTERNAL', reason: 'CLOSED' });
      expect(() => ps.subscribe('bye')).toThrow(/closed/);
      await ps.close();
    });
  });
}
