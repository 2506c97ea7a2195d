// Forwarding to model runtimes: one keep-alive connection pool per endpoint (undici), round
// robin over a version's endpoints, and the error classes the server needs to decide
// between "try another endpoint" (nothing reached the model) and "answer 5xx".
import { Pool } from 'undici';
import type { EdgeEndpoint, EdgeVersion } from './routing.ts';

export interface UpstreamOptions {
  /** max sockets per endpoint */
  connections?: number;
  /** default request timeout when the route gives none (ms) */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

export interface UpstreamResponse {
  status: number;
  body: Buffer;
  endpoint: EdgeEndpoint;
}

/** Why an upstream call failed: `unreachable` means the model never saw the request. */
export class UpstreamFailure extends Error {
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'broken',
    message: string,
    readonly endpoint: EdgeEndpoint,
  ) {
    super(message);
    this.name = 'UpstreamFailure';
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function classify(err: unknown, endpoint: EdgeEndpoint): UpstreamFailure {
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  const code = e.code ?? e.cause?.code ?? '';
  const msg = `${endpoint.instance} (${endpoint.host}:${endpoint.port}): ${code || e.message || 'failed'}`;
  if (UNREACHABLE.has(code)) return new UpstreamFailure('unreachable', msg, endpoint);
  if (TIMEOUT.has(code)) return new UpstreamFailure('timeout', msg, endpoint);
  return new UpstreamFailure('broken', msg, endpoint);
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  private readonly rr = new Map<string, number>();
  private readonly opts: Required<UpstreamOptions>;

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

  private pool(ep: EdgeEndpoint, connectTimeoutMs: number): Pool {
    const key = `${ep.host}:${ep.port}`;
    let p = this.pools.get(key);
    if (!p) {
      const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
      p = new Pool(`http://${host}:${ep.port}`, {
        connections: this.opts.connections,
        pipelining: 1,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
        connect: { timeout: connectTimeoutMs || this.opts.connectTimeoutMs },
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** POSTs `body` to the endpoint's /invocations; rejects with UpstreamFailure. */
  async invoke(ep: EdgeEndpoint, body: Buffer, headers: Record<string, string>, timeoutMs: number, connectTimeoutMs = 0): Promise<UpstreamResponse> {
    const timeout = timeoutMs > 0 ? timeoutMs : this.opts.timeoutMs;
    try {
      const res = await this.pool(ep, connectTimeoutMs).request({
        path: '/invocations',
        method: 'POST',
        headers,
        body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
      return { status: res.statusCode, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), endpoint: ep };
    } catch (err) {
      throw classify(err, ep);
    }
  }

  /** Closes pools of endpoints no longer in `live` (host:port keys); in-flight calls finish. */
  retain(live: ReadonlySet<string>): void {
    for (const [key, pool] of this.pools) {
      if (live.has(key)) continue;
      this.pools.delete(key);
      void pool.close().catch(() => undefined);
    }
  }

  get poolCount(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
