import { describe, expect, it } from 'vitest';
import { createMemoryPubSub } from '../../platform/pubsub/memory.ts';
import { openPubSub } from '../../platform/pubsub/index.ts';
import { pubSubContract, take } from './contract.ts';

pubSubContract('in-process', async (options) => createMemoryPubSub(options), 20);

describe('in-process specifics', () => {
  it('queues into every mailbox before publish resolves', async () => {
    const ps = createMemoryPubSub();
    const s = ps.subscribe<number>('x');
    void ps.publish('x', 1);
    // Synchronously queued: available without waiting for any timer.
    await expect(s.next()).resolves.toEqual({ value: 1, done: false });
    await ps.close();
  });

  it('rejects a second next() while one is pending instead of losing a waiter', async () => {
    const ps = createMemoryPubSub();
    const s = ps.subscribe<number>('x');
    const first = s.next();
    await expect(s.next()).rejects.toThrow(/pending/);
    await ps.publish('x', 7);
    await expect(first).resolves.toEqual({ value: 7, done: false });
    await ps.close();
  });

  it('openPubSub without a URL is in-process', async () => {
    const ps = await openPubSub(undefined, { bufferSize: 2 });
    const s = ps.subscribe<number>('y');
    for (const i of [1, 2, 3]) await ps.publish('y', i);
    expect(s.dropped).toBe(1);
    expect(await take(s, 2)).toEqual([2, 3]);
    await ps.close();
    const blank = await openPubSub('  ');
    await blank.close();
  });
});
