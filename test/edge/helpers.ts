// Fixtures for the edge tests: the real xDS control loop fed a data-plane model, small
// node:http "runtimes" that answer /invocations with their version name (or the MLflow
// error the real runtime gives), the real policy objects over a StaticPolicySource, and
// an edge wired to all of it. Everything listens on 127.0.0.1 and is stopped by close().
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import path from 'node:path';
import { Registry } from 'prom-client';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { Authorizer, generateApiKey, type JwtSettings } from '../../gateway/authz.ts';
import { InferenceRecorder } from '../../gateway/inference-log/recorder.ts';
import { InferenceLogWriter, type InferenceLogEvent } from '../../gateway/inference-log/writer.ts';
import type { SpoolFs } from '../../gateway/inference-log/spool.ts';
import { StaticPolicySource, type VersionPolicy } from '../../gateway/policy/port.ts';
import { RateLimiter } from '../../gateway/ratelimit/limiter.ts';
import { MemoryBucketStore } from '../../gateway/ratelimit/memory.ts';
import { RedisBucketStore } from '../../gateway/ratelimit/redis.ts';
import { randomUUID } from 'node:crypto';
import { startEdge, type EdgeLimits, type EdgeServer } from '../../gateway/edge/server.ts';
import type { EdgeCors } from '../../gateway/edge/cors.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import type { DataPlaneModel, DataPlaneSettings, DataPlaneVersion } from '../../xds/model.ts';

export const SETTINGS: DataPlaneSettings = {
  listenerPort: 10000,
  gatewayCluster: 'sluice_gateway',
  gatewayHost: '127.0.0.1',
  gatewayPort: 18081,
  stickyHeader: null,
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Fake runtimes

export interface FakeRuntime {
  port: number;
  name: string;
  calls: number;
  /** headers of the last call */
  lastHeaders: IncomingHttpHeaders | null;
  /** answer after this many ms */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * Answers POST /invocations like the real runtime: 422 INVALID_PARAMETER_VALUE when a
 * column of `columns` is missing or a cell is not a number (or a numeric string), else one
 * prediction per row: the version name. (Bodies the edge refuses itself never get here.)
 */
export async function startFakeRuntime(name: string, columns = ['a', 'b']): Promise<FakeRuntime> {
  const rt: FakeRuntime = { port: 0, name, calls: 0, lastHeaders: null, delayMs: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rt.calls++;
      rt.lastHeaders = req.headers;
      const reply = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        const go = () => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        };
        if (rt.delayMs > 0) setTimeout(go, rt.delayMs);
        else go();
      };
      if (req.url !== '/invocations' || req.method !== 'POST') return reply(404, { error_code: 'ENDPOINT_NOT_FOUND', message: 'no' });
      let body: { dataframe_split?: { columns: string[]; data: unknown[][] } };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return reply(400, { error_code: 'BAD_REQUEST', message: 'not JSON' });
      }
      const split = body.dataframe_split;
      if (!split) return reply(400, { error_code: 'BAD_REQUEST', message: 'no dataframe_split' });
      const missing = columns.filter((c) => !split.columns.includes(c));
      if (missing.length > 0) return reply(422, { error_code: 'INVALID_PARAMETER_VALUE', message: `Model is missing inputs ${JSON.stringify(missing)}.`, details: { missing } });
      for (const [r, row] of split.data.entries()) {
        for (const [c, cell] of row.entries()) {
          if (typeof cell !== 'number' && !(typeof cell === 'string' && cell.trim() !== '' && !Number.isNaN(Number(cell)))) {
            return reply(422, { error_code: 'INVALID_PARAMETER_VALUE', message: `column "${split.columns[c]}" row ${r}: expected a number`, details: { column: split.columns[c], row: r } });
          }
        }
      }
      reply(200, { predictions: split.data.map(() => name) });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rt.port = (server.address() as { port: number }).port;
  rt.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return rt;
}

// ---------------------------------------------------------------------------------------
// Models

export interface VersionSpec {
  name: string;
  weight: number;
  ports: number[];
  auth?: boolean;
  qps?: number | null;
  capture?: boolean;
}

