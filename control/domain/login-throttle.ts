// Guessing passwords is slow: failed sign-ins are counted per username and per client
// address over a sliding window, and past the limit sign-in is refused (TOO_MANY_REQUESTS,
// with the seconds to wait) before any password is checked. A successful sign-in clears the
// username's count. Counts live where the LoginCounters put them: this process's memory, or
// Redis when REDIS_URL is set (shared by every control-plane process; control/auth/login-counters.ts).
import { SluiceError } from '../../platform/errors.ts';
import { MemoryLoginCounters, type LoginCounters } from '../auth/login-counters.ts';

export interface LoginThrottleLimits {
  /** failed attempts per username within the window */
  perUser: number;
  /** failed attempts per client address within the window */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = { perUser: 5, perAddress: 20, windowMs: 15 * 60_000 };

export class LoginThrottle {
  constructor(
    private readonly counters: LoginCounters = new MemoryLoginCounters(),
    private readonly limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS,
  ) {}

  /** Throws TOO_MANY_REQUESTS while the username or the address is over its limit. */
  async check(username: string, address: string | null): Promise<void> {
    const { perUser, perAddress, windowMs } = this.limits;
    const [user, addr] = await Promise.all([
      this.counters.wait('user', username.toLowerCase(), perUser, windowMs),
      address ? this.counters.wait('address', address, perAddress, windowMs) : 0,
    ]);
    const wait = Math.max(user, addr);
    if (wait > 0) {
      throw new SluiceError('TOO_MANY_REQUESTS', `too many failed sign-ins; try again in ${wait} s`, { retryAfterSeconds: wait });
    }
  }

  async failed(username: string, address: string | null): Promise<void> {
    await Promise.all([
      this.counters.add('user', username.toLowerCase(), this.limits.windowMs),
      address ? this.counters.add('address', address, this.limits.windowMs) : undefined,
    ]);
  }

  async succeeded(username: string): Promise<void> {
    await this.counters.clear('user', username.toLowerCase());
  }
}
