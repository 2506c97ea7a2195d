// Per-version QPS throttling (and optional per-API-key limits) as token buckets:
// capacity = qps, refilled at qps per second, so a burst of up to one second's budget passes
// and the long-run rate is the limit. Counts what it throttles in sluice_throttled_total.
import { Counter, type Registry } from 'prom-client';
import type { PolicySource, VersionPolicy } from '../policy/port.ts';
import type { BucketStore, TakeResult } from './bucket.ts';

export interface RateLimitInput {
  group: string;
  version: string;
  /** The caller's API key id, for per-key limits; null/undefined for JWTs and anonymous. */
  keyId?: string | null | undefined;
  /** Requests this call counts for (Envoy's hits_addend); default 1. */
  cost?: number;
  /** A queued request trying again (admission.ts): a refusal is not counted as a throttle. */
  quiet?: boolean;
}

export interface RateDecision {
  allowed: boolean;
  /** Which limit decided: the version's, the key's, or none applies. */
  scope: 'version' | 'key' | 'none';
  /** Requests per second of the deciding limit; null when unlimited. */
  limit: number | null;
  /** Whole tokens left in the deciding bucket. */
  remaining: number;
  /** For `Retry-After` when throttled (at least 1); 0 when allowed. */
  retryAfterSeconds: number;
  /** When throttled: ms until the deciding bucket has a token again (what a queue waits); 0 when allowed. */
  retryAfterMs?: number;
}

export interface RateLimiterOptions {
  policies: PolicySource;
  store: BucketStore;
  /** Registry for sluice_throttled_total{group,version}; omitted = not exported. */
  registry?: Registry;
}

const UNLIMITED: RateDecision = { allowed: true, scope: 'none', limit: null, remaining: 0, retryAfterSeconds: 0 };

export class RateLimiter {
  private readonly policies: PolicySource;
  private readonly store: BucketStore;
  private readonly throttled: Counter<'group' | 'version'> | undefined;
  private readonly bucketKeys = new WeakMap<VersionPolicy, string>();

  constructor(options: RateLimiterOptions) {
    this.policies = options.policies;
    this.store = options.store;
    if (options.registry) {
      // Two limiters on one registry share the counter instead of failing to register it twice.
      const existing = options.registry.getSingleMetric('sluice_throttled_total');
      this.throttled =
        (existing as Counter<'group' | 'version'> | undefined) ??
        new Counter({
          name: 'sluice_throttled_total',
          help: 'Requests refused with 429 by the rate limiter',
          labelNames: ['group', 'version'],
          registers: [options.registry],
        });
    }
  }

  async check(input: RateLimitInput): Promise<RateDecision> {
    return this.decide(input);
  }

  /**
   * check()'s decision, given synchronously when the store answers in-process (the memory
   * store: no Redis), else a promise. The tokens are taken at the call either way, in the same
   * order, so the limits are exactly those of check(). The local edge calls this per request.
   */
  decide(input: RateLimitInput): RateDecision | Promise<RateDecision> {
    const policy = this.policyOf(input.group, input.version);
    if (!policy) return UNLIMITED;
    const cost = input.cost && input.cost > 0 ? input.cost : 1;
    const buckets = this.bucketsOf(input, policy);
    const takeSync = this.store.takeSync;
    if (takeSync === undefined) return this.takeEach(input, buckets, cost);
    let decision: RateDecision = UNLIMITED;
    for (const b of buckets) {
      decision = decisionOf(b.scope, b.qps, takeSync.call(this.store, b.key, b.qps, b.qps, cost));
      if (!decision.allowed) return this.refused(input, decision);
    }
    return decision;
  }

  /** decide() with a store that answers later (Redis): the same buckets, in the same order. */
  private async takeEach(input: RateLimitInput, buckets: readonly Bucket[], cost: number): Promise<RateDecision> {
    let decision: RateDecision = UNLIMITED;
    for (const b of buckets) {
      decision = decisionOf(b.scope, b.qps, await this.store.take(b.key, b.qps, b.qps, cost));
      if (!decision.allowed) return this.refused(input, decision);
    }
    return decision;
  }

  /**
   * The buckets a request takes tokens from, in order: the narrower per-key one first, so one
   * noisy key cannot drain the version's budget, then the version's.
   */
  private bucketsOf(input: RateLimitInput, policy: VersionPolicy): Bucket[] {
    const out: Bucket[] = [];
    if (input.keyId && isLimit(policy.keyQpsLimit)) out.push({ scope: 'key', key: `${this.bucketKey(policy)}/key/${input.keyId}`, qps: policy.keyQpsLimit });
    if (isLimit(policy.qpsLimit)) out.push({ scope: 'version', key: this.bucketKey(policy), qps: policy.qpsLimit });
    return out;
  }

  /** `group/version`, made once per policy object (a refresh brings new objects, and new strings with them). */
  private bucketKey(policy: VersionPolicy): string {
    let key = this.bucketKeys.get(policy);
    if (key === undefined) {
      key = `${policy.group}/${policy.version}`;
      this.bucketKeys.set(policy, key);
    }
    return key;
  }

  private refused(input: RateLimitInput, d: RateDecision): RateDecision {
    if (!input.quiet) this.noteThrottled(input);
    return d;
  }

  /** Counts a request refused with 429 (the queue's own refusals come through here). */
  noteThrottled(input: Pick<RateLimitInput, 'group' | 'version'>): void {
    this.throttled?.inc({ group: input.group, version: input.version });
  }

  /** The version's policy, as the limiter sees it (admission.ts reads the throttle mode from it). */
  policyOf(group: string, version: string): VersionPolicy | undefined {
    return this.policies.versionPolicies(group).find((p) => p.version === version);
  }

  async close(): Promise<void> {
    await this.store.close?.();
  }
}

interface Bucket {
  scope: 'version' | 'key';
  key: string;
  qps: number;
}

function decisionOf(scope: 'version' | 'key', qps: number, r: TakeResult): RateDecision {
  return {
    allowed: r.allowed,
    scope,
    limit: qps,
    remaining: Math.max(0, Math.floor(r.remaining)),
    retryAfterSeconds: r.allowed ? 0 : Math.max(1, Math.ceil(r.retryAfterMs / 1000)),
    retryAfterMs: r.allowed ? 0 : r.retryAfterMs,
  };
}

const isLimit = (n: number | null): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
