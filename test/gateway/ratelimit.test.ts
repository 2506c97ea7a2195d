// Rate limiting: token-bucket arithmetic, the limiter's per-version and per-key limits and
// its throttle counter, ~10 allowed per second at 50 rps for a QPS-10 version (in-process,
// and across two limiter instances sharing the real Redis), fail-open when Redis goes away
// (through a TCP proxy the test can cut) and comes back, and the Envoy ShouldRateLimit adapter.
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refillAndTake } from '../../gateway/ratelimit/bucket.ts';
import { FailOpenBucketStore, type RateLimitStoreEvent } from '../../gateway/ratelimit/failopen.ts';
import { RateLimiter } from '../../gateway/ratelimit/limiter.ts';
import { MemoryBucketStore } from '../../gateway/ratelimit/memory.ts';
import { RedisBucketStore } from '../../gateway/ratelimit/redis.ts';
import { createRateLimiter } from '../../gateway/ratelimit/index.ts';
import { testRedisUrl } from '../fixtures/services.ts';
import { demoPolicies, shouldRateLimit, sleep, startTestGateway, version, type TestGateway } from './helpers.ts';

const REDIS_URL = testRedisUrl();

/** Fires `rps` checks per second for `seconds`, round-robin over the limiters; counts allowed. */
async function drive(limiters: RateLimiter[], group: string, ver: string, rps: number, seconds: number) {
  let allowed = 0;
  let refused = 0;
  const total = rps * seconds;
  const start = Date.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rps;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const limiter = limiters[i % limiters.length] as RateLimiter;
    pending.push(
      limiter.check({ group, version: ver }).then((d) => {
        if (d.allowed) allowed++;
        else {
          refused++;
          expect(d.retryAfterSeconds).toBeGreaterThanOrEqual(1);
        }
      }),
    );
  }
  await Promise.all(pending);
  return { allowed, refused, elapsed: (Date.now() - start) / 1000 };
}

describe('token bucket', () => {
  it('starts full, refills continuously, and says when the next token comes', () => {
    const s = { tokens: 10, at: 0 };
    for (let i = 0; i < 10; i++) expect(refillAndTake(s, 0, 10, 10, 1).allowed).toBe(true);
    const r = refillAndTake(s, 0, 10, 10, 1);
    expect(r).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100 });
    expect(refillAndTake(s, 50, 10, 10, 1).allowed).toBe(false);
    expect(refillAndTake(s, 100, 10, 10, 1).allowed).toBe(true);
    // never above capacity, however long idle
    refillAndTake(s, 1_000_000, 10, 10, 0);
    expect(s.tokens).toBe(10);
    // a lowered limit applies at once
    expect(refillAndTake(s, 1_000_000, 3, 3, 1).remaining).toBe(2);
  });

  it('memory store: QPS 10 at 50 rps allows the burst then 10 per second (fake clock)', async () => {
    let t = 0;
    const store = new MemoryBucketStore({ now: () => t });
    let allowed = 0;
    for (let i = 0; i < 50 * 5; i++) {
      t = i * 20;
      if ((await store.take('k', 10, 10)).allowed) allowed++;
    }
    // 10 at start + 10/s for the 4.98 s that follow
    expect(allowed).toBeGreaterThanOrEqual(58);
    expect(allowed).toBeLessThanOrEqual(60);
  });

  it('memory store forgets refilled buckets when it grows', async () => {
    let t = 0;
    const store = new MemoryBucketStore({ now: () => t, sweepAbove: 100 });
    for (let i = 0; i < 100; i++) await store.take(`k${i}`, 1, 1);
    t = 5000;
    await store.take('new', 1, 1);
    expect(store.size).toBeLessThan(5);
  });
});

