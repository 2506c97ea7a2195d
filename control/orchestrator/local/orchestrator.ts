// The local orchestrator, the embedded default: each version's replicas run as processes on
// this machine (`{group}-{version}-{index}` on free loopback ports), placed against the
// configured capacity of the shared pool or a dedicated resource group's nodes, supervised by
// Replica, and reported through `onReport`. State files in the data dir let the next control
// plane adopt or clean up what this one leaves behind.

import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { conflict, notFound } from '../../../platform/errors.ts';
import { versionReadiness } from '../../domain/status.ts';
import type {
  LogLine,
  Orchestrator,
  OrchestratorReport,
  TerminalSession,
  VersionDeployment,
} from '../port.ts';
import { defaultBackoff, type BackoffPolicy } from './backoff.ts';
import { CapacityLedger, type LocalCapacity } from './capacity.ts';
import { baseEnv, defaultRuntimeCommand, specHash, validateDeployment, type RunAs } from './launch.ts';
import { LogStore } from '../../logs/store.ts';
import { LogSearcher } from '../../logs/search.ts';
import { isSameProcess, readGroupUsage, waitGroupGone } from './proc-stats.ts';
import { killGroup, Replica, type ReplicaTiming } from './replica.ts';
import { listStateFiles, removeStateFile, type InstanceStateRecord } from './state-files.ts';
import { openShell } from './terminal.ts';
import type { SpawnProcess } from '../../data-plane-priority.ts';

export interface Clock {
  now(): Date;
}

export interface LocalOrchestratorOptions {
  /** `${SLUICE_DATA_DIR}`: replicas live under `{dataDir}/runtime/{group}/{version}/{instance}` */
  dataDir: string;
  clock?: Clock;
  /** the shared pool; default: this machine's cores and memory, no GPUs */
  capacity?: LocalCapacity;
  /** argv of the model runtime; default `node dist/runtime/server.js` from a build, `node --import <tsx> runtime/server.ts` from source */
  runtimeCommand?: string[];
  timing?: Partial<Omit<ReplicaTiming, 'backoff'>> & { backoff?: Partial<BackoffPolicy> };
  /** how often per-instance CPU and memory are sampled and reported (default 5 s) */
  statsPeriodMs?: number;
  /** where replica output is kept and searched; default `{dataDir}/logs`, 256 MiB per version */
  logStore?: LogStore;
  /** close() stops every replica (default true); false leaves them for the next control plane to adopt */
  stopOnClose?: boolean;
  /** shell for the terminal (default /bin/bash, else /bin/sh) */
  shell?: string;
  /**
   * who image versions' commands run as (resolveRunAs(SLUICE_RUN_AS)); null: as this
   * process, and then only admins may give a version a command (isolatesCommands false)
   */
  runAs?: RunAs | null;
  /** how replica processes are started (control/data-plane-priority.ts); default directly */
  spawn?: SpawnProcess;
}

const defaultTiming: Omit<ReplicaTiming, 'backoff'> = {
  readinessPeriodMs: 500,
  startupTimeoutMs: 120_000,
  livenessPeriodMs: 5_000,
  livenessFailureThreshold: 3,
  probeTimeoutMs: 2_000,
  unhealthyEventEvery: 10,
  gracePeriodMs: 10_000,
  logPollMs: 250,
  // an adopted replica (not our child: no exit event) is looked for in /proc this often; until
  // its death is seen, its version's share of the split fails (no retry crosses versions)
  adoptedExitPollMs: 100,
  maxLogFileBytes: 16 * 1024 * 1024,
};

interface VersionEntry {
  deployment: VersionDeployment;
  hash: string;
  replicas: Map<number, Replica>;
  lastStatus: 'RUNNING' | 'FAILED' | null;
}

export const instanceName = (groupName: string, versionName: string, index: number) => `${groupName}-${versionName}-${index}`;

