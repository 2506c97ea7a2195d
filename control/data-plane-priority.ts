// Gives the data plane the CPU before the control plane's own work. On a small machine the
// edge and the replicas share the cores with the control plane; a caller looping the most
// expensive GraphQL query the limits allow kept the control plane's thread busy and moved the
// edge's p99 (npm run bench -- trust). Linux lets an unprivileged process lower its own
// priority (raise its nice value) but never raise it back (RLIMIT_NICE is 0 for most users),
// and the nice value is per thread: a thread created later, and a child process forked
// later, start at the nice value of the thread that made them. So lowering the whole control
// plane would also lower the edge and every replica it starts afterwards (the edge is
// restarted by its supervisor, replicas are started on demand).
//
// Hence: before lowering anything, one worker thread is started at the normal priority and
// every data-plane process (the edge, local replicas) is spawned from it; then every other
// thread of the process — the main thread running GraphQL, V8's helpers, libuv's pool if it
// exists yet — gets the lower priority, and threads the main thread creates later inherit it.
// The spawned processes start at the spawner thread's normal priority. Elsewhere than Linux,
// or when it is switched off (SLUICE_CONTROL_PLANE_NICE=0), children are spawned directly.
import { spawn, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';

/** What a data-plane process is started with (stdio: descriptors open in this process). */
export interface SpawnRequest {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  detached: boolean;
  stdout: number;
  stderr: number;
  uid?: number;
  gid?: number;
}

/** What the edge supervisor and the replicas use of a child process (ChildProcess has it). */
export interface SpawnedChild {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
  unref(): void;
}

/**
 * Starts a data-plane process. The descriptors in the request may be closed once the promise
 * settles (the child has its own copies by then).
 */
export type SpawnProcess = (request: SpawnRequest) => Promise<SpawnedChild>;

function spawnOptions(r: SpawnRequest): SpawnOptions {
  return {
    env: r.env,
    detached: r.detached,
    stdio: ['ignore', r.stdout, r.stderr],
    ...(r.cwd ? { cwd: r.cwd } : {}),
    ...(r.uid !== undefined ? { uid: r.uid } : {}),
    ...(r.gid !== undefined ? { gid: r.gid } : {}),
  };
}

/** Spawns from the calling thread: the child starts at that thread's priority. */
export const spawnDirect: SpawnProcess = async (r) => spawn(r.command, r.args, spawnOptions(r));

/** A child spawned by the spawner thread, as seen from the main thread. */
class RemoteChild extends EventEmitter implements SpawnedChild {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  constructor(pid: number | undefined) {
    super();
    this.pid = pid;
  }
  unref(): void {
    // the spawner thread is unref'ed: its children never keep this process alive
  }
}

type FromSpawner =
  | { type: 'ready'; tid: number }
  | { type: 'spawned'; id: number; pid: number | undefined }
  | { type: 'error'; id: number; code: string | undefined; message: string }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null };

