// Runs `npm start`'s local edge as a child process of its own (the data plane survives the
// control plane: a hostile GraphQL query or a crash of the control plane does not stop
// predictions) and supervises it: the edge is started with what it needs passed explicitly
// (the xDS address and gRPC token, the database, Redis, the object store, the data dir for its
// spool), it is started again (with backoff) if it dies, and stopped (SIGTERM, then SIGKILL) on shutdown. An edge left running by a control
// plane that crashed (`<data dir>/edge.pid`) is adopted rather than replaced, so a restart of
// the control plane costs no request.
//
// The edge's stdout and stderr go straight into files in the data dir (`edge-logs/`), not
// pipes: a pipe breaks when the control plane crashes, and an adopted edge's output would
// reach nobody. The supervisor tails the files by offset (the local replicas' tail,
// orchestrator/local/logs.ts, offsets saved in `edge-logs/offsets.json`) and hands the lines
// to `logSink`; a control plane that adopts the edge after a crash resumes where the crashed
// one stopped, so the lines the edge wrote meanwhile arrive. The edge's per-version answer stats (the canary guard
// and the autoscaler read them) are pulled each second over its control socket
// (gateway/edge/control-socket.ts) into `stats`.
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../platform/data-dir-lock.ts';
import { EDGE_PID_FILE, EDGE_SOCKET } from '../gateway/edge/control-socket.ts';
import { MAX_WINDOW_SECONDS, VersionStats, type ExportedBucket } from '../gateway/edge/version-stats.ts';
import type { DataPlaneModel } from '../xds/model.ts';
import type { XdsClientStatus } from '../gateway/edge/xds-client.ts';
import { InstanceLogTail, type LogSink } from './orchestrator/local/logs.ts';
import { spawnDirect, type SpawnedChild, type SpawnProcess } from './data-plane-priority.ts';

/** The xDS versions an edge has accepted, per resource kind (gateway/edge/xds-client.ts). */
export type EdgeXdsVersions = XdsClientStatus['versions'];

/** The edge's output files and saved tail offsets, under the data dir. */
export const EDGE_LOG_DIR = 'edge-logs';
/** The platform log store (`<data dir>/platform-logs`, control/logs/store.ts) keeps the edge's lines under this key. */
export const PLATFORM_LOG_DIR = 'platform-logs';
export const EDGE_LOG_KEY = 'edge';
/** How often the edge's output files are read (the lines' arrival time is the read time). */
const LOG_POLL_MS = 250;
/** Consumed output files are cut once they pass this size. */
const LOG_FILE_MAX_BYTES = 8 * 1024 * 1024;

export interface SupervisorLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EdgeSupervisorOptions {
  dataDir: string;
  /** the child's whole environment (the settings it needs set explicitly by the caller) */
  env: Record<string, string | undefined>;
  log: SupervisorLog;
  /** how long the first start may take before start() fails (default 60 s) */
  startTimeoutMs?: number;
  /** injectable for tests: the edge entry point and node arguments */
  command?: { execPath: string; args: string[] };
  /** where the edge's output lines go (npm start: the log store and our stderr) */
  logSink?: LogSink;
  /** injectable for tests: the lines' time */
  now?: () => Date;
  /** how the edge is started: from a thread left at the normal priority (data-plane-priority.ts); default directly */
  spawn?: SpawnProcess;
}

export class EdgeStartError extends Error {
  readonly code = 'EDGE_START_FAILED';
}

/** The edge entry point next to this module: dist/…/main.js when built, the .ts source under tsx. */
function defaultCommand(): { execPath: string; args: string[] } {
  const ext = extname(fileURLToPath(import.meta.url));
  const main = fileURLToPath(new URL(`../gateway/edge/main${ext}`, import.meta.url));
  return { execPath: process.execPath, args: [...process.execArgv, main, '--supervised'] };
}

/** One HTTP exchange over the edge's Unix socket. */
function socketCall<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: string, timeoutMs = 2_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`edge control socket: HTTP ${res.statusCode}`);
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('edge control socket: timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Whether `pid` is a supervised Sluice edge (not some process that reused the pid). */
function isSupervisedEdge(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('edge/main') && cmdline.includes('--supervised');
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Stops an edge a crashed control plane left running (before a database migration: the edge
 * would read a schema that changes under it). Returns its pid, or null if there was none.
 */
export async function stopLeftoverEdge(dataDir: string, timeoutMs = 15_000): Promise<number | null> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, EDGE_PID_FILE), 'utf8').trim(), 10);
  } catch {
    return null;
  }
  if (!isSupervisedEdge(pid)) return null;
  try { process.kill(pid, 'SIGTERM'); } catch { return null; }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return pid;
}

