// The release-protection settings a user can give, checked and turned into database columns:
// a version's throttle mode (REJECT / QUEUE with depth and wait, max concurrency) and its
// autoscaling bounds, and a group's canary guard. Every bad value is refused with
// BAD_USER_INPUT, the field, and a stable `reason` (tests assert on it).
import { badInput } from '../../platform/errors.ts';
import type { Prisma, ServiceVersion } from '../../platform/db/prisma.ts';
import type { AutoscalingSpec } from '../orchestrator/port.ts';

export const LIMITS = {
  /** deeper queues only hide an overload behind minutes of latency */
  maxQueueDepth: 10_000,
  maxQueueWaitMs: 60_000,
  maxConcurrency: 100_000,
  maxReplicas: 64,
  maxCooldownSeconds: 3600,
  minGuardWindowSeconds: 5,
  maxGuardWindowSeconds: 86_400,
} as const;

export interface ThrottleInput {
  mode: 'REJECT' | 'QUEUE';
  queueDepth?: number | null;
  maxWaitMs?: number | null;
  maxConcurrency?: number | null;
}

export interface AutoscalingInput {
  minReplicas: number;
  maxReplicas: number;
  targetConcurrency?: number | null;
  targetQps?: number | null;
  cooldownSeconds?: number | null;
}

export interface CanaryGuardInput {
  enabled: boolean;
  maxErrorRateDelta?: number | null;
  maxLatencyP99Ratio?: number | null;
  minRequests?: number | null;
  windowSeconds?: number | null;
}

const DEFAULTS = { queueDepth: 100, maxWaitMs: 1000, targetConcurrency: 4, cooldownSeconds: 60 } as const;

