// Admission at the edge beyond "reject at the limit": per version, the QUEUE throttle mode
// (a request over the QPS limit waits in a bounded FIFO queue for a token, up to the
// version's max wait, then gets 429 with Retry-After) and a cap on requests in flight
// (max concurrency; over it a request queues the same way in QUEUE mode, or gets 429 at
// once in REJECT mode). The policy comes from the PolicySource (the database in
// production): throttleMode, queueDepth, queueMaxWaitMs, maxConcurrency.
//
// One pump per version takes tokens for the queue's head, sleeping the bucket's own
// retry-after between tries, so waiting requests cost no polling of their own and are
// served in arrival order. A newcomer never jumps a non-empty queue.
import type { VersionPolicy } from '../policy/port.ts';
import type { RateLimiter } from './limiter.ts';

export type AdmissionDecision =
  | { allowed: true; /** call once the request is answered (frees its concurrency slot) */ release: () => void; queuedMs: number }
  | { allowed: false; code: 'THROTTLED' | 'CONCURRENCY_LIMIT'; message: string; retryAfterSeconds: number };

interface Waiter {
  resolve: () => void;
  reject: (reason: 'timeout') => void;
  keyId: string | null;
}

interface VersionState {
  inflight: number;
  rateQueue: Waiter[];
  slotQueue: Waiter[];
  pumping: boolean;
}

const NOOP = () => {};

export class AdmissionControl {
  private readonly states = new Map<string, VersionState>();

  constructor(private readonly limiter: RateLimiter) {}

  /** The version's policy when it asks for more than reject-at-the-limit; undefined otherwise. */
  applies(group: string, version: string): VersionPolicy | undefined {
    const p = this.limiter.policyOf(group, version);
    return p && (p.throttleMode === 'QUEUE' || isPositive(p.maxConcurrency)) ? p : undefined;
  }

  /** Requests of the version queued right now (both queues). */
  waiting(group: string, version: string): number {
    const s = this.states.get(`${group}/${version}`);
    return s ? s.rateQueue.length + s.slotQueue.length : 0;
  }

  async admit(policy: VersionPolicy, keyId: string | null): Promise<AdmissionDecision> {
    const t0 = performance.now();
    const { group, version } = policy;
    const key = `${group}/${version}`;
    let state = this.states.get(key);
    if (!state) {
      state = { inflight: 0, rateQueue: [], slotQueue: [], pumping: false };
      this.states.set(key, state);
    }
    const queueing = policy.throttleMode === 'QUEUE';
    const depth = policy.queueDepth ?? 100;
    const maxWaitMs = policy.queueMaxWaitMs ?? 1000;
    const deadline = t0 + (queueing ? maxWaitMs : 0);
    const waitSeconds = Math.max(1, Math.ceil(maxWaitMs / 1000));
    const refuse = (code: 'THROTTLED' | 'CONCURRENCY_LIMIT', message: string, retryAfterSeconds: number): AdmissionDecision => {
      this.limiter.noteThrottled(policy);
      return { allowed: false, code, message, retryAfterSeconds };
    };

    // 1. the QPS budget
    if (isPositive(policy.qpsLimit) || isPositive(policy.keyQpsLimit)) {
      if (state.rateQueue.length === 0) {
        const d = await this.limiter.check({ group, version, keyId, quiet: queueing });
        if (!d.allowed && !queueing) {
          return { allowed: false, code: 'THROTTLED', message: `rate limit of ${d.limit} requests per second exceeded`, retryAfterSeconds: d.retryAfterSeconds };
        }
        if (!d.allowed && !(await this.wait(state, state.rateQueue, depth, deadline, keyId, () => this.pump(state!, policy)))) {
          return refuse('THROTTLED', `rate limit of ${policy.qpsLimit} requests per second exceeded; the queue is full or the wait passed ${maxWaitMs} ms`, waitSeconds);
        }
      } else if (!queueing || !(await this.wait(state, state.rateQueue, depth, deadline, keyId, () => this.pump(state!, policy)))) {
        return refuse('THROTTLED', `rate limit of ${policy.qpsLimit} requests per second exceeded; the queue is full or the wait passed ${maxWaitMs} ms`, waitSeconds);
      }
    }

    // 2. the concurrency cap
    const cap = policy.maxConcurrency;
    if (isPositive(cap)) {
      if (state.inflight < cap && state.slotQueue.length === 0) state.inflight++;
      else if (!queueing || !(await this.wait(state, state.slotQueue, depth, deadline, keyId, NOOP))) {
        return refuse('CONCURRENCY_LIMIT', `version ${version} has ${cap} requests in flight, its limit`, queueing ? waitSeconds : 1);
      }
      // a slot handed over by release() was counted for us already
      let released = false;
      const s = state;
      return {
        allowed: true,
        queuedMs: performance.now() - t0,
        release: () => {
          if (released) return;
          released = true;
          const next = s.slotQueue.shift();
          if (next) next.resolve(); // the slot passes straight on: inflight stays
          else s.inflight--;
        },
      };
    }
    return { allowed: true, release: NOOP, queuedMs: performance.now() - t0 };
  }

  /** Joins a queue (if there is room) until resolved or the deadline; true when admitted. */
  private wait(state: VersionState, queue: Waiter[], depth: number, deadline: number, keyId: string | null, start: () => void): Promise<boolean> {
    if (state.rateQueue.length + state.slotQueue.length >= depth) return Promise.resolve(false);
    const left = deadline - performance.now();
    if (left <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: Waiter = {
        keyId,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
        reject: () => resolve(false),
      };
      const timer = setTimeout(() => {
        const i = queue.indexOf(w);
        if (i >= 0) queue.splice(i, 1);
        w.reject('timeout');
      }, left);
      queue.push(w);
      start();
    });
  }

  /** Takes tokens for the rate queue's head, in order, sleeping the bucket's retry-after between tries. */
  private pump(state: VersionState, policy: VersionPolicy): void {
    if (state.pumping) return;
    state.pumping = true;
    void (async () => {
      try {
        while (state.rateQueue.length > 0) {
          const head = state.rateQueue[0] as Waiter;
          const d = await this.limiter.check({ group: policy.group, version: policy.version, keyId: head.keyId, quiet: true });
          if (d.allowed) {
            // the head may have timed out while the check ran; then the token serves the next
            const i = state.rateQueue.indexOf(head);
            const w = i >= 0 ? state.rateQueue.splice(i, 1)[0] : state.rateQueue.shift();
            w?.resolve();
            continue;
          }
          await new Promise((r) => setTimeout(r, Math.max(1, d.retryAfterMs ?? 50)));
        }
      } finally {
        state.pumping = false;
      }
    })();
  }
}

const isPositive = (n: number | null | undefined): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