export class EdgeSupervisor {
  /** the edge's per-version answer stats, as of the last pull (at most a second old) */
  readonly stats = new VersionStats();
  private readonly socketPath: string;
  private readonly pidFile: string;
  private child: SpawnedChild | null = null;
  private pid: number | null = null;
  private stopping = false;
  private restarts = 0;
  private lastSecond = 0;
  private statsTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private pulling = false;
  private readonly logDir: string;
  private readonly logTail: InstanceLogTail;
  private logTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: EdgeSupervisorOptions) {
    this.socketPath = join(o.dataDir, EDGE_SOCKET);
    this.pidFile = join(o.dataDir, EDGE_PID_FILE);
    this.logDir = join(o.dataDir, EDGE_LOG_DIR);
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    // always resume: what an edge wrote while no control plane tailed it (adopted, or dead
    // while we were down) is still due
    this.logTail = new InstanceLogTail(
      'edge',
      { stdout: join(this.logDir, 'stdout.log'), stderr: join(this.logDir, 'stderr.log'), offsets: join(this.logDir, 'offsets.json') },
      (lines) => this.o.logSink?.(lines),
      o.now ?? (() => new Date()),
      { resume: true, maxFileBytes: LOG_FILE_MAX_BYTES },
    );
  }

  /** Hands the edge's new output lines to the sink now (also done every LOG_POLL_MS). */
  drainLogs(): void {
    try {
      this.logTail.drain();
    } catch (error) {
      this.o.log.warn({ err: error }, 'could not read the edge output');
    }
  }

  private startTailing(): void {
    clearInterval(this.logTimer);
    this.drainLogs();
    this.logTimer = setInterval(() => this.drainLogs(), LOG_POLL_MS);
  }

  /** The edge's pid now (null while it is being restarted). */
  get edgePid(): number | null {
    return this.pid;
  }

  /** Adopts a surviving edge or starts one; resolves once it answers on its control socket. */
  async start(): Promise<{ pid: number; port: number; adopted: boolean }> {
    const survivor = this.survivor();
    const answer = survivor !== null ? await this.answers(5_000) : null;
    if (survivor !== null && answer !== null) {
      this.pid = survivor;
      this.startTailing();
      this.o.log.info({ pid: survivor }, 'adopted the edge a stopped control plane left running');
      this.watchAdopted();
      this.startPulling();
      // its xDS stream has been backing off while we were away (up to seconds): it hears what
      // changed meanwhile (a replica replaced, a split set just before the crash) at once
      await socketCall<{ reconnecting: boolean }>(this.socketPath, 'POST', '/xds/reconnect')
        .catch((error: unknown) => this.o.log.warn({ err: error }, 'could not tell the adopted edge to reconnect to xDS'));
      return { pid: survivor, port: answer.port, adopted: true };
    }
    if (survivor !== null) {
      this.o.log.warn({ pid: survivor }, 'a left-over edge does not answer; replacing it');
      await this.terminate(survivor, null);
    }
    this.startTailing();
    const started = await this.spawnAndWait(this.o.startTimeoutMs ?? 60_000);
    this.startPulling();
    return { ...started, adopted: false };
  }

  /** Tells the edge to re-read its policies now (a data-plane change); failures are logged. */
  async refresh(): Promise<void> {
    if (this.pid === null) return;
    await socketCall(this.socketPath, 'POST', '/refresh').catch((error: unknown) => this.o.log.warn({ err: error }, 'could not tell the edge to refresh its policies'));
  }

  /** Whether the edge routes every running version of `model` (false if it cannot be asked). */
  async routes(model: DataPlaneModel): Promise<boolean> {
    try {
      return (await socketCall<{ routes: boolean }>(this.socketPath, 'POST', '/routes-model', JSON.stringify(model))).routes;
    } catch {
      return false;
    }
  }

  /** Resolves true once the edge routes `model`, or false after `timeoutMs`. */
  async waitForRoutes(model: () => Promise<DataPlaneModel>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.routes(await model())) return true;
      if (Date.now() > deadline) return false;
      await sleep(200);
    }
  }

  /**
   * Resolves true once the edge has accepted, for every type, the xDS versions `published()`
   * names (read again each time: a rebuild meanwhile moves the target), or false after
   * `timeoutMs`. The versions are content hashes, so equal versions mean the same config.
   */
  async waitForSync(published: () => EdgeXdsVersions | null, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const want = published();
      const have = await socketCall<{ connected: boolean; versions: EdgeXdsVersions }>(this.socketPath, 'GET', '/xds').catch(() => null);
      if (want && have && (Object.keys(want) as (keyof EdgeXdsVersions)[]).every((k) => have.versions[k] === want[k])) return true;
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
  }

  /** Stops the edge (SIGTERM; SIGKILL after `timeoutMs`) and the supervision. */
  async close(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.statsTimer);
    clearInterval(this.watchTimer);
    clearTimeout(this.restartTimer);
    if (this.pid !== null) await this.terminate(this.pid, this.child, timeoutMs);
    clearInterval(this.logTimer);
    // the edge has stopped: its last lines, a final partial one included
    try { this.logTail.drain(true); } catch { /* logged by the periodic drain before */ }
    this.pid = null;
    this.child = null;
  }

  private survivor(): number | null {
    try {
      const pid = Number.parseInt(readFileSync(this.pidFile, 'utf8').trim(), 10);
      return isSupervisedEdge(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  /** The edge's pid and port once it answers on its socket; null after `timeoutMs`. */
  private async answers(timeoutMs: number): Promise<{ pid: number; port: number } | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await socketCall<{ pid: number; port: number }>(this.socketPath, 'GET', `/stats?since=${Number.MAX_SAFE_INTEGER}`, undefined, 1_000);
      } catch {
        if (Date.now() > deadline) return null;
        await sleep(200);
      }
    }
  }

  private async spawnChild(): Promise<SpawnedChild> {
    const { execPath, args } = this.o.command ?? defaultCommand();
    // its own process group: a Ctrl-C at the terminal reaches the control plane, which stops
    // the edge itself (in order); a crash of the control plane leaves the edge serving
    // output into files opened for append (O_APPEND: the tail may cut them once consumed)
    const out = openSync(join(this.logDir, 'stdout.log'), 'a', 0o600);
    const err = openSync(join(this.logDir, 'stderr.log'), 'a', 0o600);
    let child: SpawnedChild;
    try {
      child = await (this.o.spawn ?? spawnDirect)({ command: execPath, args, env: this.o.env, stdout: out, stderr: err, detached: true });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    this.child = child;
    this.pid = child.pid ?? null;
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = null;
        this.pid = null;
      }
      if (!this.stopping) this.restartLater({ code, signal });
    });
    return child;
  }

  private async spawnAndWait(timeoutMs: number): Promise<{ pid: number; port: number }> {
    const child = await this.spawnChild();
    this.logTail.clearRecent();
    const exited = new Promise<'exited'>((r) => child.once('exit', () => r('exited')));
    const up = await Promise.race([this.answers(timeoutMs), exited]);
    if (up !== null && up !== 'exited' && up.pid === child.pid) {
      this.restarts = 0;
      return up;
    }
    if (up !== 'exited') await this.terminate(child.pid ?? -1, child);
    this.drainLogs();
    throw new EdgeStartError(`the edge did not start${up === 'exited' ? ` (exit ${child.exitCode ?? child.signalCode})` : ' in time'}: ${this.logTail.lastStderr(1).join('')}`);
  }

  private restartLater(how: { code: number | null; signal: NodeJS.Signals | null }): void {
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts, 6));
    this.restarts++;
    this.o.log.error({ ...how, restartInMs: delay, restarts: this.restarts }, 'the edge stopped; starting it again');
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.spawnAndWait(60_000).then(
        (started) => this.o.log.info(started, 'edge started again'),
        (error: unknown) => this.o.log.error({ err: error }, 'the edge could not be started again'),
      );
    }, delay);
  }

  /** An adopted edge is no child of ours: its exit is seen by polling its pid. */
  private watchAdopted(): void {
    this.watchTimer = setInterval(() => {
      if (this.stopping || this.child !== null || this.pid === null || isAlive(this.pid)) return;
      clearInterval(this.watchTimer);
      this.pid = null;
      this.restartLater({ code: null, signal: null });
    }, 1_000);
  }

  private startPulling(): void {
    this.lastSecond = Math.floor(Date.now() / 1000) - MAX_WINDOW_SECONDS;
    this.statsTimer = setInterval(() => void this.pull(), 1_000);
  }

  private async pull(): Promise<void> {
    if (this.pulling || this.pid === null) return;
    this.pulling = true;
    try {
      // the last second seen may have grown since: ask again from there
      const { buckets } = await socketCall<{ buckets: ExportedBucket[] }>(this.socketPath, 'GET', `/stats?since=${this.lastSecond}`);
      this.stats.merge(buckets);
      for (const b of buckets) if (b.second > this.lastSecond) this.lastSecond = b.second;
    } catch {
      // restarting, or busy: the next pull catches up (buckets are kept for an hour)
    } finally {
      this.pulling = false;
    }
  }

  private async terminate(pid: number, child: SpawnedChild | null, timeoutMs = 15_000): Promise<void> {
    if (pid <= 0) return;
    const gone = () => (child ? child.exitCode !== null || child.signalCode !== null : !isAlive(pid));
    try { process.kill(pid, 'SIGTERM'); } catch { return; }
    const deadline = Date.now() + timeoutMs;
    while (!gone() && Date.now() < deadline) await sleep(100);
    if (!gone()) {
      this.o.log.warn({ pid, timeoutMs }, 'the edge did not stop in time; killing it');
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
