// One subscriber's mailbox, shared by the in-process and Redis pub/subs: an async iterator
// over a bounded queue. A consumer that falls behind loses the OLDEST queued payloads (they
// are change notifications: the newest state matters most) and the loss is counted in
// `dropped` and reported through `onDrop`, never silently. `return()` unsubscribes.

export const DEFAULT_SUBSCRIPTION_BUFFER = 1024;

export interface Subscription<T> extends AsyncIterableIterator<T> {
  readonly topic: string;
  /** payloads discarded because this consumer lagged more than the buffer size */
  readonly dropped: number;
  /** resolves once the broker has confirmed the subscription (at once in-process) */
  readonly ready: Promise<void>;
}

export interface MailboxOptions {
  topic: string;
  bufferSize: number;
  ready: Promise<void>;
  /** called once when the consumer stops (return/throw) so the pub/sub can forget it */
  onClose: () => void;
  onDrop?: ((topic: string, droppedTotal: number) => void) | undefined;
}

export class Mailbox<T> implements Subscription<T> {
  readonly topic: string;
  readonly ready: Promise<void>;
  #dropped = 0;
  // A ring would save the O(n) shift, but shift on a small array is cheap and drops are rare.
  readonly #queue: T[] = [];
  #waiter: ((result: IteratorResult<T>) => void) | null = null;
  #done = false;
  readonly #options: MailboxOptions;

  constructor(options: MailboxOptions) {
    this.topic = options.topic;
    this.ready = options.ready;
    this.#options = options;
    // A rejected `ready` that nobody awaits must not crash the process.
    this.ready.catch(() => undefined);
  }

  get dropped(): number {
    return this.#dropped;
  }

  get closed(): boolean {
    return this.#done;
  }

  /** Called by the pub/sub for each payload on this topic. */
  push(payload: T): void {
    if (this.#done) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter({ value: payload, done: false });
      return;
    }
    if (this.#queue.length >= this.#options.bufferSize) {
      this.#queue.shift();
      this.#dropped += 1;
      this.#options.onDrop?.(this.topic, this.#dropped);
    }
    this.#queue.push(payload);
  }

  /** Ends the iterator from the pub/sub's side (close()); queued payloads are discarded. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue.length = 0;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#queue.length > 0) return Promise.resolve({ value: this.#queue.shift() as T, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) {
      // Two overlapping next() calls would otherwise lose the first waiter.
      return Promise.reject(new Error('subscription: next() called while a previous next() is pending'));
    }
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#done) {
      this.end();
      this.#options.onClose();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
