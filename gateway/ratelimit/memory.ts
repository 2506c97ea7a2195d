// In-process token buckets: the default when no REDIS_URL is set, and the fallback while
// Redis is unreachable. One process = one budget.
import { refillAndTake, type BucketStore, type TakeResult } from './bucket.ts';

export interface MemoryBucketStoreOptions {
  now?: () => number;
  /** Above this many buckets, idle (full again) ones are swept. */
  sweepAbove?: number;
}

export class MemoryBucketStore implements BucketStore {
  private readonly buckets = new Map<string, { tokens: number; at: number; fullAt: number }>();
  private readonly now: () => number;
  private readonly sweepAbove: number;

  constructor(options: MemoryBucketStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sweepAbove = options.sweepAbove ?? 50_000;
  }

  takeSync(key: string, capacity: number, ratePerSecond: number, cost = 1): TakeResult {
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: capacity, at: now, fullAt: now };
      this.buckets.set(key, b);
      if (this.buckets.size > this.sweepAbove) this.sweep(now);
    }
    const res = refillAndTake(b, now, capacity, ratePerSecond, cost);
    b.fullAt = now + ((capacity - b.tokens) * 1000) / ratePerSecond;
    return res;
  }

  async take(key: string, capacity: number, ratePerSecond: number, cost = 1): Promise<TakeResult> {
    return this.takeSync(key, capacity, ratePerSecond, cost);
  }

  get size(): number {
    return this.buckets.size;
  }

  // A bucket that has refilled completely is indistinguishable from a new one: forget it.
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(k);
  }
}
