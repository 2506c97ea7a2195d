// One supervised replica of a version: starts its process in its own process group with its
// output going to files, probes it until ready, watches its liveness, restarts it with
// back-off when it dies, gives up on a crash loop, and stops it gracefully then by force so
// nothing is left behind. It can also adopt a process a crashed control plane left running.

import { spawnDirect, type SpawnedChild, type SpawnProcess } from '../../data-plane-priority.ts';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InstanceReport, InstanceStateName, OrchestratorReport, VersionDeployment } from '../port.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import type { Placement } from './capacity.ts';
import { buildLaunch, type LaunchSpec, type Probe, type RunAs } from './launch.ts';
import { InstanceLogTail, type LogSink } from './logs.ts';
import { freePort, httpProbe, tcpProbe, type ProbeResult } from './probes.ts';
import { CpuRate, isSameProcess, processStartTime, waitGroupGone, type GroupUsage } from './proc-stats.ts';
import { removeStateFile, writeStateFile, type InstanceStateRecord } from './state-files.ts';

export interface ReplicaTiming {
  backoff: BackoffPolicy;
  readinessPeriodMs: number;
  /** a replica not ready this long after start is killed and counts as a failed start */
  startupTimeoutMs: number;
  livenessPeriodMs: number;
  livenessFailureThreshold: number;
  probeTimeoutMs: number;
  /** an Unhealthy event after this many failed readiness probes in a row (and again every as many) */
  unhealthyEventEvery: number;
  /** SIGTERM, then SIGKILL after this long */
  gracePeriodMs: number;
  logPollMs: number;
  /** how often an adopted process (not our child) is checked for having exited */
  adoptedExitPollMs: number;
  maxLogFileBytes: number;
}

export interface ReplicaContext {
  instance: string;
  index: number;
  workDir: string;
  placement: Placement;
  deployment: VersionDeployment;
  specHash: string;
  runtimeCommand: string[];
  /** who image versions' commands run as (null: this process's user) */
  runAs?: RunAs | null;
  timing: ReplicaTiming;
  now: () => Date;
  /** the version's log store */
  logSink: LogSink;
  emit: (report: OrchestratorReport) => void;
  /** readiness or failure changed: the version recomputes its status */
  onChange: () => void;
  /** how the replica's process is started (data-plane-priority.ts); default directly */
  spawn?: SpawnProcess;
}

interface Run {
  id: number;
  pid: number | null;
  port: number;
  procStartTime: number | null;
  startedMs: number;
  child: SpawnedChild | null; // null for an adopted process
  launch: LaunchSpec | null;
  tail: InstanceLogTail;
  becameReady: boolean;
  exited: boolean;
  exitWaiters: (() => void)[];
  /** why we killed it ourselves (startup timeout, liveness): the crash reason to report */
  killReason: string | null;
}

const UNKNOWN_PORT = 0;

export class Replica {
  state: InstanceStateName = 'WAITING';
  reason: string | undefined;
  restartCount = 0;
  ready = false;
  /** gave up after a crash loop; only a restart request brings it back */
  failed = false;

  private run: Run | null = null;
  private runSeq = 0;
  private backoffStep = 0;
  private crashesBeforeReady = 0;
  private stopping = false;
  private restartRequested = false;
  private timers = new Set<NodeJS.Timeout>();
  private pendingStart: NodeJS.Timeout | null = null;
  private readonly cpu = new CpuRate();
  private usage: { cpuMillicores?: number; memoryBytes?: number } = {};

  constructor(private readonly ctx: ReplicaContext) {
    mkdirSync(ctx.workDir, { recursive: true });
  }

  get instance(): string {
    return this.ctx.instance;
  }
  get workDir(): string {
    return this.ctx.workDir;
  }
  get pid(): number | null {
    return this.run?.pid ?? null;
  }
  get port(): number | null {
    return this.run && this.run.port !== UNKNOWN_PORT ? this.run.port : null;
  }
  /** the environment the replica's process got (for the terminal) */
  get env(): Record<string, string> {
    return this.run?.launch?.env ?? {};
  }

