// Joins the two halves Envoy reports about one request, by request id: the ext_proc half
// (headers and bodies) and the access-log half (status, timings, upstream cluster). A
// request becomes ONE exchange when both halves are in, or when the join timeout passes
// with one (a 401 from ext_authz never reaches ext_proc; ALS may be lost). Late halves of
// an already-emitted request are dropped, so there is never a second record.
import type { ExchangeInput } from './record.ts';

export interface ProcessorHalf {
  requestId: string;
  group: string | null;
  version: string | null;
  startedAt: number;
  endedAt: number;
  statusCode: number | null;
  requestBody: Buffer | null;
  responseBody: Buffer | null;
  error: string | null;
  /** the data plane drew the sample itself (ExchangeInput.sampled); absent: the recorder draws */
  sampled?: boolean;
}

export interface AccessLogHalf {
  requestId: string;
  group: string | null;
  version: string | null;
  startedAt: number;
  latencyMs: number | null;
  statusCode: number | null;
  error: string | null;
}

export interface ExchangeJoinerOptions {
  onExchange: (exchange: ExchangeInput) => void;
  /** Called for a joined request whose group/version could not be told. */
  onUnroutable?: (requestId: string) => void;
  /** How long the first half waits for the second; longer than the ALS flush interval. */
  timeoutMs?: number;
  /** How long an emitted request id is remembered to drop late halves. */
  rememberMs?: number;
  /** At most this many emitted ids are remembered (oldest forgotten first), bounding memory at high rates. */
  rememberMax?: number;
  now?: () => number;
}

type Pending = { proc?: ProcessorHalf; log?: AccessLogHalf; deadline: number };


export class ExchangeJoiner {
  private readonly o: ExchangeJoinerOptions;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly rememberMs: number;
  private readonly rememberMax: number;
  private readonly pending = new Map<string, Pending>();
  private readonly emitted = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(options: ExchangeJoinerOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.rememberMs = options.rememberMs ?? 60_000;
    this.rememberMax = options.rememberMax ?? 200_000;
    this.timer = setInterval(() => this.sweep(), Math.max(20, Math.min(500, this.timeoutMs / 4)));
    this.timer.unref();
  }

  addProcessorHalf(half: ProcessorHalf): void {
    this.add(half.requestId, (p) => (p.proc = half));
  }

  addAccessLogHalf(half: AccessLogHalf): void {
    this.add(half.requestId, (p) => (p.log = half));
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private add(requestId: string, set: (p: Pending) => void): void {
    if (!requestId || this.emitted.has(requestId)) return;
    let p = this.pending.get(requestId);
    if (!p) {
      p = { deadline: this.now() + this.timeoutMs };
      this.pending.set(requestId, p);
    }
    set(p);
    if (p.proc && p.log) this.emit(requestId, p);
  }

  /** Emits everything pending now (shutdown). */
  flush(): void {
    for (const [id, p] of this.pending) this.emit(id, p);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }

  sweep(): void {
    const now = this.now();
    for (const [id, p] of this.pending) if (p.deadline <= now) this.emit(id, p);
    for (const [id, until] of this.emitted) {
      if (until > now) break; // insertion order = expiry order
      this.emitted.delete(id);
    }
  }

  private emit(requestId: string, p: Pending): void {
    this.pending.delete(requestId);
    this.emitted.set(requestId, this.now() + this.rememberMs);
    if (this.emitted.size > this.rememberMax) {
      const oldest = this.emitted.keys().next();
      if (!oldest.done) this.emitted.delete(oldest.value);
    }
    const { proc, log } = p;
    // The access log names the upstream cluster actually used: trust it over headers.
    const group = log?.group ?? proc?.group ?? null;
    const version = log?.version ?? proc?.version ?? null;
    if (!group || !version) {
      this.o.onUnroutable?.(requestId);
      return;
    }
    const startedAt = log?.startedAt ?? proc?.startedAt ?? this.now();
    const latencyMs = log?.latencyMs ?? (proc ? proc.endedAt - proc.startedAt : null);
    this.o.onExchange({
      requestId,
      group,
      version,
      startedAt,
      latencyMs,
      statusCode: log?.statusCode ?? proc?.statusCode ?? null,
      requestBody: proc?.requestBody ?? null,
      responseBody: proc?.responseBody ?? null,
      error: proc?.error ?? log?.error ?? null,
      ...(proc?.sampled !== undefined ? { sampled: proc.sampled } : {}),
    });
  }
}
