// GraphQL for releases that protect themselves (CONTRACT "Traffic — GraphQL and settings"):
// the inputs (MirrorInput, ThrottleInput, AutoscalingInput, CanaryGuardInput) that the
// group/version mutations take, and the read side: ServiceGroup.mirror / canaryGuard,
// ServiceVersion.throttle / autoscaling.
import { ThrottleMode } from '../../../prisma/generated/sqlite/enums.ts';
import { builder } from '../builder.ts';

export const ThrottleModeEnum = builder.enumType(ThrottleMode, { name: 'ThrottleMode' });

export const MirrorInput = builder.inputType('MirrorInput', {
  description: 'Shadow traffic: a copy of `percent` % of requests to a version that answers nobody; percent 0 turns it off',
  fields: (t) => ({ versionId: t.id({ required: true }), percent: t.int({ required: true }) }),
});

export const ThrottleInput = builder.inputType('ThrottleInput', {
  fields: (t) => ({
    mode: t.field({ type: ThrottleModeEnum, required: true }),
    queueDepth: t.int({ description: 'QUEUE: requests waiting at most (1–10000, default 100)' }),
    maxWaitMs: t.int({ description: 'QUEUE: longest wait before 429 (1–60000, default 1000)' }),
    maxConcurrency: t.int({ description: 'requests in flight at most (either mode)' }),
  }),
});

export const AutoscalingInput = builder.inputType('AutoscalingInput', {
  fields: (t) => ({
    minReplicas: t.int({ required: true, description: '0 allows scale to zero' }),
    maxReplicas: t.int({ required: true }),
    targetConcurrency: t.float({ description: 'concurrent requests per replica (default 4 when no target is given)' }),
    targetQps: t.float({ description: 'requests per second per replica' }),
    cooldownSeconds: t.int({ description: 'wait after a change before scaling down (default 60)' }),
  }),
});

export const CanaryGuardInput = builder.inputType('CanaryGuardInput', {
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    maxErrorRateDelta: t.float({ description: 'roll back when minority error rate − majority error rate is above this (default 0.1)' }),
    maxLatencyP99Ratio: t.float({ description: 'roll back when minority p99 / majority p99 is above this (default 2)' }),
    minRequests: t.int({ description: 'requests the minority needs in the window before it is judged (default 50)' }),
    windowSeconds: t.int({ description: 'the sliding window (5–86400, default 60)' }),
  }),
});

const Mirror = builder.objectRef<{ versionId: string; percent: number }>('Mirror').implement({
  fields: (t) => ({ versionId: t.exposeID('versionId'), percent: t.exposeInt('percent') }),
});

const CanaryGuard = builder
  .objectRef<{ enabled: boolean; maxErrorRateDelta: number; maxLatencyP99Ratio: number; minRequests: number; windowSeconds: number }>('CanaryGuard')
  .implement({
    fields: (t) => ({
      enabled: t.exposeBoolean('enabled'),
      maxErrorRateDelta: t.exposeFloat('maxErrorRateDelta'),
      maxLatencyP99Ratio: t.exposeFloat('maxLatencyP99Ratio'),
      minRequests: t.exposeInt('minRequests'),
      windowSeconds: t.exposeInt('windowSeconds'),
    }),
  });

const Throttle = builder
  .objectRef<{ mode: 'REJECT' | 'QUEUE'; queueDepth: number | null; maxWaitMs: number | null; maxConcurrency: number | null }>('Throttle')
  .implement({
    fields: (t) => ({
      mode: t.field({ type: ThrottleModeEnum, resolve: (x) => x.mode }),
      queueDepth: t.exposeInt('queueDepth', { nullable: true }),
      maxWaitMs: t.exposeInt('maxWaitMs', { nullable: true }),
      maxConcurrency: t.exposeInt('maxConcurrency', { nullable: true }),
    }),
  });

const Autoscaling = builder
  .objectRef<{ minReplicas: number; maxReplicas: number; targetConcurrency: number | null; targetQps: number | null; cooldownSeconds: number }>('Autoscaling')
  .implement({
    fields: (t) => ({
      minReplicas: t.exposeInt('minReplicas'),
      maxReplicas: t.exposeInt('maxReplicas'),
      targetConcurrency: t.exposeFloat('targetConcurrency', { nullable: true }),
      targetQps: t.exposeFloat('targetQps', { nullable: true }),
      cooldownSeconds: t.exposeInt('cooldownSeconds'),
    }),
  });

builder.prismaObjectFields('ServiceGroup', (t) => ({
  mirror: t.field({
    type: Mirror,
    nullable: true,
    resolve: (g) => (g.mirrorVersionId && g.mirrorPercent > 0 ? { versionId: g.mirrorVersionId, percent: g.mirrorPercent } : null),
  }),
  canaryGuard: t.field({
    type: CanaryGuard,
    resolve: (g) => ({
      enabled: g.canaryGuardEnabled,
      maxErrorRateDelta: g.canaryMaxErrorRateDelta,
      maxLatencyP99Ratio: g.canaryMaxLatencyP99Ratio,
      minRequests: g.canaryMinRequests,
      windowSeconds: g.canaryWindowSeconds,
    }),
  }),
}));

builder.prismaObjectFields('ServiceVersion', (t) => ({
  throttle: t.field({
    type: Throttle,
    resolve: (v) => ({ mode: v.throttleMode, queueDepth: v.queueDepth, maxWaitMs: v.queueMaxWaitMs, maxConcurrency: v.maxConcurrency }),
  }),
  autoscaling: t.field({
    type: Autoscaling,
    nullable: true,
    resolve: (v) =>
      v.autoscaleMaxReplicas === null
        ? null
        : {
            minReplicas: v.autoscaleMinReplicas ?? 0,
            maxReplicas: v.autoscaleMaxReplicas,
            targetConcurrency: v.autoscaleTargetConcurrency,
            targetQps: v.autoscaleTargetQps,
            cooldownSeconds: v.autoscaleCooldownSeconds,
          },
  }),
}));
