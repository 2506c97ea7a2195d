// Logs as the Operations API serves them (logSearch, logTail): from the on-disk store where
// the orchestrator keeps one (local replicas), else from the orchestrator's own log API (the
// Kubernetes pod log API), filtered here. Tails are in-process: lines are stored by the
// control plane that runs the replicas.

import type { LogLine, Orchestrator } from '../orchestrator/port.ts';
import { badInput } from '../../platform/errors.ts';
import { checkPattern, DEFAULT_LIMIT, MAX_LIMIT, type LogPage, type LogSearchInput, type LogSearcher } from './search.ts';
import type { LogStore } from './store.ts';

export interface LogServiceDeps {
  orchestrator: Orchestrator;
  /** null where the orchestrator keeps the logs (Kubernetes) */
  store: LogStore | null;
  searcher: LogSearcher | null;
  now?: () => number;
  /** how often a store-less tail asks the orchestrator for new lines (default 1 s) */
  pollMs?: number;
}

/** lines a slow tail subscriber may fall behind before the oldest are skipped */
const TAIL_BUFFER = 10_000;

export class LogService {
  private readonly now: () => number;

  constructor(private readonly deps: LogServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async search(versionId: string, input: LogSearchInput): Promise<LogPage> {
    if (this.deps.store && this.deps.searcher) return this.deps.searcher.search(this.deps.store, versionId, input);
    return this.searchOrchestrator(versionId, input);
  }

  /** New lines of a version (optionally one instance, optionally containing `query`). */
  tail(versionId: string, filter: { instance?: string | null; query?: string | null }): AsyncIterableIterator<LogLine> {
    const query = filter.query ?? '';
    checkPattern(query, false);
    const match = (l: LogLine) => (!filter.instance || l.instance === filter.instance) && (!query || l.line.includes(query));
    const queue: LogLine[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const push = (lines: LogLine[]) => {
      for (const l of lines) if (match(l)) queue.push(l);
      if (queue.length > TAIL_BUFFER) queue.splice(0, queue.length - TAIL_BUFFER);
      wake?.();
    };
    let stop: () => void;
    if (this.deps.store) {
      stop = this.deps.store.follow(versionId, push);
    } else {
      let since = this.now();
      const timer = setInterval(() => {
        void this.deps.orchestrator
          .logs(versionId, { sinceMs: Math.max(1000, this.now() - since + 1000) })
          .then((lines) => {
            const fresh = lines.filter((l) => l.time.getTime() > since);
            if (fresh.length > 0) since = Math.max(...fresh.map((l) => l.time.getTime()));
            push(fresh);
          })
          .catch(() => undefined);
      }, this.deps.pollMs ?? 1000);
      stop = () => clearInterval(timer);
    }
    const finish = () => {
      if (done) return;
      done = true;
      stop();
      wake?.();
    };
    const iterator: AsyncIterableIterator<LogLine> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      async next() {
        while (!done && queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (done) return { value: undefined, done: true };
        return { value: queue.shift() as LogLine, done: false };
      },
      async return() {
        finish();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  /** Store-less search: the orchestrator's lines of the window, filtered and paged by time. */
  private async searchOrchestrator(versionId: string, input: LogSearchInput): Promise<LogPage> {
    if (input.toMs < input.fromMs) throw badInput('`to` is before `from`', { reason: 'BAD_TIME_WINDOW' });
    const limit = input.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badInput(`limit must be 1..${MAX_LIMIT}`, { reason: 'BAD_LIMIT' });
    const query = input.query ?? '';
    checkPattern(query, Boolean(input.regex));
    let beforeMs = Infinity;
    if (input.before) {
      const m = /^t(\d{1,15})$/.exec(input.before);
      if (!m) throw badInput('"before" is not a cursor this server handed out', { reason: 'BAD_CURSOR' });
      beforeMs = Number(m[1]);
    }
    const re = input.regex && query ? new RegExp(query, 'u') : null;
    const lines = await this.deps.orchestrator.logs(versionId, {
      ...(input.instance ? { instance: input.instance } : {}),
      sinceMs: Math.max(1000, this.now() - input.fromMs),
    });
    const matched = lines
      .filter((l) => {
        const t = l.time.getTime();
        if (t < input.fromMs || t > input.toMs || t >= beforeMs) return false;
        if (input.instance && l.instance !== input.instance) return false;
        return re ? re.test(l.line) : !query || l.line.includes(query);
      })
      .reverse();
    const page = matched.slice(0, limit);
    const last = page.at(-1);
    return { lines: page, before: matched.length > limit && last ? `t${last.time.getTime()}` : null, dropped: 0 };
  }
}
