// Rate limiting for /predict: the limiter, its stores, and the Envoy adapter, plus the one
// constructor the lead wires from REDIS_URL.
import type { Registry } from 'prom-client';
import type { PolicySource } from '../policy/port.ts';
import type { BucketStore } from './bucket.ts';
import { FailOpenBucketStore, type RateLimitStoreEvent } from './failopen.ts';
import { RateLimiter } from './limiter.ts';
import { MemoryBucketStore } from './memory.ts';
import { RedisBucketStore } from './redis.ts';

export interface CreateRateLimiterOptions {
  policies: PolicySource;
  /** Set: buckets shared through Redis (falling back to local buckets while it is down). */
  redisUrl?: string | undefined;
  /** Prefix of the Redis bucket keys (default `sluice:rl:`); replicas sharing a budget must agree. */
  redisKeyPrefix?: string;
  registry?: Registry;
  onStoreEvent?: (event: RateLimitStoreEvent) => void;
}

export function createRateLimiter(options: CreateRateLimiterOptions): RateLimiter {
  const local = new MemoryBucketStore();
  const store: BucketStore = options.redisUrl
    ? new FailOpenBucketStore({ primary: new RedisBucketStore(options.redisUrl, { keyPrefix: options.redisKeyPrefix }), fallback: local, onEvent: options.onStoreEvent })
    : local;
  return new RateLimiter({ policies: options.policies, store, registry: options.registry });
}

export type { BucketStore, TakeResult } from './bucket.ts';
export { FailOpenBucketStore, type RateLimitStoreEvent } from './failopen.ts';
export { RateLimiter, type RateDecision, type RateLimitInput } from './limiter.ts';
export { MemoryBucketStore } from './memory.ts';
export { RedisBucketStore, redisFailFastOptions } from './redis.ts';
export { createRateLimitService, shouldRateLimit } from './service.ts';
