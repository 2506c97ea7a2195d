// Log search over the on-disk store: checks the request (window, cursor, pattern), plans the
// byte ranges, and runs the scan in a worker thread with a time limit. A pattern whose shape
// backtracks catastrophically (a quantified group that itself holds a quantifier, or a
// back-reference) is refused up front; anything else slow is stopped by the time limit and the
// worker replaced, so a search can never hang the server.

import { Worker } from 'node:worker_threads';
import { badInput, SluiceError } from '../../platform/errors.ts';
import { entryPath } from '../../platform/paths.ts';
import type { LogLine } from '../orchestrator/port.ts';
import { decodeCursor, encodeCursor, type LogStore, type ScanRange } from './store.ts';

export interface LogSearchInput {
  instance?: string | null;
  query?: string | null;
  regex?: boolean | null;
  fromMs: number;
  toMs: number;
  before?: string | null;
  limit?: number | null;
}

export interface LogPage {
  /** newest first */
  lines: LogLine[];
  /** cursor for the next (older) page; null when nothing older matches */
  before: string | null;
  dropped: number;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_PATTERN = 512;

/** Refuses patterns that are malformed, too long, or shaped for catastrophic backtracking. */
export function checkPattern(query: string, regex: boolean): void {
  if (query.length > MAX_PATTERN) throw badInput(`the search text is over ${MAX_PATTERN} characters`, { reason: 'QUERY_TOO_LONG' });
  if (query.includes('\n')) throw badInput('the search text cannot span lines', { reason: 'BAD_QUERY' });
  if (!regex) return;
  try {
    new RegExp(query, 'u');
  } catch (error) {
    throw badInput(`not a valid regular expression: ${(error as Error).message}`, { reason: 'BAD_REGEX' });
  }
  const why = unsafeShape(query);
  if (why) throw badInput(`regular expression refused: ${why} can take exponential time`, { reason: 'UNSAFE_REGEX' });
}

/**
 * Star height above one (`(a+)+`, `(\w*x?)*`, `(a*b){2,}`) and back-references are the shapes
 * that make a backtracking engine exponential; finding them is a walk over the pattern.
 */
export function unsafeShape(pattern: string): string | null {
  // per open group: does it contain a quantifier, or an alternation?
  const stack: { quantified: boolean; alternation: boolean }[] = [{ quantified: false, alternation: false }];
  let inClass = false;
  let lastClosed: { quantified: boolean; alternation: boolean } | null = null;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    const top = stack[stack.length - 1] as { quantified: boolean; alternation: boolean };
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) return 'a back-reference';
      i++;
      lastClosed = null;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      lastClosed = null;
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      lastClosed = null;
      continue;
    }
    if (c === ')') {
      lastClosed = stack.length > 1 ? (stack.pop() as { quantified: boolean; alternation: boolean }) : null;
      const parent = stack[stack.length - 1] as { quantified: boolean; alternation: boolean };
      if (lastClosed?.quantified) parent.quantified = true;
      continue;
    }
    if (c === '|') {
      top.alternation = true;
      lastClosed = null;
      continue;
    }
    const unbounded = c === '*' || c === '+' || (c === '{' && /^\{\d+,\d*\}/.test(pattern.slice(i)) && !/^\{(\d+),\1\}/.test(pattern.slice(i)));
    if (unbounded) {
      // (a repeated alternation like `(a|aa)+` is left to the time limit: most are harmless)
      if (lastClosed?.quantified) return 'a repeated group that itself repeats';
      top.quantified = true;
      if (c === '{') i = pattern.indexOf('}', i);
      lastClosed = null;
      continue;
    }
    if (c !== '?') lastClosed = null;
  }
  return null;
}

interface WorkerResult {
  lines: { time: number; instance: string; stream: 'stdout' | 'stderr'; line: string; seq: number; offset: number }[];
  scannedBytes: number;
  complete: boolean;
}