function int(value: number | null | undefined, field: string, min: number, max: number, reason: string): number | undefined {
  if (value == null) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be an integer from ${min} to ${max} (got ${value})`, { field, reason });
  }
  return value;
}

function num(value: number | null | undefined, field: string, min: number, max: number, reason: string, exclusiveMin = false): number | undefined {
  if (value == null) return undefined;
  if (!Number.isFinite(value) || (exclusiveMin ? value <= min : value < min) || value > max) {
    throw badInput(`${field} must be ${exclusiveMin ? 'above' : 'at least'} ${min} and at most ${max} (got ${value})`, { field, reason });
  }
  return value;
}

/** throttle → ServiceVersion columns. QUEUE without depth/wait gets the defaults (100, 1 s). */
export function throttleData(t: ThrottleInput): Prisma.ServiceVersionUncheckedUpdateInput {
  if (t.mode !== 'REJECT' && t.mode !== 'QUEUE') throw badInput(`throttle mode must be REJECT or QUEUE`, { field: 'throttle.mode', reason: 'THROTTLE_MODE_UNKNOWN' });
  const queueDepth = int(t.queueDepth, 'throttle.queueDepth', 1, LIMITS.maxQueueDepth, 'QUEUE_DEPTH_OUT_OF_RANGE');
  const maxWaitMs = int(t.maxWaitMs, 'throttle.maxWaitMs', 1, LIMITS.maxQueueWaitMs, 'QUEUE_WAIT_OUT_OF_RANGE');
  const maxConcurrency = int(t.maxConcurrency, 'throttle.maxConcurrency', 1, LIMITS.maxConcurrency, 'MAX_CONCURRENCY_OUT_OF_RANGE');
  if (t.mode === 'REJECT' && (queueDepth !== undefined || maxWaitMs !== undefined)) {
    throw badInput('queueDepth and maxWaitMs apply to mode QUEUE only', { field: 'throttle.mode', reason: 'QUEUE_SETTINGS_WITHOUT_QUEUE' });
  }
  return {
    throttleMode: t.mode,
    queueDepth: t.mode === 'QUEUE' ? (queueDepth ?? DEFAULTS.queueDepth) : null,
    queueMaxWaitMs: t.mode === 'QUEUE' ? (maxWaitMs ?? DEFAULTS.maxWaitMs) : null,
    maxConcurrency: maxConcurrency ?? null,
  };
}

/** autoscaling → ServiceVersion columns. minReplicas 0 allows scale to zero. */
export function autoscalingData(a: AutoscalingInput): Prisma.ServiceVersionUncheckedUpdateInput {
  const min = int(a.minReplicas, 'autoscaling.minReplicas', 0, LIMITS.maxReplicas, 'REPLICAS_OUT_OF_RANGE') as number;
  const max = int(a.maxReplicas, 'autoscaling.maxReplicas', 1, LIMITS.maxReplicas, 'REPLICAS_OUT_OF_RANGE') as number;
  if (min > max) {
    throw badInput(`autoscaling.minReplicas (${min}) is above maxReplicas (${max})`, { field: 'autoscaling.minReplicas', reason: 'MIN_REPLICAS_ABOVE_MAX' });
  }
  const targetConcurrency = num(a.targetConcurrency, 'autoscaling.targetConcurrency', 0, 10_000, 'TARGET_OUT_OF_RANGE', true);
  const targetQps = num(a.targetQps, 'autoscaling.targetQps', 0, 1_000_000, 'TARGET_OUT_OF_RANGE', true);
  const cooldownSeconds = int(a.cooldownSeconds, 'autoscaling.cooldownSeconds', 0, LIMITS.maxCooldownSeconds, 'COOLDOWN_OUT_OF_RANGE');
  return {
    autoscaleMinReplicas: min,
    autoscaleMaxReplicas: max,
    autoscaleTargetConcurrency: targetConcurrency ?? (targetQps === undefined ? DEFAULTS.targetConcurrency : null),
    autoscaleTargetQps: targetQps ?? null,
    autoscaleCooldownSeconds: cooldownSeconds ?? DEFAULTS.cooldownSeconds,
  };
}

/** canaryGuard → ServiceGroup columns; unset numbers keep their stored values. */
export function canaryGuardData(g: CanaryGuardInput): Prisma.ServiceGroupUpdateInput {
  const windowSeconds = int(g.windowSeconds, 'canaryGuard.windowSeconds', LIMITS.minGuardWindowSeconds, LIMITS.maxGuardWindowSeconds, 'GUARD_WINDOW_OUT_OF_RANGE');
  const minRequests = int(g.minRequests, 'canaryGuard.minRequests', 1, 1_000_000, 'GUARD_MIN_REQUESTS_OUT_OF_RANGE');
  const maxErrorRateDelta = num(g.maxErrorRateDelta, 'canaryGuard.maxErrorRateDelta', 0, 1, 'GUARD_ERROR_DELTA_OUT_OF_RANGE', true);
  const maxLatencyP99Ratio = num(g.maxLatencyP99Ratio, 'canaryGuard.maxLatencyP99Ratio', 1, 1000, 'GUARD_LATENCY_RATIO_OUT_OF_RANGE', true);
  return {
    canaryGuardEnabled: g.enabled,
    ...(windowSeconds !== undefined ? { canaryWindowSeconds: windowSeconds } : {}),
    ...(minRequests !== undefined ? { canaryMinRequests: minRequests } : {}),
    ...(maxErrorRateDelta !== undefined ? { canaryMaxErrorRateDelta: maxErrorRateDelta } : {}),
    ...(maxLatencyP99Ratio !== undefined ? { canaryMaxLatencyP99Ratio: maxLatencyP99Ratio } : {}),
  };
}

/** The stored autoscaling columns as the orchestrators read them; null when autoscaling is off. */
export function autoscalingSpec(v: Pick<ServiceVersion, 'autoscaleMinReplicas' | 'autoscaleMaxReplicas' | 'autoscaleTargetConcurrency' | 'autoscaleTargetQps' | 'autoscaleCooldownSeconds'>): AutoscalingSpec | null {
  if (v.autoscaleMaxReplicas === null) return null;
  return {
    minReplicas: v.autoscaleMinReplicas ?? 0,
    maxReplicas: v.autoscaleMaxReplicas,
    targetConcurrency: v.autoscaleTargetConcurrency,
    targetQps: v.autoscaleTargetQps,
    cooldownSeconds: v.autoscaleCooldownSeconds,
  };
}
