// Admission for expensive GraphQL operations: one whose estimated cost (limits.ts) is above
// a threshold runs only when its caller has no other expensive operation running and fewer
// than `global` run in the whole process; the others wait in line (FIFO), and a caller with
// `maxWaiting` already in line is refused at once with TOO_MANY_REQUESTS. Each operation
// yields the event loop every few ms (yield.ts); this gate bounds how many such operations
// share it, so /healthz and cheap operations wait for at most `global` slices, however many
// loops a hostile caller (or many callers) run.
import { GraphQLError } from 'graphql';

export interface ExpensiveGateOptions {
  /** estimated cost above which an operation counts as expensive */
  threshold: number;
  /** expensive operations running at once in the process */
  global: number;
  /** expensive operations one caller may have waiting */
  maxWaiting: number;
}

// maxWaiting: one dashboard page loads several documents at once, and with every list costed
// at its real bound (list-bounds.ts) most of them are over the threshold: four waiting
// refused the page's own fifth request
export const DEFAULT_EXPENSIVE_GATE: ExpensiveGateOptions = { threshold: 1_000, global: 2, maxWaiting: 16 };

export const TOO_MANY_EXPENSIVE = 'TOO_MANY_REQUESTS';

interface Waiter {
  caller: string;
  admit: (release: () => void) => void;
}

export class ExpensiveGate {
  private running = 0;
  private readonly runningBy = new Map<string, number>();
  private readonly waitingBy = new Map<string, number>();
  private readonly line: Waiter[] = [];

  constructor(private readonly o: ExpensiveGateOptions = DEFAULT_EXPENSIVE_GATE) {}

  get threshold(): number {
    return this.o.threshold;
  }

  /**
   * Waits for a turn; resolves with the release to call once the operation is done.
   * `refuse: false` never refuses (a subscription's event: its number waiting is bounded by
   * the caller's subscriptions, and dropping it would lose the update).
   */
  async enter(caller: string, options: { refuse?: boolean } = {}): Promise<() => void> {
    if (this.canRun(caller)) return this.start(caller);
    const waiting = this.waitingBy.get(caller) ?? 0;
    if (waiting >= this.o.maxWaiting && options.refuse !== false) {
      throw new GraphQLError(`too many expensive operations of yours are running or waiting (${this.o.maxWaiting} may wait); try again when they are done`, {
        // 429 over HTTP (Apollo answers errors thrown before execution with 500 otherwise)
        extensions: { code: TOO_MANY_EXPENSIVE, http: { status: 429 } },
      });
    }
    this.waitingBy.set(caller, waiting + 1);
    return new Promise<() => void>((admit) => this.line.push({ caller, admit }));
  }

  private canRun(caller: string): boolean {
    return this.running < this.o.global && !this.runningBy.has(caller);
  }

  private start(caller: string): () => void {
    this.running++;
    this.runningBy.set(caller, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.runningBy.delete(caller);
      this.next();
    };
  }

  /** Admits the first waiters in line whose caller may run now. */
  private next(): void {
    for (let i = 0; i < this.line.length && this.running < this.o.global; ) {
      const w = this.line[i] as Waiter;
      if (!this.canRun(w.caller)) { i++; continue; }
      this.line.splice(i, 1);
      const left = (this.waitingBy.get(w.caller) ?? 1) - 1;
      if (left > 0) this.waitingBy.set(w.caller, left);
      else this.waitingBy.delete(w.caller);
      // counted as running before the waiter's continuation runs, so no one overtakes it
      w.admit(this.start(w.caller));
    }
  }
}