/** One scanner worker, one job at a time (jobs queue); replaced when a job runs out of time. */
export class LogSearcher {
  private worker: Worker | null = null;
  private online: Promise<void> = Promise.resolve();
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  readonly timeoutMs: number;

  constructor(options: { timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? 3_000;
  }

  async search(store: LogStore, versionId: string, input: LogSearchInput): Promise<LogPage> {
    if (input.toMs < input.fromMs) throw badInput('`to` is before `from`', { reason: 'BAD_TIME_WINDOW' });
    const limit = input.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badInput(`limit must be 1..${MAX_LIMIT}`, { reason: 'BAD_LIMIT' });
    const query = input.query ?? '';
    const regex = Boolean(input.regex) && query !== '';
    checkPattern(query, regex);
    const cursor = input.before ? decodeCursor(input.before) : null;
    const ranges = store.plan(versionId, input.fromMs, input.toMs, cursor);
    const dropped = store.dropped(versionId);
    if (ranges.length === 0) return { lines: [], before: null, dropped };
    const result = await this.run({
      ranges,
      fromMs: input.fromMs,
      toMs: input.toMs,
      instance: input.instance ?? null,
      query: query || null,
      regex,
      limit,
    });
    const last = result.lines.at(-1);
    return {
      lines: result.lines.map((l) => ({ time: new Date(l.time), instance: l.instance, stream: l.stream, line: l.line })),
      before: !result.complete && last ? encodeCursor({ seq: last.seq, offset: last.offset }) : null,
      dropped,
    };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private run(job: { ranges: ScanRange[]; fromMs: number; toMs: number; instance: string | null; query: string | null; regex: boolean; limit: number }): Promise<WorkerResult> {
    const next = this.queue.then(() => this.runNow(job));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(job: object): Promise<WorkerResult> {
    const { worker, online } = this.ensureWorker();
    // the limit is the scan's: a worker still booting (slow on a loaded machine) is not counted;
    // held referenced meanwhile, or a process with nothing else to do would exit under the job
    worker.ref();
    await online;
    const id = this.nextId++;
    return new Promise<WorkerResult>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.unref();
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const onMessage = (msg: { id?: number; ok: boolean; result?: WorkerResult; message?: string }) => {
        if (msg.id !== id) return;
        done();
        if (msg.ok && msg.result) resolve(msg.result);
        else reject(badInput(`log search failed: ${msg.message ?? 'unknown error'}`, { reason: 'BAD_QUERY' }));
      };
      const onError = (error: Error) => {
        done();
        this.worker = null;
        reject(new SluiceError('INTERNAL', `log search worker failed: ${error.message}`));
      };
      const timer = setTimeout(() => {
        done();
        // the pattern (or the volume) is too slow: stop it where it is and start afresh
        if (this.worker === worker) this.worker = null;
        void worker.terminate();
        reject(badInput(`the log search ran past its limit of ${this.timeoutMs} ms; narrow the time window or simplify the pattern`, { reason: 'SEARCH_TIMEOUT' }));
      }, this.timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ ...job, id });
    });
  }

  private ensureWorker(): { worker: Worker; online: Promise<void> } {
    if (!this.worker) {
      // from the package root, not this module's URL: in the build this code sits in a bundle elsewhere
      const worker = new Worker(entryPath('control/logs/search-worker.mjs'));
      worker.unref();
      this.worker = worker;
      this.online = new Promise<void>((resolve) => {
        // the worker says `ready` once its module is loaded and listening ('online' comes
        // before that); one that cannot start ends the wait and the job's limit runs out
        const onReady = (msg: { ready?: boolean }) => {
          if (!msg?.ready) return;
          worker.off('message', onReady);
          resolve();
        };
        worker.on('message', onReady);
        worker.once('error', () => resolve());
        worker.once('exit', () => resolve());
      });
    }
    return { worker: this.worker, online: this.online };
  }
}
