// The token-bucket store port: take `cost` tokens from the bucket named `key` (capacity
// tokens, refilled continuously at `ratePerSecond`), atomically. Implementations: in-process
// (memory.ts) and Redis (redis.ts); failopen.ts puts a local fallback behind a shared one.

export interface TakeResult {
  allowed: boolean;
  /** Tokens left after this take (fractional). */
  remaining: number;
  /** When not allowed: milliseconds until `cost` tokens will be there. 0 when allowed. */
  retryAfterMs: number;
}

export interface BucketStore {
  take(key: string, capacity: number, ratePerSecond: number, cost?: number): Promise<TakeResult>;
  /** The same take answered at once, for a store that holds its buckets in this process (memory.ts). */
  takeSync?(key: string, capacity: number, ratePerSecond: number, cost?: number): TakeResult;
  close?(): Promise<void>;
}

/** The refill-and-take arithmetic, shared by the in-process store (Redis runs the same in Lua). */
export function refillAndTake(
  state: { tokens: number; at: number },
  now: number,
  capacity: number,
  ratePerSecond: number,
  cost: number,
): TakeResult {
  if (now > state.at) {
    state.tokens = Math.min(capacity, state.tokens + ((now - state.at) * ratePerSecond) / 1000);
    state.at = now;
  }
  // A lowered limit applies at once.
  if (state.tokens > capacity) state.tokens = capacity;
  if (state.tokens >= cost) {
    state.tokens -= cost;
    return { allowed: true, remaining: state.tokens, retryAfterMs: 0 };
  }
  return { allowed: false, remaining: state.tokens, retryAfterMs: Math.ceil(((cost - state.tokens) * 1000) / ratePerSecond) };
}
