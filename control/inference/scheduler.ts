// Runs the table job on a schedule. Each group with the inference table on (any version
// with inferenceTableEnabled) runs every `defaultIntervalSeconds`, unless its own
// InferenceSchedule row (setInferenceSchedule) says otherwise or turns it off. A group
// whose run is still going is skipped; the job itself allows one run per group at a time.
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { InferenceService } from './service.ts';

export interface SchedulerOptions {
  prisma: PrismaClient;
  service: InferenceService;
  defaultIntervalSeconds: number;
  tickMs?: number;
  now?: () => Date;
  onError?: (groupId: string, error: unknown) => void;
}

export class InferenceScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly lastRun = new Map<string, number>();

  constructor(private readonly o: SchedulerOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      // a failed pass (the database unreachable) is reported and the next tick tries again;
      // a rejection left unhandled here would take the control plane down
      if (!this.ticking) this.ticking = this.tick().catch((error: unknown) => this.o.onError?.('*', error)).finally(() => (this.ticking = undefined));
    }, this.o.tickMs ?? 5000);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    const { prisma, service } = this.o;
    const now = (this.o.now ?? (() => new Date()))().getTime();
    const groups = await prisma.serviceVersion.findMany({ where: { inferenceTableEnabled: true }, select: { groupId: true }, distinct: ['groupId'] });
    const schedules = new Map((await prisma.inferenceSchedule.findMany()).map((s) => [s.groupId, s]));
    for (const { groupId } of groups) {
      const s = schedules.get(groupId);
      if (s && !s.enabled) continue;
      if (!s && this.o.defaultIntervalSeconds <= 0) continue;
      const interval = (s?.intervalSeconds ?? this.o.defaultIntervalSeconds) * 1000;
      const last = s?.lastRunAt?.getTime() ?? this.lastRun.get(groupId) ?? 0;
      if (now - last < interval || service.job.isRunning(groupId)) continue;
      this.lastRun.set(groupId, now);
      try {
        await service.runJob(groupId, 'SCHEDULE');
      } catch (error) {
        this.o.onError?.(groupId, error);
      }
      if (s) await prisma.inferenceSchedule.update({ where: { groupId }, data: { lastRunAt: new Date(now) } }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
  }
}
