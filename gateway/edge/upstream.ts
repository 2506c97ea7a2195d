// Forwarding to model runtimes: one undici Pool of keep-alive connections per endpoint,
// round robin over a version's endpoints, and the error classes the server needs to decide
// between "try another endpoint" (nothing reached the model) and "answer 5xx".
//
// Calls go through Pool.dispatch with a small handler object rather than node:http's
// ClientRequest/IncomingMessage streams or undici's request() (which wraps the body in a
// stream too): measured on this machine at 4 calls in flight, node:http cost ~60 µs of client
// CPU per call, undici.request ~36 µs, dispatch ~23–30 µs. The handler uses undici's
// callback interface (onConnect/onHeaders/onData/onComplete/onError): in undici 7 it is
// what the client runs natively (the newer onResponse* interface is adapted onto it), and
// it hands the raw header list over without building a header object per response.
import { Pool, type Dispatcher } from 'undici';
import type { EdgeEndpoint, EdgeVersion } from './routing.ts';

export interface UpstreamOptions {
  /** max connections per endpoint */
  connections?: number;
  /** upper bound on a call's time when the route sets none or more (ms) */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** how long an idle upstream connection is kept */
  keepAliveTimeoutMs?: number;
}

export interface UpstreamResponse {
  status: number;
  body: Buffer;
  endpoint: EdgeEndpoint;
}

/**
 * Why an upstream call failed: `unreachable` means the model never saw the request, `reset`
 * that the connection closed before any answer (the runtime died holding it: safe to repeat
 * elsewhere, as Envoy's `reset` retry does), `broken` that it broke after the answer began.
 */
export class UpstreamFailure extends Error {
  constructor(
    readonly kind: 'unreachable' | 'reset' | 'timeout' | 'broken',
    message: string,
    readonly endpoint: EdgeEndpoint,
  ) {
    super(message);
    this.name = 'UpstreamFailure';
  }
}

/** An endpoint as error messages name it (built only when a call fails). */
const whereOf = (ep: EdgeEndpoint) => `${ep.instance} (${ep.host}:${ep.port})`;

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Which runtime route a call goes to: /invocations unless said otherwise. */
export interface UpstreamCall {
  path: string;
  method: 'GET' | 'POST';
}
const INVOCATIONS: UpstreamCall = { path: '/invocations', method: 'POST' };

/** One call's state: a class (not closures) so a call allocates one small object. */
class CallHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private chunks: Buffer[] | null = null;
  private first: Buffer | null = null;
  private reached = false;
  private done = false;
  private abort: ((err?: Error) => void) | null = null;
  /** the call's deadline: ours, because undici's own timers tick at ~0.5 s granularity */
  timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ep: EdgeEndpoint,
    private readonly timeoutMs: number,
    private readonly resolve: (res: UpstreamResponse) => void,
    private readonly reject: (err: UpstreamFailure) => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  /** The deadline passed: answer 504 now and drop the call. */
  expire(): void {
    if (this.done) return;
    this.onError(Object.assign(new Error('deadline'), { code: 'UND_ERR_HEADERS_TIMEOUT' }));
    this.abort?.(Object.assign(new Error('deadline'), { code: 'UND_ERR_ABORTED' }));
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    return true;
  }

  onHeaders(statusCode: number): boolean {
    // 1xx are informational; the final status follows
    if (statusCode >= 200) {
      this.status = statusCode;
      this.reached = true;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.first === null) this.first = chunk;
    else (this.chunks ??= [this.first]).push(chunk);
    return true;
  }

  onComplete(): void {
    if (!this.finish()) return;
    const body = this.chunks ? Buffer.concat(this.chunks) : (this.first ?? Buffer.alloc(0));
    this.resolve({ status: this.status || 502, body, endpoint: this.ep });
  }

  onError(err: Error): void {
    if (!this.finish()) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    let kind: UpstreamFailure['kind'];
    let message: string;
    if (TIMEOUT.has(code)) {
      kind = 'timeout';
      message = `${whereOf(this.ep)}: no answer within ${this.timeoutMs} ms`;
    } else {
      // a kept-alive connection the runtime closed just as we wrote (it had served earlier
      // calls, and this one got no answer at all): the request never got there
      // (undici reports it as UND_ERR_SOCKET with the socket's counters, or as the raw
      // ECONNRESET/EPIPE; a fresh socket that served nothing yet is a broken call)
      const socket = (err as { socket?: { bytesRead?: number } }).socket;
      const closedUnderUs = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
      const staleSocket = closedUnderUs && !this.reached && (socket === undefined || (socket.bytesRead ?? 0) > 0);
      kind = UNREACHABLE.has(code) || staleSocket ? 'unreachable' : closedUnderUs && !this.reached ? 'reset' : 'broken';
      message = `${whereOf(this.ep)}: ${code || err.message}`;
    }
    this.reject(new UpstreamFailure(kind, message, this.ep));
  }
}

