// The lifecycle listens to the orchestrator: its reports become instance rows, folded
// events and version status transitions (STARTING → RUNNING / FAILED, STOPPING →
// STOPPED). Reports for one version are applied in order, one at a time. A report that
// meets an unreachable database (PostgreSQL stopped or frozen) is applied again with back-off
// until the database answers, so what happened to replicas during an outage is not lost.
import { isDatabaseUnavailable } from '../../platform/db/unavailable.ts';
import type { Orchestrator, OrchestratorReport } from '../orchestrator/port.ts';
import { ChangeFeed } from './changes.ts';
import type { DomainDeps } from './deps.ts';
import { recordEvent } from './events.ts';
import { nextVersionStatus } from './status.ts';
import { transitionVersion } from './transitions.ts';

/** Wait before the n-th retry (1-based) of a report that met an unreachable database. */
export type RetryDelay = (attempt: number) => number;
const defaultRetryDelay: RetryDelay = (attempt) => Math.min(250 * 2 ** (attempt - 1), 5_000);

export class Lifecycle {
  private readonly changes: ChangeFeed;
  private readonly retryListeners = new Set<(error: unknown, report: OrchestratorReport, attempt: number) => void>();
  private readonly retryWaits = new Set<() => void>();
  private closed = false;
  private readonly queues = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | null = null;
  private readonly failures: unknown[] = [];
  private shuttingDown = false;
  private readonly errorListeners = new Set<(error: unknown, report: OrchestratorReport) => void>();

  constructor(private readonly deps: DomainDeps, private readonly retryDelay: RetryDelay = defaultRetryDelay) {
    this.changes = new ChangeFeed(deps.pubsub);
  }

  listen(orchestrator: Orchestrator = this.deps.orchestrator): void {
    this.unsubscribe = orchestrator.onReport((report) => this.enqueue(report));
  }

  /** Resolves once every report received so far has been applied (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  /** Errors met while applying reports (they never escape into the orchestrator). */
  errors(): readonly unknown[] {
    return this.failures;
  }

  /** Told of every report that could not be applied (main.ts logs it and records an event). */
  onError(listener: (error: unknown, report: OrchestratorReport) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Told each time a report is put back because the database could not be reached (main.ts logs it). */
  onRetry(listener: (error: unknown, report: OrchestratorReport, attempt: number) => void): () => void {
    this.retryListeners.add(listener);
    return () => this.retryListeners.delete(listener);
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /**
   * Control-plane shutdown begins: from now on the orchestrator stops every replica on our
   * behalf, so version reports (STOPPED, FAILED) are this shutdown's doing and are not
   * applied — no version turns FAILED, no traffic moves. Instance rows and events still
   * follow the truth (the replicas are gone), so a restart starts from a clean slate.
   */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  /** After the orchestrator has stopped: stop listening and finish what was received. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    this.close();
    // a report still waiting for the database gives up now (told to the error listeners):
    // shutdown must not hang on an outage
    this.closed = true;
    for (const wake of this.retryWaits) wake();
    await this.idle();
  }

  enqueue(report: OrchestratorReport): void {
    const key = report.versionId;
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.applyUntilReachable(report))
      .catch((error: unknown) => {
        // kept bounded: the listeners (log, events) are the record, this is for tests
        if (this.failures.push(error) > 100) this.failures.shift();
        for (const listener of this.errorListeners) {
          try {
            listener(error, report);
          } catch {
            // a failing listener must not stop the queue
          }
        }
      })
      .finally(() => {
        if (this.queues.get(key) === next) this.queues.delete(key);
      });
    this.queues.set(key, next);
  }

  private async applyUntilReachable(report: OrchestratorReport): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.apply(report);
        return;
      } catch (error) {
        if (this.closed || !isDatabaseUnavailable(error)) throw error;
        for (const listener of this.retryListeners) {
          try {
            listener(error, report, attempt);
          } catch {
            // a failing listener must not stop the retry
          }
        }
        await this.wait(this.retryDelay(attempt));
      }
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.retryWaits.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.retryWaits.add(wake);
    });
  }

  async apply(report: OrchestratorReport): Promise<void> {
    const { prisma, now } = this.deps;
    const version = await prisma.serviceVersion.findUnique({ where: { id: report.versionId }, select: { id: true, groupId: true, status: true } });
    if (!version) return; // deleted meanwhile: nothing to record against
    switch (report.type) {
      case 'instance': {
        const i = report.instance;
        const data = {
          state: i.state,
          stateReason: i.reason ?? null,
          restartCount: i.restartCount,
          host: i.host ?? null,
          port: i.port ?? null,
          pid: i.pid ?? null,
          node: i.node ?? null,
          cpuMillicores: i.cpuMillicores ?? null,
          memoryBytes: i.memoryBytes != null ? BigInt(Math.round(i.memoryBytes)) : null,
          startedAt: i.startedAt ?? null,
        };
        const before = await prisma.instance.findUnique({ where: { name: i.name } });
        const row = await prisma.instance.upsert({
          where: { name: i.name },
          create: { ...data, name: i.name, versionId: version.id },
          update: data,
        });
        await this.changes.instance(version.groupId, version.id, row.id);
        const routable = (s: typeof before) => (s && s.state === 'RUNNING' ? `${s.host}:${s.port}` : null);
        // a replica that stopped being routable (exited, unready) is urgent: its share fails meanwhile
        if (routable(before) !== routable(row)) await this.changes.dataPlane(`endpoints of ${version.id}`, { urgent: routable(before) !== null });
        return;
      }
      case 'instanceRemoved': {
        const row = await prisma.instance.findUnique({ where: { name: report.name } });
        if (!row) return;
        await prisma.instance.delete({ where: { id: row.id } });
        await this.changes.instance(version.groupId, version.id, row.id, true);
        if (row.state === 'RUNNING') await this.changes.dataPlane(`endpoints of ${version.id}`, { urgent: true });
        return;
      }
      case 'event': {
        const event = await recordEvent(prisma, { ...report, groupId: version.groupId, versionId: version.id }, now());
        await this.changes.event(event.id, version.groupId, version.id);
        return;
      }
      case 'version': {
        if (this.shuttingDown) return;
        const next = nextVersionStatus(version.status, report);
        if (!next) return;
        const { to: target, reason } = next;
        await prisma.$transaction((tx) => transitionVersion(tx, version.id, target, reason));
        if (target === 'STOPPED') {
          const gone = await prisma.instance.findMany({ where: { versionId: version.id }, select: { id: true } });
          await prisma.instance.deleteMany({ where: { versionId: version.id } });
          for (const g of gone) await this.changes.instance(version.groupId, version.id, g.id, true);
        }
        await this.changes.version(version.groupId, version.id);
        await this.changes.dataPlane(`version ${version.id} ${target}`);
        return;
      }
    }
  }
}