describe('RateLimiter', () => {
  it('limits per version and per key, passes unlimited versions, counts throttled requests', async () => {
    const policies = demoPolicies();
    policies.setVersion(version('wine-quality', 'v2', { qpsLimit: 100, keyQpsLimit: 2 }));
    const registry = new Registry();
    const t = 0;
    const limiter = new RateLimiter({ policies, store: new MemoryBucketStore({ now: () => t }), registry });
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await limiter.check({ group: 'wine-quality', version: 'v1' }));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results[11]).toEqual({ allowed: false, scope: 'version', limit: 10, remaining: 0, retryAfterSeconds: 1, retryAfterMs: 100 });
    // per key: key a gets 2, key b its own 2
    const a = [1, 2, 3].map(() => limiter.check({ group: 'wine-quality', version: 'v2', keyId: 'a' }));
    const ra = await Promise.all(a);
    expect(ra.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(ra[2]?.scope).toBe('key');
    expect((await limiter.check({ group: 'wine-quality', version: 'v2', keyId: 'b' })).allowed).toBe(true);
    // no limit configured
    for (let i = 0; i < 50; i++) expect((await limiter.check({ group: 'open', version: 'v1' })).allowed).toBe(true);
    expect(await limiter.check({ group: 'ghost', version: 'v1' })).toMatchObject({ allowed: true, scope: 'none' });
    const metric = await registry.getSingleMetric('sluice_throttled_total')?.get();
    const byVersion = Object.fromEntries((metric?.values ?? []).map((v) => [`${v.labels.group}/${v.labels.version}`, v.value]));
    expect(byVersion).toEqual({ 'wine-quality/v1': 2, 'wine-quality/v2': 1 });
    // a second limiter on the same registry shares the counter
    expect(() => new RateLimiter({ policies, store: new MemoryBucketStore(), registry })).not.toThrow();
  });

  it('decides at once with the in-process store, taking exactly the tokens check() takes; with a shared store it waits', async () => {
    const policies = demoPolicies();
    policies.setVersion(version('wine-quality', 'v2', { qpsLimit: 100, keyQpsLimit: 2 }));
    const t = 0;
    const limiter = new RateLimiter({ policies, store: new MemoryBucketStore({ now: () => t }), registry: new Registry() });
    const decisions = [];
    // decide() and check() alternate on one bucket: one budget of 10, in call order
    for (let i = 0; i < 6; i++) {
      const now = limiter.decide({ group: 'wine-quality', version: 'v1' });
      expect(now).not.toBeInstanceOf(Promise);
      decisions.push(now, await limiter.check({ group: 'wine-quality', version: 'v1' }));
    }
    expect(decisions.map((d) => ('allowed' in d ? d.allowed : null))).toEqual([...Array<boolean>(10).fill(true), false, false]);
    expect(decisions[11]).toEqual({ allowed: false, scope: 'version', limit: 10, remaining: 0, retryAfterSeconds: 1, retryAfterMs: 100 });
    // per key, then unlimited and unknown versions, all at once
    expect([1, 2, 3].map(() => limiter.decide({ group: 'wine-quality', version: 'v2', keyId: 'a' }))).toMatchObject([{ allowed: true }, { allowed: true }, { allowed: false, scope: 'key' }]);
    expect(limiter.decide({ group: 'open', version: 'v1' })).toMatchObject({ allowed: true, scope: 'none' });
    expect(limiter.decide({ group: 'ghost', version: 'v1' })).toMatchObject({ allowed: true, scope: 'none' });
    // a store without a synchronous take (Redis, fail-open) is waited for
    const memory = new MemoryBucketStore({ now: () => t });
    const shared = new RateLimiter({ policies, store: { take: (...args: Parameters<MemoryBucketStore['take']>) => memory.take(...args) } });
    const waited = shared.decide({ group: 'wine-quality', version: 'v1' });
    expect(waited).toBeInstanceOf(Promise);
    expect(await waited).toMatchObject({ allowed: true, scope: 'version', remaining: 9 });
  });

  it('in-process: QPS 10 under 50 rps for 3 s allows about 10 per second (real time)', async () => {
    const limiter = new RateLimiter({ policies: demoPolicies(), store: new MemoryBucketStore() });
    const { allowed, elapsed } = await drive([limiter], 'wine-quality', 'v1', 50, 3);
    const expected = 10 + 10 * elapsed;
    expect(allowed).toBeGreaterThanOrEqual(Math.floor(expected) - 6);
    expect(allowed).toBeLessThanOrEqual(Math.ceil(expected) + 1);
  });
});