export class Upstreams {
  private readonly rr = new Map<string, number>();
  private readonly opts: Required<UpstreamOptions>;
  /** host:port → its pool, made on first use */
  private readonly pools = new Map<string, Pool>();

  constructor(options: UpstreamOptions = {}) {
    this.opts = {
      connections: options.connections ?? 64,
      timeoutMs: options.timeoutMs ?? 60_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 2_000,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 30_000,
    };
  }

  /** The next endpoint of a version by round robin, skipping `avoid` when there is another. */
  next(version: EdgeVersion, avoid?: EdgeEndpoint): EdgeEndpoint | undefined {
    const eps = version.endpoints;
    if (eps.length === 0) return undefined;
    const i = this.rr.get(version.cluster) ?? 0;
    this.rr.set(version.cluster, (i + 1) % 1_000_000_000);
    let ep = eps[i % eps.length] as EdgeEndpoint;
    if (avoid && eps.length > 1 && ep.host === avoid.host && ep.port === avoid.port) ep = eps[(i + 1) % eps.length] as EdgeEndpoint;
    return ep;
  }

  private poolFor(ep: EdgeEndpoint): Pool {
    const key = `${ep.host}:${ep.port}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(`http://${key}`, {
        connections: this.opts.connections,
        pipelining: 1,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.opts.keepAliveTimeoutMs,
        connect: { timeout: this.opts.connectTimeoutMs },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * POSTs `body` to the endpoint's /invocations (or makes `call`: an OIP route); rejects with
   * UpstreamFailure. `timeoutMs` is the route's timeout (0 = none); the edge's own bound
   * applies when it is shorter. It bounds the wait for the answer's headers and, again, for
   * its body. Connecting is bounded by the pool's connect timeout (connectTimeoutMs of the
   * options; the per-call argument is kept for callers and not used).
   */
  invoke(
    ep: EdgeEndpoint,
    body: string | Buffer,
    headers: Record<string, string>,
    timeoutMs: number,
    _connectTimeoutMs = 0,
    call: UpstreamCall = INVOCATIONS,
  ): Promise<UpstreamResponse> {
    const timeout = timeoutMs > 0 ? Math.min(timeoutMs, this.opts.timeoutMs) : this.opts.timeoutMs;
    const pool = this.poolFor(ep);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const handler = new CallHandler(ep, timeout, resolve, reject);
      handler.timer = setTimeout(() => handler.expire(), timeout);
      // undici's own timeouts stay as a backstop
      pool.dispatch(
        { path: call.path, method: call.method, headers, body: call.method === 'GET' && body.length === 0 ? null : body, headersTimeout: timeout + 1000, bodyTimeout: timeout + 1000 },
        handler,
      );
    });
  }

  /** Closes the pools of endpoints no longer in `live` (host:port keys); calls in flight finish. */
  retain(live: ReadonlySet<string>): void {
    for (const [key, pool] of this.pools) {
      if (live.has(key)) continue;
      this.pools.delete(key);
      void pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