  report(): InstanceReport {
    const r = this.run;
    return {
      name: this.ctx.instance,
      state: this.state,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      restartCount: this.restartCount,
      node: this.ctx.placement.node,
      ...(r && !r.exited
        ? {
            host: '127.0.0.1',
            port: r.port,
            ...(r.pid !== null ? { pid: r.pid } : {}),
            startedAt: new Date(r.startedMs),
            ...this.usage,
          }
        : {}),
    };
  }

  async start(): Promise<void> {
    await this.spawnRun();
  }

  /** Take over a process that a previous control plane started (its state file says how). */
  adopt(record: InstanceStateRecord): void {
    this.restartCount = record.restartCount;
    const run = this.newRun(record.pid, record.port, record.procStartTime, Date.parse(record.startedAt), null, null, true);
    this.ctx.emit(this.event('NORMAL', 'Adopted', `Adopted running process ${record.pid} on port ${record.port}`));
    this.pollAdoptedExit(run);
    if (record.ready === true) {
      // it was serving: it stays in the routes (the same host and port as recorded) unless
      // the first probe says otherwise
      run.becameReady = true;
      this.ready = true;
      this.setState('RUNNING', undefined);
      this.ctx.onChange();
      this.confirmAdopted(run);
      return;
    }
    this.pushReport();
    this.probeReadiness(run);
  }

  /** The restart action: graceful stop, then an immediate fresh start (no back-off). */
  async restart(): Promise<void> {
    if (this.stopping) return;
    this.failed = false;
    this.crashesBeforeReady = 0;
    const run = this.run;
    if (!run || run.exited) {
      this.clearPendingStart();
      this.restartCount += 1;
      await this.spawnRun();
      return;
    }
    this.restartRequested = true;
    this.ctx.emit(this.event('NORMAL', 'Killing', 'Stopping instance for a restart'));
    this.setState('TERMINATING', 'restart requested');
    await this.terminate(run);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.clearPendingStart();
    const run = this.run;
    if (!run || run.exited) return;
    this.ctx.emit(this.event('NORMAL', 'Killing', 'Stopping instance'));
    this.setState('TERMINATING', 'stopping');
    await this.terminate(run);
  }

  /** Called with one /proc scan's result for all replicas. */
  sampleUsage(usage: Map<number, GroupUsage>, nowMs: number): void {
    const r = this.run;
    if (!r || r.exited || r.pid === null) return;
    const u = usage.get(r.pid);
    if (!u) return;
    const millicores = this.cpu.sample(u.cpuSeconds, nowMs);
    this.usage = { memoryBytes: u.rssBytes, ...(millicores !== undefined ? { cpuMillicores: Math.round(millicores) } : {}) };
    this.pushReport();
  }

  // ───────────────────────── process lifecycle ─────────────────────────