export function createLocalOrchestrator(options: LocalOrchestratorOptions): Orchestrator & {
  /** free capacity per node (diagnostics) */
  capacityFree(): ReturnType<CapacityLedger['free']>;
  /** the replicas' output, for logSearch and logTail */
  readonly logStore: LogStore;
} {
  const clock = options.clock ?? { now: () => new Date() };
  const now = () => clock.now();
  const runtimeRoot = join(options.dataDir, 'runtime');
  const timing: ReplicaTiming = {
    ...defaultTiming,
    ...options.timing,
    backoff: { ...defaultBackoff, ...options.timing?.backoff },
  };
  const ledger = new CapacityLedger(
    options.capacity ?? { cpu: availableParallelism(), memoryGiB: totalmem() / 2 ** 30, gpus: [] },
  );
  let runtimeCommand = options.runtimeCommand;
  const versions = new Map<string, VersionEntry>();
  const logStore = options.logStore ?? new LogStore({ root: join(options.dataDir, 'logs') });
  // for logs(): the port's simple "newest lines" read, served by the same scanner as logSearch
  const searcher = new LogSearcher();
  const listeners = new Set<(r: OrchestratorReport) => void>();
  const locks = new Map<string, Promise<unknown>>();
  let closed = false;

  const emit = (report: OrchestratorReport) => {
    for (const l of listeners) {
      try {
        l(report);
      } catch {
        // a failing listener must not stop supervision
      }
    }
  };

  /** One mutation at a time per version (deploy, stop, restart); other versions go on. */
  function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    locks.set(key, settled);
    void settled.then(() => {
      if (locks.get(key) === settled) locks.delete(key);
    });
    return next;
  }

  const versionEvent = (d: VersionDeployment, level: 'NORMAL' | 'WARNING', reason: string, message: string): OrchestratorReport => ({
    type: 'event',
    versionId: d.versionId,
    level,
    resourceKind: 'Version',
    resourceName: `${d.groupName}-${d.versionName}`,
    reason,
    message,
  });

  function evaluate(entry: VersionEntry): void {
    const replicas = [...entry.replicas.values()].map((r) => ({
      name: r.instance,
      state: r.failed ? ('FAILED' as const) : r.ready ? ('RUNNING' as const) : ('WAITING' as const),
      reason: r.reason,
    }));
    const verdict = versionReadiness(entry.deployment.replicas, replicas);
    if (verdict && verdict.status !== entry.lastStatus) {
      entry.lastStatus = verdict.status;
      emit({ type: 'version', versionId: entry.deployment.versionId, ...verdict });
    }
  }

  function makeReplica(entry: VersionEntry, index: number, placement: Parameters<CapacityLedger['restore']>[0]): Replica {
    const d = entry.deployment;
    const instance = instanceName(d.groupName, d.versionName, index);
    runtimeCommand ??= defaultRuntimeCommand();
    return new Replica({
      instance,
      index,
      workDir: join(runtimeRoot, d.groupName, d.versionName, instance),
      placement,
      deployment: d,
      specHash: entry.hash,
      runtimeCommand,
      runAs: options.runAs ?? null,
      ...(options.spawn ? { spawn: options.spawn } : {}),
      timing,
      now,
      logSink: (lines) => logStore.append(d.versionId, lines),
      emit,
      onChange: () => evaluate(entry),
    });
  }

  async function removeReplica(entry: VersionEntry, index: number): Promise<void> {
    const replica = entry.replicas.get(index);
    if (!replica) return;
    await replica.stop();
    replica.dispose();
    entry.replicas.delete(index);
    ledger.release(replica.instance);
    emit({ type: 'instanceRemoved', versionId: entry.deployment.versionId, name: replica.instance });
  }

  async function deployLocked(d: VersionDeployment): Promise<void> {
    const hash = specHash(d);
    let entry = versions.get(d.versionId);
    if (entry && entry.hash !== hash) {
      // A changed model, image or size: replace the replicas rather than mix old and new.
      const old = entry;
      await Promise.all([...old.replicas.keys()].map((i) => removeReplica(old, i)));
      versions.delete(d.versionId);
      entry = undefined;
    }
    if (!entry) {
      entry = { deployment: d, hash, replicas: new Map(), lastStatus: null };
      versions.set(d.versionId, entry);
    }
    const current = entry;
    if (current.deployment.replicas !== d.replicas) current.lastStatus = null;
    current.deployment = d;

    for (const index of [...current.replicas.keys()].filter((i) => i >= d.replicas)) await removeReplica(current, index);

    // Starting again after a crash loop: the given-up replicas get a fresh try.
    const failed = [...current.replicas.values()].filter((r) => r.failed);
    if (failed.length > 0) {
      current.lastStatus = null;
      await Promise.all(failed.map((r) => r.restart()));
    }

    const missing: number[] = [];
    for (let i = 0; i < d.replicas; i++) if (!current.replicas.has(i)) missing.push(i);
    if (missing.length > 0) {
      const names = missing.map((i) => instanceName(d.groupName, d.versionName, i));
      const placed = ledger.place(names, d.resources, d.dedicated);
      if (!placed.ok) {
        emit(versionEvent(d, 'WARNING', 'FailedScheduling', placed.reason));
        current.lastStatus = 'FAILED';
        emit({ type: 'version', versionId: d.versionId, status: 'FAILED', reason: `FailedScheduling: ${placed.reason}` });
        if (current.replicas.size === 0) versions.delete(d.versionId);
        return;
      }
      const started: Promise<void>[] = [];
      placed.placements.forEach((placement, k) => {
        const index = missing[k] as number;
        const replica = makeReplica(current, index, placement);
        current.replicas.set(index, replica);
        emit({
          type: 'event',
          versionId: d.versionId,
          level: 'NORMAL',
          resourceKind: 'Instance',
          resourceName: replica.instance,
          reason: 'Scheduled',
          message: `Successfully assigned ${replica.instance} to ${placement.node}`,
        });
        emit({ type: 'instance', versionId: d.versionId, instance: replica.report() });
        started.push(replica.start());
      });
      await Promise.all(started);
    }
    evaluate(current);
  }

  /** Ends a process we know only from its state file: TERM, a grace period, then KILL. */
  async function killRecorded(record: InstanceStateRecord): Promise<void> {
    if (!isSameProcess(record.pid, record.procStartTime)) return;
    killGroup(record.pid, 'SIGTERM');
    const deadline = Date.now() + timing.gracePeriodMs;
    while (Date.now() < deadline && isSameProcess(record.pid, record.procStartTime)) await sleep(50);
    killGroup(record.pid, 'SIGKILL');
    await waitGroupGone(record.pid);
  }

  async function cleanUpRecorded(workDir: string, record: InstanceStateRecord, why: string): Promise<void> {
    if (isSameProcess(record.pid, record.procStartTime)) {
      emit({
        type: 'event',
        versionId: record.versionId,
        level: 'NORMAL',
        resourceKind: 'Instance',
        resourceName: record.instance,
        reason: 'Killing',
        message: `Stopping process ${record.pid} left by a previous control plane: ${why}`,
      });
      await killRecorded(record);
    }
    removeStateFile(workDir);
    emit({ type: 'instanceRemoved', versionId: record.versionId, name: record.instance });
  }

  const orchestrator = {
    kind: 'local' as const,
    isolatesCommands: Boolean(options.runAs),

    async deploy(d: VersionDeployment): Promise<void> {
      validateDeployment(d);
      if (closed) throw conflict('the orchestrator is closed');
      await withLock(d.versionId, () => deployLocked(d));
    },

    async stop(versionId: string): Promise<void> {
      await withLock(versionId, async () => {
        const entry = versions.get(versionId);
        if (entry) {
          await Promise.all([...entry.replicas.keys()].map((i) => removeReplica(entry, i)));
          versions.delete(versionId);
        }
        // Also whatever a previous control plane left for this version and nobody adopted.
        for (const { workDir, record } of listStateFiles(runtimeRoot)) {
          if (record.versionId === versionId) await cleanUpRecorded(workDir, record, 'version stopped');
        }
        emit({ type: 'version', versionId, status: 'STOPPED' });
      });
    },

    async restartInstance(versionId: string, name: string): Promise<void> {
      await withLock(versionId, async () => {
        const entry = versions.get(versionId);
        const replica = entry && [...entry.replicas.values()].find((r) => r.instance === name);
        if (!entry || !replica) throw notFound(`no instance ${name} in this version`);
        entry.lastStatus = entry.lastStatus === 'FAILED' ? null : entry.lastStatus;
        await replica.restart();
      });
    },

    async logs(versionId: string, opts: { instance?: string; sinceMs?: number; limit?: number } = {}): Promise<LogLine[]> {
      const want = Math.min(opts.limit ?? 5000, 5000);
      const toMs = now().getTime();
      const out: LogLine[] = [];
      let before: string | null = null;
      while (out.length < want) {
        const page = await searcher.search(logStore, versionId, {
          fromMs: opts.sinceMs !== undefined ? toMs - opts.sinceMs : 0,
          toMs: Number.MAX_SAFE_INTEGER,
          instance: opts.instance ?? null,
          limit: Math.min(1000, want - out.length),
          before,
        });
        out.push(...page.lines);
        before = page.before;
        if (!before) break;
      }
      return out.reverse();
    },

    async openTerminal(versionId: string, name: string): Promise<TerminalSession> {
      const replica = [...(versions.get(versionId)?.replicas.values() ?? [])].find((r) => r.instance === name);
      if (!replica) throw notFound(`no instance ${name} in this version`);
      const env = Object.keys(replica.env).length > 0 ? replica.env : baseEnv();
      return openShell({ cwd: replica.workDir, env, ...(options.shell ? { shell: options.shell } : {}) });
    },

    onReport(listener: (r: OrchestratorReport) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async reconcile(wanted: VersionDeployment[]): Promise<void> {
      wanted.forEach(validateDeployment);
      const byId = new Map(wanted.map((d) => [d.versionId, d]));
      for (const id of [...versions.keys()]) if (!byId.has(id)) await orchestrator.stop(id);

      const known = new Set<number>();
      for (const entry of versions.values()) for (const r of entry.replicas.values()) if (r.pid !== null) known.add(r.pid);

      for (const { workDir, record } of listStateFiles(runtimeRoot)) {
        if (known.has(record.pid)) continue;
        const want = byId.get(record.versionId);
        const alive = isSameProcess(record.pid, record.procStartTime);
        if (!alive) {
          removeStateFile(workDir);
          if (!want) emit({ type: 'instanceRemoved', versionId: record.versionId, name: record.instance });
          continue;
        }
        const adopted =
          want !== undefined &&
          specHash(want) === record.specHash &&
          record.index < want.replicas &&
          record.instance === instanceName(want.groupName, want.versionName, record.index) &&
          (await withLock(want.versionId, async () => adopt(want, record)));
        if (!adopted) await cleanUpRecorded(workDir, record, want ? 'its version changed' : 'its version is not wanted');
      }
      for (const d of wanted) await orchestrator.deploy(d);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(statsTimer);
      await searcher.close();
      if (options.stopOnClose ?? true) {
        await Promise.all([...versions.keys()].map((id) => orchestrator.stop(id)));
      } else {
        for (const entry of versions.values()) for (const r of entry.replicas.values()) r.release();
      }
      listeners.clear();
    },

    capacityFree: () => ledger.free(),
    logStore,
  };

  function adopt(d: VersionDeployment, record: InstanceStateRecord): boolean {
    let entry = versions.get(d.versionId);
    if (entry && (entry.hash !== record.specHash || entry.replicas.has(record.index))) return false;
    if (!ledger.restore(record.placement, d.dedicated)) return false;
    if (!entry) {
      entry = { deployment: d, hash: record.specHash, replicas: new Map(), lastStatus: null };
      versions.set(d.versionId, entry);
    }
    const replica = makeReplica(entry, record.index, record.placement);
    entry.replicas.set(record.index, replica);
    replica.adopt(record);
    return true;
  }

  const statsTimer = setInterval(() => {
    const replicas = [...versions.values()].flatMap((e) => [...e.replicas.values()]);
    const pids = replicas.map((r) => r.pid).filter((p): p is number => p !== null);
    if (pids.length === 0) return;
    const usage = readGroupUsage(pids);
    const at = now().getTime();
    for (const r of replicas) r.sampleUsage(usage, at);
  }, options.statsPeriodMs ?? 5_000);
  statsTimer.unref();

  return orchestrator;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
