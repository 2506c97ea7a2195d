import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPubSub } from '../../platform/pubsub/index.ts';
import { createRedisPubSub, redactRedisUrl, type RedisPubSubOptions } from '../../platform/pubsub/redis.ts';
import { nothingWithin, pubSubContract, take } from './contract.ts';
import { testRedisUrl } from '../fixtures/services.ts';

const REDIS_URL = testRedisUrl();
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

// A fresh channel prefix per suite: other suites (and other engineers' runs) share this Redis.
const prefix = `test:${randomUUID()}:`;
const open = (options: RedisPubSubOptions = {}) => createRedisPubSub(REDIS_URL, { channelPrefix: prefix, ...options });

let admin: Redis;
beforeAll(() => {
  admin = new Redis(REDIS_URL);
});
afterAll(async () => {
  await admin.quit();
});

pubSubContract('redis', (options) => open(options), 100);

function runChild(args: string[], timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures/publish-child.ts'), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child publisher timed out'));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

describe('redis: across processes and instances', () => {
  it('a publish from another process reaches a subscriber in this one, in order', async () => {
    const ps = await open();
    try {
      const s = ps.subscribe<{ i: number; pid: number }>('from-child');
      await s.ready;
      expect(await runChild([REDIS_URL, prefix, 'from-child', '20'])).toBe(0);
      const got = await take(s, 20, 10_000);
      expect(got.map((p) => p.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(new Set(got.map((p) => p.pid)).size).toBe(1);
      expect(got[0]!.pid).not.toBe(process.pid);
    } finally {
      await ps.close();
    }
  });

  it('two instances in one process see each other\'s messages', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    try {
      const onA = a.subscribe<string>('shared');
      const onB = b.subscribe<string>('shared');
      await Promise.all([onA.ready, onB.ready]);
      await a.publish('shared', 'from-a');
      await b.publish('shared', 'from-b');
      expect(await take(onA, 2)).toEqual(['from-a', 'from-b']);
      expect(await take(onB, 2)).toEqual(['from-a', 'from-b']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('multiplexes every topic over one subscriber connection and unsubscribes idle topics', async () => {
    const ps = await open({ connectionName: `mux-${randomUUID().slice(0, 8)}` });
    try {
      const subs = ['t1', 't2', 't3'].map((t) => ps.subscribe(t));
      await Promise.all(subs.map((s) => s.ready));
      const channels = (await admin.pubsub('CHANNELS', `${prefix}t*`)) as string[];
      expect(channels.sort()).toEqual([`${prefix}t1`, `${prefix}t2`, `${prefix}t3`]);
      const numsub = (await admin.pubsub('NUMSUB', `${prefix}t1`)) as [string, number];
      expect(numsub[1]).toBe(1);
      for (const s of subs) await s.return?.();
      // UNSUBSCRIBE is sent without waiting; give Redis a moment to apply it.
      let left: string[] = [];
      for (let i = 0; i < 50; i++) {
        left = (await admin.pubsub('CHANNELS', `${prefix}t*`)) as string[];
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(left).toEqual([]);
    } finally {
      await ps.close();
    }
  });

  it('reconnects and re-subscribes after the subscriber connection is killed', async () => {
    const name = `reconnect-${randomUUID().slice(0, 8)}`;
    let reconnects = 0;
    const errors: Error[] = [];
    const ps = await open({ connectionName: name, onReconnect: () => (reconnects += 1), onError: (e) => errors.push(e) });
    try {
      const s = ps.subscribe<number>('survive');
      await s.ready;
      const list = (await admin.client('LIST')) as string;
      const line = list.split('\n').find((l) => l.includes(`name=${name}-sub`));
      expect(line).toMatch(/\bid=\d+\b/);
      const id = /id=(\d+)/.exec(line!)![1]!;
      await admin.client('KILL', 'ID', id);
      for (let i = 0; i < 100 && reconnects === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(reconnects).toBe(1);
      // Re-subscription happens on reconnect; wait until Redis lists our channel again.
      for (let i = 0; i < 100; i++) {
        const [, n] = (await admin.pubsub('NUMSUB', `${prefix}survive`)) as [string, number];
        if (n === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await ps.publish('survive', 42);
      expect(await take(s, 1)).toEqual([42]);
    } finally {
      await ps.close();
    }
  });

  it('ignores messages that are not JSON and keeps delivering', async () => {
    const errors: Error[] = [];
    const ps = await open({ onError: (e) => errors.push(e) });
    try {
      const s = ps.subscribe<number>('raw');
      await s.ready;
      await admin.publish(`${prefix}raw`, 'not json {');
      await ps.publish('raw', 5);
      expect(await take(s, 1)).toEqual([5]);
      expect(errors.map((e) => e.message).join()).toMatch(/non-JSON/);
      expect(await nothingWithin(s, 50)).toBe(true);
    } finally {
      await ps.close();
    }
  });

  it('fails fast with a typed error when Redis cannot be reached, and checks the URL', async () => {
    await expect(createRedisPubSub('redis://127.0.0.1:1', { connectTimeoutMs: 2_000 })).rejects.toMatchObject({
      name: 'PubSubError',
      reason: 'UNAVAILABLE',
    });
    await expect(createRedisPubSub('http://127.0.0.1:6379')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(createRedisPubSub('not a url')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(redactRedisUrl('redis://user:s3cret@host:6379/0')).toBe('redis://user:***@host:6379/0');
  });

  it('openPubSub(url) is Redis-backed', async () => {
    const a = await openPubSub(REDIS_URL, { channelPrefix: prefix });
    const b = await createRedisPubSub(REDIS_URL, { channelPrefix: prefix });
    try {
      const s = b.subscribe<string>('via-open');
      await s.ready;
      await a.publish('via-open', 'hello');
      expect(await take(s, 1)).toEqual(['hello']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/** A TCP relay in front of Redis that the test can cut and restore, to play an outage. */
async function startRelay(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  let server: import('node:net').Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as import('node:net').AddressInfo).port;
        resolve();
      });
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });
  await listen();
  return { port, cut, restore: listen, close: cut };
}

describe('redis: outage', () => {
  it('publish fails with UNAVAILABLE (no hang) while Redis is away, and delivery resumes after', async () => {
    const relay = await startRelay(new URL(REDIS_URL));
    let reconnects = 0;
    const ps = await createRedisPubSub(`redis://127.0.0.1:${relay.port}`, {
      channelPrefix: prefix,
      onReconnect: () => (reconnects += 1),
      onError: () => undefined,
    });
    const direct = await open();
    try {
      const s = ps.subscribe<string>('outage');
      await s.ready;
      await relay.cut();
      // Concurrent publishes during the outage all fail, none is delivered later.
      const failed = await Promise.allSettled(Array.from({ length: 20 }, () => ps.publish('outage', 'lost')));
      expect(failed.every((r) => r.status === 'rejected' && (r.reason as { reason?: string }).reason === 'UNAVAILABLE')).toBe(true);
      // A subscribe during the outage must not make later publishes hang either.
      const during = ps.subscribe<string>('outage-2');
      await expect(ps.publish('outage', 'lost')).rejects.toMatchObject({ reason: 'UNAVAILABLE' });
      await relay.restore();
      for (let i = 0; i < 200 && reconnects === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(reconnects).toBeGreaterThanOrEqual(1);
      await during.ready;
      for (let i = 0; i < 100; i++) {
        const [, n] = (await admin.pubsub('NUMSUB', `${prefix}outage`)) as [string, number];
        if (n === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await direct.publish('outage', 'back');
      await direct.publish('outage-2', 'also');
      expect(await take(s, 1)).toEqual(['back']);
      expect(await take(during, 1)).toEqual(['also']);
    } finally {
      await Promise.all([ps.close(), direct.close()]);
      await relay.close();
    }
  });
});