  private async spawnRun(): Promise<void> {
    if (this.stopping) return;
    const port = await freePort();
    if (this.stopping) return;
    const { deployment, workDir, placement, runtimeCommand } = this.ctx;
    let launch: LaunchSpec;
    try {
      launch = buildLaunch(deployment, { port, workDir, gpuIndices: placement.gpuIndices, runtimeCommand, runAs: this.ctx.runAs ?? null });
      // the unprivileged user gets its own work dir, nothing above it
      if (launch.runAs) {
        chownSync(workDir, launch.runAs.uid, launch.runAs.gid);
        // and cannot climb to its neighbours: the version and group folders are ours only
        for (const dir of [dirname(workDir), dirname(dirname(workDir)), dirname(dirname(dirname(workDir)))]) chmodSync(dir, 0o700);
      }
    } catch (err) {
      this.giveUp(`cannot start: ${(err as Error).message}`);
      return;
    }
    const outFd = openSync(join(workDir, 'stdout.raw'), 'a');
    const errFd = openSync(join(workDir, 'stderr.raw'), 'a');
    let child: SpawnedChild;
    try {
      // detached: its own process group, so a signal to -pid reaches everything it starts.
      child = await (this.ctx.spawn ?? spawnDirect)({
        command: launch.command,
        args: launch.args,
        cwd: workDir,
        env: launch.env,
        detached: true,
        stdout: outFd,
        stderr: errFd,
        ...(launch.runAs ? { uid: launch.runAs.uid, gid: launch.runAs.gid } : {}),
      });
    } finally {
      closeSync(outFd);
      closeSync(errFd);
    }
    const pid = child.pid ?? null;
    const run = this.newRun(pid, port, pid !== null ? processStartTime(pid) : null, this.ctx.now().getTime(), child, launch, true);
    child.once('error', (err: NodeJS.ErrnoException) => this.onExit(run, null, null, `failed to start ${launch.command}: ${err.code ?? err.message}`));
    child.once('exit', (code, signal) => this.onExit(run, code, signal, null));
    if (pid === null) return; // the 'error' event follows
    this.writeState(run);
    this.ctx.emit(this.event('NORMAL', 'Started', `Started process ${pid} on port ${port}`));
    this.pushReport();
    this.probeReadiness(run);
  }

  private newRun(
    pid: number | null,
    port: number,
    procStartTime: number | null,
    startedMs: number,
    child: SpawnedChild | null,
    launch: LaunchSpec | null,
    resumeLogs: boolean,
  ): Run {
    const tail = new InstanceLogTail(
      this.ctx.instance,
      {
        stdout: join(this.ctx.workDir, 'stdout.raw'),
        stderr: join(this.ctx.workDir, 'stderr.raw'),
        offsets: join(this.ctx.workDir, 'log-offsets.json'),
      },
      this.ctx.logSink,
      this.ctx.now,
      { resume: resumeLogs, maxFileBytes: this.ctx.timing.maxLogFileBytes },
    );
    const run: Run = {
      id: ++this.runSeq,
      pid,
      port,
      procStartTime,
      startedMs,
      child,
      launch,
      tail,
      becameReady: false,
      exited: false,
      exitWaiters: [],
      killReason: null,
    };
    this.run = run;
    this.ready = false;
    this.usage = {};
    this.state = 'WAITING';
    this.reason = undefined;
    this.every(this.ctx.timing.logPollMs, run, () => run.tail.drain());
    return run;
  }

  private writeState(run: Run): void {
    if (run.pid === null) return;
    const d = this.ctx.deployment;
    writeStateFile(this.ctx.workDir, {
      versionId: d.versionId,
      groupName: d.groupName,
      versionName: d.versionName,
      instance: this.ctx.instance,
      index: this.ctx.index,
      pid: run.pid,
      procStartTime: run.procStartTime,
      port: run.port,
      startedAt: new Date(run.startedMs).toISOString(),
      specHash: this.ctx.specHash,
      restartCount: this.restartCount,
      placement: this.ctx.placement,
      ready: this.run === run && this.ready,
    });
  }

