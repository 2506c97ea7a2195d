// Where the login throttle keeps its failed-attempt counts: in this process (one control
// plane) or in Redis (REDIS_URL set: every control-plane process shares one count per
// username and per address, so running more replicas does not multiply a guesser's tries).
// Each count is a sliding window of attempt times. In Redis a window is a sorted set timed by
// Redis' own clock, updated by one Lua script per call; when Redis cannot be reached the
// counts fall back to this process's memory (fail to local, never unlimited) and the outage
// is reported once through onEvent.
import { Redis } from 'ioredis';
import { redisFailFastOptions } from '../../gateway/ratelimit/redis.ts';

export type CounterKind = 'user' | 'address';

export interface LoginCounters {
  /** Seconds until `key` may try again: 0 while under `limit` failures in the window. */
  wait(kind: CounterKind, key: string, limit: number, windowMs: number): Promise<number>;
  /** Counts one failure. */
  add(kind: CounterKind, key: string, windowMs: number): Promise<void>;
  clear(kind: CounterKind, key: string): Promise<void>;
  close?(): Promise<void>;
}

/** Counts in this process, bounded: the oldest keys are forgotten first. */
export class MemoryLoginCounters implements LoginCounters {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 20_000,
  ) {}

  private live(id: string, windowMs: number, at: number): number[] {
    const kept = (this.hits.get(id) ?? []).filter((t) => at - t < windowMs);
    if (kept.length === 0) this.hits.delete(id);
    else this.hits.set(id, kept);
    return kept;
  }

  async wait(kind: CounterKind, key: string, limit: number, windowMs: number): Promise<number> {
    const at = this.now();
    const kept = this.live(`${kind}:${key}`, windowMs, at);
    if (kept.length < limit) return 0;
    return Math.max(1, Math.ceil((kept[kept.length - limit]! + windowMs - at) / 1000));
  }

  async add(kind: CounterKind, key: string, windowMs: number): Promise<void> {
    const id = `${kind}:${key}`;
    const at = this.now();
    const kept = this.live(id, windowMs, at);
    kept.push(at);
    this.hits.delete(id); // re-insert: Map order is age order for eviction
    this.hits.set(id, kept);
    while (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value as string);
  }

  async clear(kind: CounterKind, key: string): Promise<void> {
    this.hits.delete(`${kind}:${key}`);
  }
}

// KEYS[1] the window; ARGV: limit, windowMs. Returns the seconds to wait (0: may try).
const WAIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
local wait = math.ceil((tonumber(oldest[2]) + window - now) / 1000)
if wait < 1 then wait = 1 end
return wait
`;
// KEYS[1] the window; ARGV: windowMs, a unique member. Adds one attempt at Redis' time.
const ADD_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
`;

export interface LoginCounterEvent {
  type: 'LOGIN_THROTTLE_STORE_UNAVAILABLE' | 'LOGIN_THROTTLE_STORE_RECOVERED';
  message: string;
}

export interface RedisLoginCountersOptions {
  keyPrefix?: string;
  /** counts kept while Redis is down (default: in memory) */
  fallback?: LoginCounters;
  onEvent?: (event: LoginCounterEvent) => void;
}

/** Counts in Redis, shared by every control-plane process; in memory while Redis is down. */
export class RedisLoginCounters implements LoginCounters {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly fallback: LoginCounters;
  private seq = 0;
  private down = false;

  constructor(url: string, private readonly options: RedisLoginCountersOptions = {}) {
    this.redis = new Redis(url, redisFailFastOptions());
    // failures surface through the calls (and the event)
    this.redis.on('error', () => {});
    this.prefix = options.keyPrefix ?? 'sluice:login:';
    this.fallback = options.fallback ?? new MemoryLoginCounters();
  }

  private id(kind: CounterKind, key: string): string {
    return `${this.prefix}${kind}:${key}`;
  }

  private async run<T>(shared: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      const out = await shared();
      if (this.down) {
        this.down = false;
        this.options.onEvent?.({ type: 'LOGIN_THROTTLE_STORE_RECOVERED', message: 'Redis is back: login attempts are counted across control planes again' });
      }
      return out;
    } catch (err) {
      if (!this.down) {
        this.down = true;
        this.options.onEvent?.({ type: 'LOGIN_THROTTLE_STORE_UNAVAILABLE', message: `Redis unreachable (${(err as Error).message}): login attempts counted in this process only` });
      }
      return local();
    }
  }

  wait(kind: CounterKind, key: string, limit: number, windowMs: number): Promise<number> {
    return this.run(
      async () => Number(await this.redis.eval(WAIT_SCRIPT, 1, this.id(kind, key), limit, windowMs)),
      () => this.fallback.wait(kind, key, limit, windowMs),
    );
  }

  async add(kind: CounterKind, key: string, windowMs: number): Promise<void> {
    // counted locally too, so an outage starts from what this process saw
    await this.fallback.add(kind, key, windowMs);
    const member = `${process.pid}-${Date.now()}-${this.seq++}`;
    await this.run(
      async () => void (await this.redis.eval(ADD_SCRIPT, 1, this.id(kind, key), windowMs, member)),
      async () => undefined,
    );
  }

  async clear(kind: CounterKind, key: string): Promise<void> {
    await this.fallback.clear(kind, key);
    await this.run(
      async () => void (await this.redis.del(this.id(kind, key))),
      async () => undefined,
    );
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
