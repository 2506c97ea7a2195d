// Keeps rate limiting alive when the shared store (Redis) is unreachable: requests are then
// limited by a local bucket in this process (fail open, not unlimited), and the owner is told
// through onEvent so the control plane can record an Event. While the shared store is down
// each replica enforces the full limit on its own, so the fleet's total can reach
// replicas × qps; that is the trade for not turning a Redis outage into a /predict outage.
import type { BucketStore, TakeResult } from './bucket.ts';

export type RateLimitStoreEvent =
  | { type: 'RATE_LIMIT_STORE_UNAVAILABLE'; level: 'WARNING'; message: string; at: Date }
  | { type: 'RATE_LIMIT_STORE_RECOVERED'; level: 'NORMAL'; message: string; at: Date };

export interface FailOpenOptions {
  primary: BucketStore;
  fallback: BucketStore;
  onEvent?: (event: RateLimitStoreEvent) => void;
  /** After a failure, go straight to the fallback for this long before trying the primary again. */
  retryPrimaryAfterMs?: number;
  now?: () => number;
}

export class FailOpenBucketStore implements BucketStore {
  private readonly opts: FailOpenOptions;
  private readonly now: () => number;
  private downSince: number | null = null;
  private nextProbe = 0;

  constructor(options: FailOpenOptions) {
    this.opts = options;
    this.now = options.now ?? Date.now;
  }

  get degraded(): boolean {
    return this.downSince !== null;
  }

  async take(key: string, capacity: number, ratePerSecond: number, cost = 1): Promise<TakeResult> {
    const now = this.now();
    if (this.downSince !== null && now < this.nextProbe) {
      return this.opts.fallback.take(key, capacity, ratePerSecond, cost);
    }
    try {
      const res = await this.opts.primary.take(key, capacity, ratePerSecond, cost);
      if (this.downSince !== null) {
        const secs = ((this.now() - this.downSince) / 1000).toFixed(1);
        this.downSince = null;
        this.emit({ type: 'RATE_LIMIT_STORE_RECOVERED', level: 'NORMAL', message: `shared rate-limit store is back after ${secs}s; limits are fleet-wide again`, at: new Date() });
      }
      return res;
    } catch (err) {
      if (this.downSince === null) {
        this.downSince = now;
        this.emit({
          type: 'RATE_LIMIT_STORE_UNAVAILABLE',
          level: 'WARNING',
          message: `shared rate-limit store unreachable (${(err as Error).message}); limiting per gateway process until it returns`,
          at: new Date(),
        });
      }
      this.nextProbe = now + (this.opts.retryPrimaryAfterMs ?? 1000);
      return this.opts.fallback.take(key, capacity, ratePerSecond, cost);
    }
  }

  private emit(event: RateLimitStoreEvent): void {
    try {
      this.opts.onEvent?.(event);
    } catch {
      // A broken listener must not break rate limiting.
    }
  }

  async close(): Promise<void> {
    await this.opts.primary.close?.();
    await this.opts.fallback.close?.();
  }
}
