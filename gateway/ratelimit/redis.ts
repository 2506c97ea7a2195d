// Token buckets in Redis, so every gateway replica draws from one budget. Refill and take
// run in one Lua script (atomic on the server), timed by Redis' own clock so replicas with
// skewed clocks still agree.
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { BucketStore, TakeResult } from './bucket.ts';

const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
  at = now
end
if tokens > capacity then tokens = capacity end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.3f', at))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {allowed, string.format('%.6f', tokens), retry}
`;
const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

export interface RedisBucketStoreOptions {
  /** Prefix of every bucket key. */
  keyPrefix?: string;
}

export class RedisBucketStore implements BucketStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly owned: boolean;

  /** Pass a URL (the store owns and closes the connection) or an existing client. */
  constructor(redis: string | Redis, options: RedisBucketStoreOptions = {}) {
    this.owned = typeof redis === 'string';
    this.redis = typeof redis === 'string' ? new Redis(redis, redisFailFastOptions()) : redis;
    this.prefix = options.keyPrefix ?? 'sluice:rl:';
    if (this.owned) {
      // Errors surface through take() (and the fail-open event); no unhandled-error noise.
      this.redis.on('error', () => {});
    }
    // Offline commands fail at once (no queue), so the very first takes wait for the first
    // connection instead of reporting an outage that never happened.
    this.firstReady =
      this.redis.status === 'ready'
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            timer.unref();
            this.redis.once('ready', () => {
              clearTimeout(timer);
              resolve();
            });
          });
  }

  private readonly firstReady: Promise<void>;
  private everReady = false;

  async take(key: string, capacity: number, ratePerSecond: number, cost = 1): Promise<TakeResult> {
    if (!this.everReady) {
      await this.firstReady;
      this.everReady = true;
    }
    const k = this.prefix + key;
    const args = [String(capacity), String(ratePerSecond), String(cost)];
    let reply: unknown;
    try {
      reply = await this.redis.evalsha(TAKE_SHA, 1, k, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      reply = await this.redis.eval(TAKE_SCRIPT, 1, k, ...args);
    }
    if (!Array.isArray(reply) || reply.length !== 3) throw new Error('unexpected reply from the rate-limit script');
    const [allowed, remaining, retry] = reply as [number, string, number];
    return { allowed: allowed === 1, remaining: Number(remaining), retryAfterMs: Number(retry) };
  }

  async close(): Promise<void> {
    if (this.owned) this.redis.disconnect();
  }
}

/**
 * Connection settings for a rate-limit client: never queue commands while disconnected and
 * time out quickly, so a dead Redis costs a request milliseconds (then the fail-open path)
 * rather than a hang.
 */
export function redisFailFastOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 200,
    connectTimeout: 1000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
}