// evaluated as the worker's script (no file to find beside a bundle); builtins through
// process.getBuiltinModule, which works whether the eval is CommonJS or an ES module
const SPAWNER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { spawn } = process.getBuiltinModule('node:child_process');
const { readlinkSync } = process.getBuiltinModule('node:fs');
let tid = 0;
try { tid = Number(readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
parentPort.on('message', ({ id, command, args, options }) => {
  let child;
  try {
    child = spawn(command, args, options);
  } catch (error) {
    parentPort.postMessage({ type: 'error', id, code: error.code, message: error.message });
    return;
  }
  parentPort.postMessage({ type: 'spawned', id, pid: child.pid });
  child.once('error', (error) => parentPort.postMessage({ type: 'error', id, code: error.code, message: error.message }));
  child.once('exit', (code, signal) => parentPort.postMessage({ type: 'exit', id, code, signal }));
});
parentPort.postMessage({ type: 'ready', tid });
`;

/** A thread left at the normal priority that spawns the data plane's processes. */
export class Spawner {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (c: RemoteChild) => void; reject: (e: Error) => void }>();
  private readonly children = new Map<number, RemoteChild>();

  private constructor(
    private readonly worker: Worker,
    /** the spawner thread's id (Linux task id), 0 where unknown */
    readonly tid: number,
  ) {
    worker.on('message', (m: FromSpawner) => this.onMessage(m));
    // a spawner gone (terminated at shutdown, or crashed) answers every waiting spawn
    worker.on('error', (error: Error) => this.failPending(error));
    worker.on('exit', (code: number) => this.failPending(new Error(`the spawner thread exited (${code})`)));
    worker.unref();
  }

  static async start(): Promise<Spawner> {
    const worker = new Worker(SPAWNER_SOURCE, { eval: true });
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: FromSpawner) => (m.type === 'ready' ? resolve(m.tid) : reject(new Error(`spawner: unexpected ${m.type}`))));
    });
    return new Spawner(worker, tid);
  }

  readonly spawn: SpawnProcess = (r) =>
    new Promise<SpawnedChild>((resolve, reject) => {
      const id = ++this.seq;
      // held while a spawn is answered (an unref'ed thread would let a process with nothing
      // else to do exit under an awaited spawn); children never hold it
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      // the descriptors are this process's: the spawner thread hands the same numbers on
      this.worker.postMessage({ id, command: r.command, args: r.args, options: spawnOptions(r) });
    });

  private onMessage(m: FromSpawner): void {
    if (m.type === 'ready') return;
    if (m.type === 'spawned') {
      const child = new RemoteChild(m.pid);
      this.children.set(m.id, child);
      this.pending.get(m.id)?.resolve(child);
      this.settled(m.id);
      return;
    }
    const child = this.children.get(m.id);
    if (m.type === 'error') {
      const error = Object.assign(new Error(m.message), { code: m.code }) as NodeJS.ErrnoException;
      const waiting = this.pending.get(m.id);
      if (waiting) {
        this.settled(m.id);
        waiting.reject(error);
      } else if (child) {
        // like ChildProcess: a failed start is an 'error' after the spawn returned
        setImmediate(() => child.emit('error', error));
      }
      return;
    }
    if (child) {
      this.children.delete(m.id);
      child.exitCode = m.code;
      child.signalCode = m.signal;
      child.emit('exit', m.code, m.signal);
    }
  }

  private failPending(error: Error): void {
    for (const [id, waiting] of this.pending) {
      this.settled(id);
      waiting.reject(error);
    }
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Settings of the control plane's priority. */
export interface PriorityOptions {
  /** the nice value the control plane's threads take (0: leave everything as it is) */
  nice: number;
}

export interface DataPlanePriority {
  /** how the edge supervisor and the local orchestrator start processes */
  spawn: SpawnProcess;
  /** the control plane's threads that were lowered (their count), and to what */
  lowered: number;
  nice: number;
  close(): Promise<void>;
}

/** This process's thread ids (Linux), empty elsewhere. */
export function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/**
 * Starts the spawner thread, then lowers every other thread of this process to `nice`.
 * Where threads cannot be told apart (not Linux) or `nice` is 0, nothing is lowered and
 * children are spawned directly.
 */
export async function prioritizeDataPlane(o: PriorityOptions): Promise<DataPlanePriority> {
  const direct: DataPlanePriority = { spawn: spawnDirect, lowered: 0, nice: 0, close: async () => undefined };
  if (o.nice <= 0 || process.platform !== 'linux' || threadIds().length === 0) return direct;
  const spawner = await Spawner.start();
  if (spawner.tid === 0) {
    await spawner.close();
    return direct;
  }
  let lowered = 0;
  for (const tid of threadIds()) {
    if (tid === spawner.tid) continue;
    try {
      // only ever lowers: a thread already nicer than asked keeps its value
      if (getPriority(tid) < o.nice) setPriority(tid, o.nice);
      lowered++;
    } catch {
      // a thread that ended meanwhile
    }
  }
  return { spawn: spawner.spawn, lowered, nice: o.nice, close: () => spawner.close() };
}
