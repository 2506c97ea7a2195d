// The per-version autoscaler for orchestrators that do not scale by themselves (the local
// one; on Kubernetes the version's HorizontalPodAutoscaler does it, see manifests.ts). On a
// timer it reads each autoscaled version's measured load from the edge (mean concurrency and
// QPS over a short window, and requests waiting on a scaled-to-zero version), works out the
// replicas the targets call for within [min, max], and applies a change through the normal
// version update (validated, audited, deployed). Scaling up is immediate; scaling down waits
// `cooldownSeconds` after the last change, so a burst does not flap the replicas. Each change
// raises a NORMAL event (`ScaledUp` / `ScaledDown`) with the load that drove it.
import type { VersionStatsSource } from '../../gateway/edge/version-stats.ts';
import type { Actor } from '../domain/actor.ts';
import type { DomainDeps } from '../domain/deps.ts';
import { recordEvent } from '../domain/events.ts';
import { autoscalingSpec } from '../domain/release-settings.ts';
import type { ServiceVersions } from '../domain/versions.ts';
import type { AutoscalingSpec } from './port.ts';

export interface MeasuredLoad {
  /** mean requests in flight */
  concurrency: number;
  qps: number;
  /** requests waiting for a first replica */
  coldStarts: number;
}

/** The replicas the targets call for, within the bounds (a cold request always gets one). */
export function desiredReplicas(spec: AutoscalingSpec, load: MeasuredLoad): number {
  let want = spec.minReplicas;
  if (spec.targetConcurrency && spec.targetConcurrency > 0) want = Math.max(want, Math.ceil(load.concurrency / spec.targetConcurrency - 1e-9));
  if (spec.targetQps && spec.targetQps > 0) want = Math.max(want, Math.ceil(load.qps / spec.targetQps - 1e-9));
  if (load.coldStarts > 0) want = Math.max(want, 1);
  return Math.min(spec.maxReplicas, Math.max(spec.minReplicas, want));
}

export const AUTOSCALER_ACTOR: Actor = { userId: 'system:autoscaler', username: 'autoscaler', role: 'ADMIN' };

export interface AutoscalerOptions {
  deps: DomainDeps;
  versions: ServiceVersions;
  stats: VersionStatsSource;
  /** how often versions are looked at (default 5 s) */
  intervalMs?: number;
  /** the load window (default 15 s) */
  windowSeconds?: number;
}

export class Autoscaler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  /** when each version's replicas last changed (the cool-down's start); starts at construction */
  private readonly lastChange = new Map<string, number>();
  private readonly startedAt: number;

  constructor(private readonly o: AutoscalerOptions) {
    this.startedAt = o.deps.now().getTime();
  }

  start(): this {
    this.timer ??= setInterval(() => {
      if (!this.running) this.running = this.evaluate().catch(() => undefined).finally(() => (this.running = null));
    }, this.o.intervalMs ?? 5000);
    this.timer.unref();
    return this;
  }

  /** One pass over every running autoscaled version; returns the changes made. */
  async evaluate(): Promise<{ version: string; from: number; to: number }[]> {
    const { prisma, now } = this.o.deps;
    const versions = await prisma.serviceVersion.findMany({
      where: { status: 'RUNNING', autoscaleMaxReplicas: { not: null } },
      include: { group: { select: { name: true } } },
    });
    const changes: { version: string; from: number; to: number }[] = [];
    const windowSeconds = this.o.windowSeconds ?? 15;
    for (const v of versions) {
      const spec = autoscalingSpec(v);
      if (!spec) continue;
      const w = this.o.stats.window(v.group.name, windowSeconds).find((x) => x.version === v.name);
      const load: MeasuredLoad = { concurrency: w?.concurrency ?? 0, qps: w?.qps ?? 0, coldStarts: w?.coldStarts ?? 0 };
      const want = desiredReplicas(spec, load);
      if (want === v.replicas) continue;
      const t = now().getTime();
      const since = t - (this.lastChange.get(v.id) ?? this.startedAt);
      if (want < v.replicas && since < spec.cooldownSeconds * 1000) continue;
      await this.o.versions.update(AUTOSCALER_ACTOR, v.id, { replicas: want });
      this.lastChange.set(v.id, t);
      const up = want > v.replicas;
      await recordEvent(
        prisma,
        {
          level: 'NORMAL',
          resourceKind: 'ServiceVersion',
          resourceName: `${v.group.name}/${v.name}`,
          groupId: v.groupId,
          versionId: v.id,
          reason: up ? 'ScaledUp' : 'ScaledDown',
          message: `replicas ${v.replicas} → ${want}: concurrency ${load.concurrency.toFixed(2)}, ${load.qps.toFixed(2)} QPS${load.coldStarts ? `, ${load.coldStarts} waiting for a first replica` : ''} (targets per replica: ${spec.targetConcurrency ?? '-'} concurrent, ${spec.targetQps ?? '-'} QPS; bounds ${spec.minReplicas}–${spec.maxReplicas})`,
        },
        now(),
      );
      changes.push({ version: `${v.group.name}/${v.name}`, from: v.replicas, to: want });
    }
    return changes;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
