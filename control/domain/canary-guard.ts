// Automatic canary rollback: a small evaluator on a timer. For each group whose guard is on
// and whose traffic is split between two running versions, it compares the minority (the
// smaller share, the canary) with the majority over the guard's window, from the edge's
// per-version counts; when the canary has had at least `minRequests` requests and its
// error rate is worse by more than `maxErrorRateDelta`, or its p99 latency by more than
// `maxLatencyP99Ratio` times, its share goes to 0 through the normal traffic path
// (Traffic.set: validated, audited, pushed over xDS, subscribers notified) and a WARNING
// event `CanaryRolledBack` is raised on the group.
//
// Alerts: the inference/alert work owns the Alert model; until it is on main the event (and
// the serviceGroupChanged / serviceVersionChanged notices that Traffic.set publishes) is
// what subscribers see. Where the Alert model lands, `onRollback` is the hook to open one.
import type { VersionStatsSource, VersionWindow } from '../../gateway/edge/version-stats.ts';
import type { Actor } from './actor.ts';
import type { DomainDeps } from './deps.ts';
import { recordEvent } from './events.ts';
import { ChangeFeed } from './changes.ts';
import type { Traffic } from './traffic.ts';

export interface GuardSettings {
  maxErrorRateDelta: number;
  maxLatencyP99Ratio: number;
  minRequests: number;
}

export type Verdict = { rollback: false; reason: 'too-few-requests' | 'healthy' | 'no-baseline' } | { rollback: true; reason: string };

/** The rule, on its own: is the canary worse than the baseline by more than the margins? */
type Judged = Pick<VersionWindow, 'version' | 'requests' | 'errors' | 'p99Ms'>;

export function judgeCanary(s: GuardSettings, canary: Judged, baseline: Judged | undefined): Verdict {
  if (canary.requests < s.minRequests) return { rollback: false, reason: 'too-few-requests' };
  const canaryErr = canary.errors / canary.requests;
  const baseErr = baseline && baseline.requests > 0 ? baseline.errors / baseline.requests : 0;
  if (canaryErr - baseErr > s.maxErrorRateDelta) {
    return { rollback: true, reason: `error rate ${(canaryErr * 100).toFixed(1)}% vs ${(baseErr * 100).toFixed(1)}% (margin ${(s.maxErrorRateDelta * 100).toFixed(1)} points) over ${canary.requests} requests` };
  }
  if (!baseline || baseline.p99Ms === null || baseline.p99Ms <= 0) return { rollback: false, reason: 'no-baseline' };
  if (canary.p99Ms !== null && canary.p99Ms / baseline.p99Ms > s.maxLatencyP99Ratio) {
    return { rollback: true, reason: `p99 latency ${canary.p99Ms.toFixed(1)} ms vs ${baseline.p99Ms.toFixed(1)} ms (more than ${s.maxLatencyP99Ratio}×) over ${canary.requests} requests` };
  }
  return { rollback: false, reason: 'healthy' };
}

export const GUARD_ACTOR: Actor = { userId: 'system:canary-guard', username: 'canary-guard', role: 'ADMIN' };

export interface CanaryGuardOptions {
  deps: DomainDeps;
  traffic: Traffic;
  stats: VersionStatsSource & { reset?(group: string): void };
  /** how often groups are judged (default 5 s) */
  intervalMs?: number;
  onRollback?: (r: { groupId: string; group: string; version: string; reason: string }) => void;
}

export class CanaryGuard {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly changes: ChangeFeed;

  constructor(private readonly o: CanaryGuardOptions) {
    this.changes = new ChangeFeed(o.deps.pubsub);
  }

  start(): this {
    this.timer ??= setInterval(() => void this.tick(), this.o.intervalMs ?? 5000);
    this.timer.unref();
    return this;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.evaluate()
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }

  /** Judges every guarded group once; returns the rollbacks made. */
  async evaluate(): Promise<{ group: string; version: string; reason: string }[]> {
    const { prisma, now } = this.o.deps;
    const groups = await prisma.serviceGroup.findMany({
      where: { canaryGuardEnabled: true },
      include: { versions: { where: { status: 'RUNNING' }, orderBy: { createdAt: 'asc' } } },
    });
    const done: { group: string; version: string; reason: string }[] = [];
    for (const g of groups) {
      const live = g.versions.filter((v) => v.trafficPercent > 0);
      if (live.length !== 2) continue;
      const [a, b] = live as [(typeof live)[0], (typeof live)[0]];
      // the canary is the smaller share (the later version on a tie)
      const [canary, baseline] = a.trafficPercent < b.trafficPercent ? [a, b] : [b, a];
      const window = this.o.stats.window(g.name, g.canaryWindowSeconds);
      const verdict = judgeCanary(
        { maxErrorRateDelta: g.canaryMaxErrorRateDelta, maxLatencyP99Ratio: g.canaryMaxLatencyP99Ratio, minRequests: g.canaryMinRequests },
        window.find((w) => w.version === canary.name) ?? { version: canary.name, requests: 0, errors: 0, p99Ms: null },
        window.find((w) => w.version === baseline.name),
      );
      if (!verdict.rollback) continue;
      await this.o.traffic.set(GUARD_ACTOR, g.id, [
        { versionId: baseline.id, percent: 100 },
        { versionId: canary.id, percent: 0 },
        ...g.versions.filter((v) => v.id !== baseline.id && v.id !== canary.id).map((v) => ({ versionId: v.id, percent: 0 })),
      ]);
      const event = await recordEvent(
        prisma,
        {
          level: 'WARNING',
          resourceKind: 'ServiceVersion',
          resourceName: `${g.name}/${canary.name}`,
          groupId: g.id,
          versionId: canary.id,
          reason: 'CanaryRolledBack',
          message: `canary ${canary.name} rolled back to 0%: ${verdict.reason}`,
        },
        now(),
      );
      await this.changes.event(event.id, g.id, canary.id);
      this.o.stats.reset?.(g.name);
      const r = { groupId: g.id, group: g.name, version: canary.name, reason: verdict.reason };
      this.o.onRollback?.(r);
      done.push(r);
    }
    return done;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