export function dpVersion(s: VersionSpec): DataPlaneVersion {
  return {
    versionId: `id-${s.name}`,
    name: s.name,
    weight: s.weight,
    authEnabled: s.auth ?? false,
    qpsLimit: s.qps ?? null,
    inferenceTable: { enabled: s.capture ?? false, sampleRate: 1, maxBodyBytes: 64 * 1024 },
    endpoints: s.ports.map((port, i) => ({ instance: `${s.name}-${i}`, host: '127.0.0.1', port, healthy: true })),
  };
}

/** The policy records the gateway code reads, mirroring the model (as the control plane would). */
export function policiesFor(model: DataPlaneModel, into = new StaticPolicySource()): StaticPolicySource {
  for (const g of model.groups) {
    into.removeGroup(g.name);
    for (const v of g.versions) {
      const p: VersionPolicy = {
        group: g.name,
        version: v.name,
        authEnabled: v.authEnabled,
        qpsLimit: v.qpsLimit,
        keyQpsLimit: null,
        inference: { enabled: v.inferenceTable.enabled, sampleRate: v.inferenceTable.sampleRate, maxBodyBytes: v.inferenceTable.maxBodyBytes },
      };
      into.setVersion(p);
    }
  }
  return into;
}

// ---------------------------------------------------------------------------------------
// The whole stack

export interface Stack {
  xds: XdsControl;
  xdsPort: number;
  edge: EdgeServer;
  url: string;
  policies: StaticPolicySource;
  registry: Registry;
  store: FsObjectStore;
  writer: InferenceLogWriter;
  /** replaces the model, pushes it over xDS and waits until the edge has it */
  setModel(model: DataPlaneModel): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** token buckets in this Redis (under a fresh key prefix) instead of in-process */
  redisUrl?: string;
  /** share buckets between stacks by giving them the same prefix */
  redisPrefix?: string;
  limits?: EdgeLimits;
  jwt?: JwtSettings;
  random?: () => number;
  /** data-plane settings over SETTINGS (e.g. a sticky header) */
  settings?: Partial<DataPlaneSettings>;
  /** the spool's durability mode (default 'background') */
  captureSync?: 'background' | 'always';
  /** the spool's synchronous file calls (a test simulates a full disk) */
  spoolFs?: Partial<SpoolFs>;
  onEvent?: (event: InferenceLogEvent) => void;
  /** the rate limiter the edge uses, built over the stack's policies (e.g. the production fail-open one) */
  rateLimiter?: (policies: StaticPolicySource, registry: Registry) => RateLimiter;
  /** the folder holding the spool and the object store (default: a fresh temp folder, removed on close) */
  dir?: string;
  /** cross-origin callers (gateway/edge/cors.ts) */
  cors?: EdgeCors | null;
}