  private onExit(run: Run, code: number | null, signal: NodeJS.Signals | null, spawnError: string | null): void {
    if (run.exited) return;
    run.exited = true;
    run.tail.drain(true);
    if (run.pid !== null) killGroup(run.pid, 'SIGKILL'); // stragglers of the group
    removeStateFile(this.ctx.workDir);
    run.exitWaiters.splice(0).forEach((w) => w());
    if (this.run !== run) return;
    this.ready = false;
    if (this.stopping) return;

    if (this.restartRequested) {
      this.restartRequested = false;
      this.restartCount += 1;
      this.ctx.onChange();
      void this.spawnRun();
      return;
    }

    const uptime = this.ctx.now().getTime() - run.startedMs;
    if (uptime >= this.ctx.timing.backoff.resetAfterMs) this.backoffStep = 0;
    if (!run.becameReady) this.crashesBeforeReady += 1;
    const cause =
      run.killReason ??
      spawnError ??
      (code !== null ? `exit code ${code}` : signal ? `killed by ${signal}` : 'exited (exit code unknown: adopted process)');
    const stderr = run.tail.lastStderr(3);
    run.tail.clearRecent();
    const reason = stderr.length > 0 ? `${cause}: ${stderr.join(' | ')}` : cause;

    if (this.crashesBeforeReady >= this.ctx.timing.backoff.crashLoopLimit || spawnError) {
      const attempts = spawnError ? 1 : this.crashesBeforeReady;
      this.ctx.emit(this.event('WARNING', 'BackOff', `Back-off restarting failed instance: gave up after ${attempts} failed starts (${cause})`));
      this.giveUp(`CrashLoopBackOff: ${reason}`);
      return;
    }
    const delay = backoffDelay(this.ctx.timing.backoff, this.backoffStep);
    this.backoffStep += 1;
    // the state first: reports are applied in order, and the replica leaving the routes is
    // what the data plane is waiting for (its version's share fails until then)
    this.setState('WAITING', `CrashLoopBackOff: ${reason}; restarting in ${Math.round(delay / 100) / 10}s`);
    this.ctx.emit(this.event('WARNING', 'BackOff', `Back-off restarting failed instance (${cause})`));
    this.ctx.onChange();
    this.pendingStart = setTimeout(() => {
      this.pendingStart = null;
      this.restartCount += 1;
      void this.spawnRun();
    }, delay);
  }

  private giveUp(reason: string): void {
    this.failed = true;
    this.ready = false;
    this.setState('FAILED', reason);
    this.ctx.onChange();
  }

  private async terminate(run: Run): Promise<void> {
    if (run.exited || run.pid === null) return;
    const exited = new Promise<void>((resolve) => run.exitWaiters.push(resolve));
    killGroup(run.pid, 'SIGTERM');
    const grace = delay(this.ctx.timing.gracePeriodMs);
    await Promise.race([exited, grace.promise]);
    grace.cancel();
    if (!run.exited) {
      killGroup(run.pid, 'SIGKILL');
      await exited;
    }
    // The leader is gone and the group got SIGKILL: wait until the kernel has ended the rest.
    await waitGroupGone(run.pid);
  }

  // ───────────────────────── probes ─────────────────────────

  private probe(run: Run, which: 'ready' | 'health'): Promise<ProbeResult> {
    const probe: Probe = run.launch?.probe ?? this.probeForAdopted();
    const timeout = this.ctx.timing.probeTimeoutMs;
    if (probe.kind === 'tcp') return tcpProbe(run.port, timeout);
    return httpProbe(run.port, which === 'ready' ? probe.readyPath : probe.healthPath, timeout);
  }

  private probeForAdopted(): Probe {
    return this.ctx.deployment.source.kind === 'model' ? { kind: 'http', readyPath: '/ready', healthPath: '/health' } : { kind: 'tcp' };
  }

  private probeReadiness(run: Run): void {
    const t = this.ctx.timing;
    let failures = 0;
    // the startup timeout counts from now, not from the process's start: an adopted replica
    // has been up for long, and one slow probe must not get it killed
    const since = this.ctx.now().getTime();
    const tick = async () => {
      if (this.run !== run || run.exited || this.stopping) return;
      const result = await this.probe(run, 'ready');
      if (this.run !== run || run.exited || this.stopping) return;
      if (result.ok) {
        run.becameReady = true;
        this.crashesBeforeReady = 0;
        this.ready = true;
        this.writeState(run);
        this.setState('RUNNING', undefined);
        this.ctx.onChange();
        this.watchLiveness(run);
        return;
      }
      failures += 1;
      if (failures % t.unhealthyEventEvery === 0) {
        this.ctx.emit(this.event('WARNING', 'Unhealthy', `Readiness probe failed: ${result.error}`));
      }
      if (this.ctx.now().getTime() - since > t.startupTimeoutMs) {
        run.killReason = `not ready within ${Math.round(t.startupTimeoutMs / 1000)}s (${result.error})`;
        this.ctx.emit(this.event('NORMAL', 'Killing', `Instance did not become ready in time, will be restarted`));
        void this.terminate(run);
        return;
      }
      this.later(t.readinessPeriodMs, run, tick);
    };
    void tick();
  }

