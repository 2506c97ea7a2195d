// Guessing passwords is slow: failed sign-ins are counted per username and per client
// address over a sliding window, and past the limit sign-in is refused (TOO_MANY_REQUESTS,
// with the seconds to wait) before any password is checked. A successful sign-in clears the
// username's count. Counts live in this process (each control-plane replica counts its own),
// bounded in memory: the oldest keys are forgotten first.
import { SluiceError } from '../../platform/errors.ts';

export interface LoginThrottleLimits {
  /** failed attempts per username within the window */
  perUser: number;
  /** failed attempts per client address within the window */
  perAddress: number;
  windowMs: number;
  /** keys remembered at most (per kind) */
  maxKeys: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = { perUser: 5, perAddress: 20, windowMs: 15 * 60_000, maxKeys: 10_000 };

class Window {
  private readonly hits = new Map<string, number[]>();
  constructor(private readonly limit: number, private readonly windowMs: number, private readonly maxKeys: number) {}

  private live(key: string, now: number): number[] {
    const kept = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (kept.length === 0) this.hits.delete(key);
    else this.hits.set(key, kept);
    return kept;
  }

  /** seconds until the key may try again; 0 when it may now */
  wait(key: string, now: number): number {
    const kept = this.live(key, now);
    if (kept.length < this.limit) return 0;
    return Math.max(1, Math.ceil((kept[kept.length - this.limit]! + this.windowMs - now) / 1000));
  }

  add(key: string, now: number): void {
    const kept = this.live(key, now);
    kept.push(now);
    this.hits.delete(key); // re-insert: Map order is age order for eviction
    this.hits.set(key, kept);
    while (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value as string);
  }

  clear(key: string): void {
    this.hits.delete(key);
  }
}

export class LoginThrottle {
  private readonly users: Window;
  private readonly addresses: Window;

  constructor(
    private readonly now: () => number = Date.now,
    limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS,
  ) {
    this.users = new Window(limits.perUser, limits.windowMs, limits.maxKeys);
    this.addresses = new Window(limits.perAddress, limits.windowMs, limits.maxKeys);
  }

  /** Throws TOO_MANY_REQUESTS while the username or the address is over its limit. */
  check(username: string, address: string | null): void {
    const at = this.now();
    const wait = Math.max(this.users.wait(username.toLowerCase(), at), address ? this.addresses.wait(address, at) : 0);
    if (wait > 0) {
      throw new SluiceError('TOO_MANY_REQUESTS', `too many failed sign-ins; try again in ${wait} s`, { retryAfterSeconds: wait });
    }
  }

  failed(username: string, address: string | null): void {
    const at = this.now();
    this.users.add(username.toLowerCase(), at);
    if (address) this.addresses.add(address, at);
  }

  succeeded(username: string): void {
    this.users.clear(username.toLowerCase());
  }
}