export async function startStack(initial: DataPlaneModel, opts: StackOptions = {}): Promise<Stack> {
  let model = initial;
  const policies = policiesFor(model);
  const xds = createXdsControl({ loadModel: async () => model, settings: { ...SETTINGS, ...opts.settings }, debounceMs: 1 });
  const xdsPort = await xds.start(0, '127.0.0.1');
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'sluice-edge-'));
  const registry = new Registry();
  const store = new FsObjectStore(path.join(dir, 'objects'));
  const writer = new InferenceLogWriter({
    store,
    spoolDir: path.join(dir, 'spool'),
    maxBatchAgeMs: 200,
    registry,
    ...(opts.captureSync ? { sync: opts.captureSync } : {}),
    ...(opts.spoolFs ? { spoolFs: opts.spoolFs } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  });
  await writer.start();
  const authorizer = new Authorizer({ policies, keyCacheTtlMs: 0, ...(opts.jwt ? { jwt: opts.jwt } : {}) });
  const buckets = opts.redisUrl ? new RedisBucketStore(opts.redisUrl, { keyPrefix: opts.redisPrefix ?? `sluice-test-edge-${randomUUID()}:` }) : new MemoryBucketStore();
  const rateLimiter = opts.rateLimiter ? opts.rateLimiter(policies, registry) : new RateLimiter({ policies, store: buckets, registry });
  const recorder = new InferenceRecorder({ policies, sink: writer, registry });
  const edge = await startEdge({
    port: 0,
    host: '127.0.0.1',
    xds: { address: `127.0.0.1:${xdsPort}`, nodeId: `edge-test-${process.pid}` },
    policy: { authorizer, rateLimiter, recorder },
    metrics: registry,
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.cors ? { cors: opts.cors } : {}),
  });
  const url = `http://127.0.0.1:${edge.port}`;
  return {
    xds,
    xdsPort,
    edge,
    url,
    policies,
    registry,
    store,
    writer,
    async setModel(next) {
      model = next;
      policiesFor(next, policies);
      const before = edge.routing.current();
      await xds.rebuild();
      // wait until the edge's table changed and holds every endpoint and the split of the new
      // model (routes and endpoints arrive as separate xDS resources: one can land before the other)
      const shares = (pairs: [string, number][]) => {
        const total = pairs.reduce((sum, [, w]) => sum + w, 0);
        return pairs.map(([name, w]) => [name, total > 0 ? Math.round((w / total) * 1e3) : 0]);
      };
      // the translator leaves a version without a healthy replica out of the split while another serves
      const splitOf = (versions: DataPlaneModel['groups'][number]['versions']) => {
        const weighted = versions.filter((v) => v.weight > 0);
        const serving = weighted.filter((v) => v.endpoints.some((e) => e.healthy));
        return serving.length > 0 ? serving : weighted;
      };
      const want = JSON.stringify(
        next.groups.map((g) => [
          g.name,
          g.versions.map((v) => [v.name, v.endpoints.filter((e) => e.healthy).map((e) => e.port)]),
          shares(splitOf(g.versions).map((v) => [v.name, v.weight])),
        ]),
      );
      const deadline = Date.now() + 5000;
      for (;;) {
        const t = edge.routing.current();
        const have = JSON.stringify(
          next.groups.map((g) => {
            const eg = t.groups.get(g.name);
            return [
              g.name,
              g.versions.map((v) => [v.name, (eg?.pins.get(v.name)?.endpoints ?? []).map((e) => e.port)]),
              shares((eg?.weighted ?? []).map((w) => [w.version.name, w.weight])),
            ];
          }),
        );
        if (t !== before && have === want) return;
        if (Date.now() > deadline) throw new Error(`edge did not take the new model: have ${have}, want ${want}`);
        await sleep(5);
      }
    },
    async close() {
      await edge.close();
      await xds.close();
      await rateLimiter.close();
      await writer.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function apiKeyFor(policies: StaticPolicySource, group: string, keyId = 'k1', versionName: string | null = null): string {
  const { key, hash } = generateApiKey();
  policies.addKey({ keyId, hash, groupName: group, versionName });
  return key;
}

// ---------------------------------------------------------------------------------------
// HTTP helpers

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: tests look at text
  }
  return { status: res.status, headers: Object.fromEntries([...(res.headers as unknown as Iterable<[string, string]>)]), text, json };
}

export const row = (n = 1) => ({ dataframe_split: { columns: ['a', 'b'], data: Array.from({ length: n }, (_, i) => [i, i + 0.5]) } });

/** A raw HTTP/1.1 request on a given agent-less socket-level client, for keep-alive checks. */
export function rawRequest(
  port: number,
  opts: { path: string; method?: string; headers?: Record<string, string | number>; agent?: import('node:http').Agent },
  write: (req: import('node:http').ClientRequest) => void,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; socketReused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: opts.path, method: opts.method ?? 'POST', headers: opts.headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), socketReused: req.reusedSocket }));
    });
    req.on('error', reject);
    write(req);
  });
}

/** One raw HTTP/1.1 connection, to see exactly what happens to the socket between requests. */
export class RawConnection {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(private readonly socket: import('node:net').Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(data, () => resolve());
    });
  }
  /** Reads one response with a content-length body. */
  async response(timeoutMs = 5000): Promise<{ status: number; headers: Record<string, string>; text: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number((head[0] ?? '').split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const line of head.slice(1)) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const len = Number(headers['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const text = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
          this.buf = this.buf.subarray(end + 4 + len);
          return { status, headers, text };
        }
      }
      if (this.closed) throw new Error('connection closed before a full response');
      if (Date.now() > deadline) throw new Error('no response in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

export function predictRequest(group: string, body: string, extra = ''): string {
  return `POST /services/${group}/predict HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}