describe('Redis store', () => {
  const prefix = `sluice:test:${randomBytes(4).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  afterAll(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  it('two limiter instances sharing Redis hold one budget: ~10 per second at 50 rps', async () => {
    const policies = demoPolicies();
    const a = new RateLimiter({ policies, store: new RedisBucketStore(REDIS_URL, { keyPrefix: prefix }) });
    const b = new RateLimiter({ policies, store: new RedisBucketStore(REDIS_URL, { keyPrefix: prefix }) });
    try {
      const { allowed, elapsed } = await drive([a, b], 'wine-quality', 'v1', 50, 3);
      const expected = 10 + 10 * elapsed;
      expect(allowed).toBeGreaterThanOrEqual(Math.floor(expected) - 6);
      expect(allowed).toBeLessThanOrEqual(Math.ceil(expected) + 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('expires idle buckets and survives a script flush', async () => {
    const store = new RedisBucketStore(REDIS_URL, { keyPrefix: prefix });
    try {
      await store.take('ttl', 5, 5);
      const ttl = await admin.pttl(`${prefix}ttl`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2000);
      await admin.script('FLUSH');
      expect((await store.take('ttl', 5, 5)).allowed).toBe(true); // NOSCRIPT → EVAL
    } finally {
      await store.close();
    }
  });
});

describe('fail open', () => {
  // A TCP proxy in front of Redis that the test can cut and restore.
  let proxy: Server | undefined;
  let proxyPort = 0;
  const sockets = new Set<Socket>();
  const target = new URL(REDIS_URL);
  const openProxy = () =>
    new Promise<void>((resolve) => {
      proxy = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop);
        upstream.on('error', drop);
        client.on('close', () => sockets.delete(client));
        upstream.on('close', () => sockets.delete(upstream));
      });
      proxy.listen(proxyPort, '127.0.0.1', () => {
        proxyPort = (proxy?.address() as AddressInfo).port;
        resolve();
      });
    });
  const cutProxy = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => proxy?.close(r));
    proxy = undefined;
  };
  beforeAll(openProxy);
  afterAll(async () => {
    if (proxy) await cutProxy();
  });

  it('limits locally and emits events when Redis is unreachable, and goes back when it returns', async () => {
    const events: RateLimitStoreEvent[] = [];
    const policies = demoPolicies();
    const limiter = createRateLimiter({
      policies,
      redisUrl: `redis://127.0.0.1:${proxyPort}`,
      redisKeyPrefix: `sluice:test:${randomBytes(4).toString('hex')}:`,
      onStoreEvent: (e) => events.push(e),
    });
    // through Redis
    expect((await limiter.check({ group: 'wine-quality', version: 'v1' })).allowed).toBe(true);
    expect(events).toEqual([]);
    await cutProxy();
    // Redis gone: still limited (locally), never unlimited, never an exception
    const results = [];
    for (let i = 0; i < 15; i++) results.push(await limiter.check({ group: 'wine-quality', version: 'v1' }));
    expect(results.filter((r) => r.allowed).length).toBe(10);
    expect(events.map((e) => e.type)).toEqual(['RATE_LIMIT_STORE_UNAVAILABLE']);
    expect(events[0]?.level).toBe('WARNING');
    await openProxy();
    // after the probe interval and ioredis' reconnect, Redis is used again
    const deadline = Date.now() + 10_000;
    while (events.length < 2 && Date.now() < deadline) {
      await limiter.check({ group: 'wine-quality', version: 'v1' });
      await sleep(200);
    }
    expect(events.map((e) => e.type)).toEqual(['RATE_LIMIT_STORE_UNAVAILABLE', 'RATE_LIMIT_STORE_RECOVERED']);
    await limiter.close();
  });

  it('falls back at once when Redis was never there', async () => {
    const events: RateLimitStoreEvent[] = [];
    const store = new FailOpenBucketStore({
      primary: new RedisBucketStore('redis://127.0.0.1:1'),
      fallback: new MemoryBucketStore(),
      onEvent: (e) => events.push(e),
    });
    const started = Date.now();
    const r = await store.take('x', 2, 2);
    expect(r.allowed).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(events.map((e) => e.type)).toEqual(['RATE_LIMIT_STORE_UNAVAILABLE']);
    await store.close();
  });
});