  /**
   * One readiness probe for an adopted replica that was serving: it goes on to the liveness
   * watch, or, not answering, leaves the routes and waits to be ready like a starting one.
   */
  private confirmAdopted(run: Run): void {
    void (async () => {
      const result = await this.probe(run, 'ready');
      if (this.run !== run || run.exited || this.stopping) return;
      if (result.ok) {
        this.watchLiveness(run);
        return;
      }
      this.ready = false;
      this.setState('WAITING', `readiness probe failed after adoption: ${result.error}`);
      this.ctx.onChange();
      this.probeReadiness(run);
    })();
  }

  private watchLiveness(run: Run): void {
    const t = this.ctx.timing;
    let failures = 0;
    const tick = async () => {
      if (this.run !== run || run.exited || this.stopping) return;
      const result = await this.probe(run, 'health');
      if (this.run !== run || run.exited || this.stopping) return;
      if (result.ok) failures = 0;
      else {
        failures += 1;
        this.ctx.emit(this.event('WARNING', 'Unhealthy', `Liveness probe failed: ${result.error}`));
        if (failures >= t.livenessFailureThreshold) {
          run.killReason = `liveness probe failed ${failures} times (${result.error})`;
          this.ctx.emit(this.event('NORMAL', 'Killing', 'Instance failed liveness probe, will be restarted'));
          void this.terminate(run);
          return;
        }
      }
      this.later(t.livenessPeriodMs, run, tick);
    };
    this.later(t.livenessPeriodMs, run, tick);
  }

  private pollAdoptedExit(run: Run): void {
    this.every(this.ctx.timing.adoptedExitPollMs, run, () => {
      if (!run.exited && run.pid !== null && !isSameProcess(run.pid, run.procStartTime)) this.onExit(run, null, null, null);
    });
  }

  // ───────────────────────── helpers ─────────────────────────

  private later(ms: number, run: Run, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.run === run && !run.exited) fn();
    }, ms);
    this.timers.add(timer);
  }

  private every(ms: number, run: Run, fn: () => void): void {
    const timer = setInterval(() => {
      if (run.exited) {
        clearInterval(timer);
        this.timers.delete(timer);
        return;
      }
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private clearPendingStart(): void {
    if (this.pendingStart) clearTimeout(this.pendingStart);
    this.pendingStart = null;
  }

  /** Drop every timer (after stop, or when the orchestrator closes). */
  dispose(): void {
    this.clearPendingStart();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.run?.tail.drain(true);
  }

  /** Let go of the process without stopping it (the next control plane adopts it). */
  release(): void {
    this.dispose();
    this.run?.child?.unref();
  }

  private setState(state: InstanceStateName, reason: string | undefined): void {
    this.state = state;
    this.reason = reason;
    this.pushReport();
  }

  private pushReport(): void {
    this.ctx.emit({ type: 'instance', versionId: this.ctx.deployment.versionId, instance: this.report() });
  }

  private event(level: 'NORMAL' | 'WARNING', reason: string, message: string): OrchestratorReport {
    return { type: 'event', versionId: this.ctx.deployment.versionId, level, resourceKind: 'Instance', resourceName: this.ctx.instance, reason, message };
  }
}

/** Signal a whole process group; a group that is already gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