describe('Envoy RateLimitService/ShouldRateLimit over gRPC', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const policies = demoPolicies();
    policies.setVersion(version('wine-quality', 'v2', { qpsLimit: 1000, keyQpsLimit: 1 }));
    // A frozen clock: no refill between calls, however slow the machine.
    gw = await startTestGateway(policies, { limiterNow: () => 1_000_000 });
  });
  afterAll(async () => {
    await gw.close();
  });

  const req = (entries: Record<string, string>) => ({
    domain: 'sluice',
    descriptors: [{ entries: Object.entries(entries).map(([key, value]) => ({ key, value })) }],
  });

  it('answers OK with the limit, then OVER_LIMIT with retry-after and a JSON body', async () => {
    const results = [];
    for (let i = 0; i < 11; i++) results.push(await shouldRateLimit(gw.clients, req({ group: 'wine-quality', version: 'v1' })));
    const first = results[0];
    expect(first?.overall_code).toBe('OK');
    expect(first?.statuses?.[0]?.code).toBe('OK');
    expect(first?.statuses?.[0]?.current_limit).toEqual({ requests_per_unit: 10, unit: 'SECOND' });
    expect(first?.statuses?.[0]?.limit_remaining).toBe(9);
    expect(first?.response_headers_to_add ?? []).toEqual([]);
    const over = results[10];
    expect(over?.overall_code).toBe('OVER_LIMIT');
    expect(over?.statuses?.[0]?.code).toBe('OVER_LIMIT');
    expect(over?.statuses?.[0]?.duration_until_reset?.seconds).toBe('1');
    const headers = Object.fromEntries((over?.response_headers_to_add ?? []).map((h) => [h.key, h.value]));
    expect(headers['retry-after']).toBe('1');
    expect(JSON.parse(over?.raw_body?.toString() ?? '{}').error_code).toBe('REQUEST_LIMIT_EXCEEDED');
  });

  it('applies per-key limits from the key entry, and passes descriptors that are not Sluice’s', async () => {
    const k1 = await shouldRateLimit(gw.clients, req({ group: 'wine-quality', version: 'v2', key: 'key-9' }));
    const k2 = await shouldRateLimit(gw.clients, req({ group: 'wine-quality', version: 'v2', key: 'key-9' }));
    expect([k1.overall_code, k2.overall_code]).toEqual(['OK', 'OVER_LIMIT']);
    expect((await shouldRateLimit(gw.clients, req({ group: 'wine-quality', version: 'v2', key: 'key-8' }))).overall_code).toBe('OK');
    const foreign = await shouldRateLimit(gw.clients, req({ generic_key: 'x' }));
    expect(foreign.overall_code).toBe('OK');
    expect((foreign.statuses ?? []).map((s) => s.code)).toEqual(['OK']);
    const empty = await shouldRateLimit(gw.clients, { domain: 'sluice' });
    expect(empty.overall_code).toBe('OK');
  });

  it('reads the version from the cluster Envoy picked on the default weighted route', async () => {
    const policies = demoPolicies();
    policies.setVersion(version('weighted', 'v1', { qpsLimit: 1 }));
    const gw2 = await startTestGateway(policies, { limiterNow: () => 1_000_000 });
    try {
      const viaCluster = req({ group: 'weighted', destination_cluster: 'sluice/weighted/v1' });
      const first = await shouldRateLimit(gw2.clients, viaCluster);
      const second = await shouldRateLimit(gw2.clients, viaCluster);
      expect([first.overall_code, second.overall_code]).toEqual(['OK', 'OVER_LIMIT']);
    } finally {
      await gw2.close();
    }
  });

  it('decides descriptors of one version together: a version and a key descriptor spend one token', async () => {
    const policies = demoPolicies();
    policies.setVersion(version('solo', 'v1', { qpsLimit: 2 }));
    const gw2 = await startTestGateway(policies, { limiterNow: () => 1_000_000 });
    try {
      const both = {
        domain: 'sluice',
        descriptors: [
          { entries: [{ key: 'group', value: 'solo' }, { key: 'version', value: 'v1' }] },
          { entries: [{ key: 'group', value: 'solo' }, { key: 'version', value: 'v1' }, { key: 'key', value: 'k' }] },
          { entries: [{ key: 'remote_address', value: '10.0.0.1' }] },
        ],
      };
      const r1 = await shouldRateLimit(gw2.clients, both);
      const r2 = await shouldRateLimit(gw2.clients, both);
      const r3 = await shouldRateLimit(gw2.clients, both);
      expect([r1.overall_code, r2.overall_code, r3.overall_code]).toEqual(['OK', 'OK', 'OVER_LIMIT']);
      expect((r3.statuses ?? []).map((s) => s.code)).toEqual(['OVER_LIMIT', 'OVER_LIMIT', 'OK']);
    } finally {
      await gw2.close();
    }
  });
});
