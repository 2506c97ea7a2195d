// The local edge: Sluice's own HTTP front door where no Envoy runs. It serves
// `POST /services/{group}/predict` from a routing table it gets over xDS like Envoy does,
// and runs the same policy code in-process that Envoy reaches over gRPC:
//
//   route (404 / 503 / pin / weighted pick) → headers (413 by length, 415) → auth (401/403)
//   → rate limit (429) → body (413, 408, 400) → runtime /invocations (round robin,
//   retry once when unreachable or reset before the answer, 504 on timeout) → answer → inference record
//
// plus GET /healthz and GET /metrics. Each stage is one function below.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Registry } from 'prom-client';
import type { Authorizer, AuthzDecision } from '../authz.ts';
import type { RateDecision, RateLimiter } from '../ratelimit/limiter.ts';
import type { InferenceRecorder } from '../inference-log/recorder.ts';
import { drain, readBody, type BodyLimits } from './body.ts';
import { EdgeError } from './errors.ts';
import { silentLogger, type EdgeLogger } from './log.ts';
import { createEdgeMetrics, type SeriesTally } from './metrics.ts';
import { envelope } from './envelope.ts';
import { PIN_HEADER, pickVersion, type EdgeVersion, type RoutingTable } from './routing.ts';
import { UpstreamFailure, Upstreams, type UpstreamCall, type UpstreamResponse } from './upstream.ts';
import { parsePredictBody, scoringContent } from './validate.ts';
import { createEdgeOip, isOipPath } from './oip.ts';
import { mlflowErrorBody, readErrorBody } from '../../platform/scoring/errors.ts';
import { stickyValue } from './sticky.ts';
import { ShadowTraffic } from './shadow.ts';
import { AdmissionControl } from '../ratelimit/admission.ts';
import { VersionStats } from './version-stats.ts';
import { waitForEndpoint } from './cold-start.ts';
import type { VersionPolicy } from '../policy/port.ts';
import { XdsRoutingClient, type RoutingSource } from './xds-client.ts';
import { parsePredictPath } from '../../xds/contract.ts';
import type { EdgeCors } from './cors.ts';

export interface EdgePolicy {
  /** Required: a route with auth on is refused (503) rather than let through without one. */
  authorizer?: Authorizer;
  rateLimiter?: RateLimiter;
  recorder?: InferenceRecorder;
  /** QUEUE mode and concurrency caps; built over the rate limiter when not given */
  admission?: AdmissionControl;
}

export interface EdgeLimits {
  /** request body limit (default 10 MiB) */
  maxBodyBytes?: number;
  /** time for the whole body once headers are in (default 30 s) */
  bodyTimeoutMs?: number;
  /** time for the request headers (slowloris guard; default 10 s) */
  headersTimeoutMs?: number;
  /** total header bytes before 431 (default 16 KiB) */
  maxHeaderBytes?: number;
  /** upper bound on the upstream timeout; the route's own (from xDS) applies when shorter (default 60 s) */
  upstreamTimeoutMs?: number;
  /** sockets per runtime endpoint (default 64) */
  upstreamConnections?: number;
  /** mirrored copies in flight at most; more are dropped and counted (default 64) */
  shadowInFlight?: number;
  /** how long a request waits for a scaled-to-zero version's first replica (default 60 s) */
  coldStartTimeoutMs?: number;
  /** idle keep-alive for client connections (default 65 s) */
  keepAliveTimeoutMs?: number;
}

export interface StartEdgeOptions {
  port: number;
  host?: string;
  /** routes over xDS from this ADS server… */
  xds?: { address: string; nodeId?: string; readyTimeoutMs?: number; token?: string | null };
  /** …or from a routing source of the caller's */
  routing?: RoutingSource;
  policy: EdgePolicy;
  metrics?: Registry;
  log?: EdgeLogger;
  limits?: EdgeLimits;
  /** weighted pick; injectable for tests */
  random?: () => number;
  /**
   * Wait until the inference record is durable before answering (default true): a crash
   * then never loses the record of an answered request. false answers first.
   */
  awaitRecord?: boolean;
  /** cross-origin callers (the dashboard's debugger): CORS headers and preflights (cors.ts) */
  cors?: EdgeCors | null;
}

export interface EdgeServer {
  port: number;
  host: string;
  server: Server;
  routing: RoutingSource;
  registry: Registry;
  /** per-version answers over a sliding window (the canary guard reads it) */
  stats: VersionStats;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';
/** What one request has learnt so far; the answer and its record are built from it. */
export interface Exchange {
  requestId: string;
  startedAt: number;
  t0: number;
  group: string;
  version: EdgeVersion | null;
  capture: boolean;
  clientRequestId: string | null;
  /** raw bytes until parsed, then the text (what the record stores, decoded once) */
  requestBody: Buffer | string | null;
  bytesIn: number;
  error: string | null;
  /** the (group, version) series its answer is counted in, once the version is known */
  series?: SeriesTally;
  /** which protocol the request spoke (the inference table reads its body accordingly) */
  protocol?: 'oip';
}

export async function startEdge(options: StartEdgeOptions): Promise<EdgeServer> {
  const log = options.log ?? silentLogger;
  const registry = options.metrics ?? new Registry();
  const metrics = createEdgeMetrics(registry);
  const random = options.random ?? Math.random;
  const awaitRecord = options.awaitRecord ?? true;
  const { authorizer, rateLimiter, recorder } = options.policy;
  const admission = options.policy.admission ?? (rateLimiter ? new AdmissionControl(rateLimiter) : undefined);
  const L = options.limits ?? {};
  const bodyLimits: BodyLimits = {
    maxBytes: L.maxBodyBytes ?? 10 * 1024 * 1024,
    timeoutMs: L.bodyTimeoutMs ?? 30_000,
    drainCapBytes: Math.max(64 * 1024 * 1024, (L.maxBodyBytes ?? 0) * 4),
  };
  const upstreams = new Upstreams({ timeoutMs: L.upstreamTimeoutMs ?? 60_000, connections: L.upstreamConnections ?? 64 });
  const stats = new VersionStats();
  const shadow = new ShadowTraffic({ upstreams, recorder, registry, log, random, ...(L.shadowInFlight ? { maxInFlight: L.shadowInFlight } : {}) });

  let ownClient: XdsRoutingClient | undefined;
  let routing: RoutingSource;
  if (options.routing) routing = options.routing;
  else if (options.xds) {
    ownClient = new XdsRoutingClient({ address: options.xds.address, nodeId: options.xds.nodeId, token: options.xds.token ?? null, log }).start();
    routing = ownClient;
    const ok = await ownClient.ready(options.xds.readyTimeoutMs ?? 5000);
    if (!ok) log.warn({ address: options.xds.address }, 'no routes from xDS yet; answering 503 until they arrive');
  } else throw new Error('startEdge needs xds or routing');

  // Idle sockets to endpoints that left the table are dropped (in-flight calls finish).
  const unwatch = routing.onChange((table) => upstreams.retain(liveEndpoints(table)));

  // -------------------------------------------------------------------------------------
  // Answering

  /** Writes a JSON answer; the header object is built once, in one order, with no copies. */
  function send(res: ServerResponse, status: number, body: string, requestId?: string, extra?: Record<string, string>, version?: string): number {
    const bytes = Buffer.byteLength(body);
    if (res.headersSent || res.destroyed) return 0;
    const h: OutgoingHttpHeaders = { 'content-type': JSON_TYPE, 'content-length': bytes };
    if (requestId !== undefined) h['x-request-id'] = requestId;
    if (extra) for (const k of Object.keys(extra)) h[k] = extra[k];
    if (version !== undefined) h[PIN_HEADER] = version;
    res.writeHead(status, h);
    res.end(body);
    return bytes;
  }

  /**
   * Answers (after the inference record is written, when the request is captured and
   * awaitRecord): a promise only then, so an uncaptured answer costs no turn of the
   * microtask queue.
   */
  function answer(res: ServerResponse, ex: Exchange, status: number, body: string, headers?: Record<string, string>): Promise<void> | undefined {
    if (ex.capture && recorder && ex.version) {
      const record = recorder
        .record({
          requestId: ex.requestId,
          clientRequestId: ex.clientRequestId,
          group: ex.group,
          version: ex.version.name,
          startedAt: ex.startedAt,
          latencyMs: performance.now() - ex.t0,
          statusCode: status,
          requestBody: ex.requestBody,
          responseBody: body,
          error: ex.error,
          ...(ex.protocol ? { protocol: ex.protocol } : {}),
        })
        .catch((err: unknown) => {
          log.error({ requestId: ex.requestId, err: (err as Error).message }, 'inference record not written');
        });
      if (awaitRecord) return record.then(() => finish(res, ex, status, body, headers));
    }
    finish(res, ex, status, body, headers);
    return undefined;
  }

  /** Sends the answer and counts it. */
  function finish(res: ServerResponse, ex: Exchange, status: number, body: string, headers?: Record<string, string>): void {
    const group = ex.group;
    const version = ex.version?.name ?? '';
    const out = send(res, status, body, ex.requestId, headers, ex.version?.name);
    const tookMs = performance.now() - ex.t0;
    // (the series found when the version was picked; an answer given before that, or by the OIP path, looks it up)
    const series = ex.series !== undefined && ex.series.version === version && ex.series.group === group ? ex.series : metrics.tally.series(group, version);
    series.answered(status, tookMs / 1000, ex.bytesIn, out);
    if (ex.version) stats.record(group, version, status, tookMs);
  }

  function fail(res: ServerResponse, ex: Exchange, err: EdgeError): Promise<void> | undefined {
    ex.error ??= `${err.code}: ${err.message}`;
    return answer(res, ex, err.status, err.body(ex.requestId), err.headers);
  }

  // -------------------------------------------------------------------------------------
  // Stages

  // The credential and rate-limit stages answer synchronously when they can (a cached API
  // key, the in-process token buckets) and with a promise only when they must wait (a key
  // lookup, a JWT, Redis); a refusal is thrown as the EdgeError to answer with.

  /** The caller's identity (null when the version asks for none); throws EdgeError 401/403/503. */
  function authorize(req: IncomingMessage, group: string, version: EdgeVersion): AuthzDecision | null | Promise<AuthzDecision> {
    if (!version.policy.auth) return null;
    if (!authorizer) throw new EdgeError('AUTH_UNAVAILABLE', 'this service requires a credential and the edge has no authorizer');
    const d = authorizer.decide({ group, version: version.name, authorization: req.headers.authorization });
    return d instanceof Promise ? d.then(allowedOrThrow) : allowedOrThrow(d);
  }

  /** Takes the request's tokens; throws EdgeError 429 when over a limit. */
  function throttle(group: string, version: EdgeVersion, keyId: string | null): Promise<void> | undefined {
    if (!version.policy.rateLimited || !rateLimiter) return undefined;
    const d = rateLimiter.decide({ group, version: version.name, keyId });
    if (d instanceof Promise) return d.then((decided) => underLimitOrThrow(group, version, decided));
    underLimitOrThrow(group, version, d);
    return undefined;
  }

  function underLimitOrThrow(group: string, version: EdgeVersion, d: RateDecision): void {
    if (d.allowed) return;
    metrics.throttled?.inc({ group, version: version.name });
    throw new EdgeError(
      'THROTTLED',
      `rate limit of ${d.limit} requests per second ${d.scope === 'key' ? 'for this API key ' : ''}exceeded`,
      { 'retry-after': String(d.retryAfterSeconds) },
    );
  }

  /** QUEUE mode / concurrency cap: waits for admission or throws the 429; returns the slot's release. */
  async function admit(policy: VersionPolicy, group: string, version: EdgeVersion, keyId: string | null): Promise<() => void> {
    const d = await (admission as AdmissionControl).admit(policy, keyId);
    if (d.allowed) return d.release;
    metrics.throttled?.inc({ group, version: version.name });
    throw new EdgeError(d.code, d.message, { 'retry-after': String(d.retryAfterSeconds) }, 429);
  }

  /**
   * Calls the version's runtimes; one retry on another endpoint of the same version when
   * nothing reached a model or the model never answered (refused, reset before the answer, a
   * 503 while loading) — the retry policy pushed to Envoy (xds/translate.ts EDGE_RETRY_POLICY).
   * Never on another version: Envoy keeps a retry in the picked cluster, and the split is the
   * operator's decision — a version that fails shows its own errors (and the canary guard
   * sees them) until the control plane, seeing no healthy replica, gives its share to the
   * others (both data planes then agree, xds/translate.ts integerWeights).
   */
  async function forward(
    ex: Exchange,
    version: EdgeVersion,
    body: string | Buffer,
    contentType: string = JSON_TYPE,
    call?: (version: EdgeVersion) => UpstreamCall,
  ): Promise<UpstreamResponse> {
    let tried: UpstreamFailure | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const ep = upstreams.next(version, tried?.endpoint);
      // none, or (retrying) the version has no other endpoint than the one that failed
      if (!ep || (tried && ep.host === tried.endpoint.host && ep.port === tried.endpoint.port)) break;
      const headers: Record<string, string> = {
        'content-type': contentType,
        'x-request-id': ex.requestId,
        [PIN_HEADER]: version.name,
      };
      try {
        const res = await upstreams.invoke(ep, body, headers, version.timeoutMs, 0, call?.(version));
        // a runtime still loading its model never saw the request either
        if (res.status === 503 && attempt === 0) {
          tried = new UpstreamFailure('unreachable', `${ep.instance} is not ready`, ep);
          continue;
        }
        return res;
      } catch (err) {
        if (!(err instanceof UpstreamFailure)) throw err;
        log.warn({ requestId: ex.requestId, version: version.name, kind: err.kind, err: err.message }, 'upstream call failed');
        if (err.kind === 'timeout') throw new EdgeError('UPSTREAM_TIMEOUT', `version ${version.name} did not answer in time`);
        if (err.kind === 'broken') throw new EdgeError('UPSTREAM_ERROR', `version ${version.name} broke the connection`);
        tried = err;
      }
    }
    if (tried?.kind === 'reset') throw new EdgeError('UPSTREAM_ERROR', `version ${version.name} broke the connection`);
    if (version.endpoints.length === 0) throw new EdgeError('NO_HEALTHY_ENDPOINT', `version ${version.name} has no ready instance`);
    throw new EdgeError('UPSTREAM_UNREACHABLE', `version ${version.name} could not be reached`);
  }

  /** The runtime's answer as the /predict answer. */
  function translateUpstream(ex: Exchange, up: UpstreamResponse): { status: number; body: string } {
    let parsed: unknown;
    const text = up.body.toString('utf8');
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const obj = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
    const version = ex.version?.name ?? '';
    if (up.status === 200) {
      if (!obj || !Array.isArray(obj.predictions)) {
        throw new EdgeError('UPSTREAM_ERROR', `version ${version} answered without a predictions list`);
      }
      return { status: 200, body: envelope(ex.clientRequestId, ex.requestId, version, text, obj) };
    }
    const e = up.status >= 400 && up.status < 500 ? readErrorBody(text) : null;
    if (e) {
      // the runtime's verdict on the input (422 INVALID_PARAMETER_VALUE, 400, 413 rows) goes through
      ex.error = `${e.code}: ${e.message}`;
      return { status: up.status, body: mlflowErrorBody(e.code, e.message || `HTTP ${up.status}`, ex.requestId, e.details) };
    }
    if (up.status === 503) throw new EdgeError('NO_HEALTHY_ENDPOINT', `version ${version} has no ready instance`);
    if (up.status >= 500) throw new EdgeError('UPSTREAM_ERROR', `version ${version} failed (HTTP ${up.status})`);
    throw new EdgeError('UPSTREAM_ERROR', `version ${version} answered HTTP ${up.status}`);
  }

  async function predict(req: IncomingMessage, res: ServerResponse, ex: Exchange, groupName: string): Promise<void> {
    const table = routing.current();
    if (!table.configured) {
      return fail(res, ex, new EdgeError('EDGE_NOT_READY', 'the edge has no routes yet; try again shortly', { 'retry-after': '1' }));
    }
    const group = table.groups.get(groupName);
    // 404 before anything else: no credential reveals whether a name exists
    if (!group) return fail(res, ex, new EdgeError('NOT_FOUND', `no service ${JSON.stringify(groupName)}`));
    ex.group = group.name;
    if (req.method !== 'POST') {
      return fail(res, ex, new EdgeError('METHOD_NOT_ALLOWED', `${req.url ?? ''} takes POST`, { allow: 'POST' }));
    }
    const pin = req.headers[PIN_HEADER];
    const sticky = group.stickyHeader === null ? undefined : stickyValue(req.headers[group.stickyHeader]);
    const pick = pickVersion(group, typeof pin === 'string' ? pin : undefined, random, sticky);
    if (pick.kind === 'answer') return fail(res, ex, new EdgeError(pick.answer.code, pick.answer.message, undefined, pick.answer.status));
    let version = pick.version;
    if (version.endpoints.length === 0 && version.scaleToZero) {
      // scaled to zero: this request is the autoscaler's cue, and waits for the first replica
      stats.coldStart(group.name, version.name);
      const woken = await waitForEndpoint(routing, group.name, version.name, L.coldStartTimeoutMs ?? 60_000);
      if (!woken) {
        ex.version = version;
        return fail(res, ex, new EdgeError('NO_HEALTHY_ENDPOINT', `version ${version.name} is scaled to zero and no replica came up in time`, { 'retry-after': '5' }));
      }
      version = woken.version;
    }
    ex.version = version;
    ex.capture = version.policy.capture;
    const series = metrics.tally.series(group.name, version.name);
    ex.series = series;
    series.enter();
    let releaseSlot: (() => void) | undefined;
    try {
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > bodyLimits.maxBytes) {
        drain(req, bodyLimits);
        throw new EdgeError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${bodyLimits.maxBytes} bytes`);
      }
      const content = scoringContent(req.headers['content-type']);
      // (each stage is awaited only when it applies and has to wait: no promise, no microtask
      // turn per request for an unused stage or one answered at once)
      let decision: AuthzDecision | null = null;
      if (version.policy.auth) {
        const d = authorize(req, group.name, version);
        decision = d instanceof Promise ? await d : d;
      }
      const keyId = decision?.allowed ? decision.keyId : null;
      const queued = admission?.applies(group.name, version.name);
      if (queued) releaseSlot = await admit(queued, group.name, version, keyId);
      else {
        const limited = throttle(group.name, version, keyId);
        if (limited !== undefined) await limited;
      }
      if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
      const read = readBody(req, bodyLimits);
      const raw = read instanceof Promise ? await read : read;
      ex.bytesIn = raw.length;
      ex.requestBody = raw;
      const { body, text } = parsePredictBody(raw, content);
      ex.requestBody = text;
      ex.clientRequestId = body.clientRequestId;
      if (group.mirror) shadow.mirror(group, version, ex.requestId, ex.clientRequestId, text, content === 'csv' ? 'text/csv' : JSON_TYPE);
      // the bytes as they came (what `text` decodes): no second UTF-8 encoding on the way out
      const up = await forward(ex, version, raw, content === 'csv' ? 'text/csv' : JSON_TYPE);
      const out = translateUpstream(ex, up);
      const answered = answer(res, ex, out.status, out.body);
      if (answered !== undefined) await answered;
    } catch (err) {
      const e = err instanceof EdgeError ? err : internal(err, ex);
      // A stalled body leaves the connection in an unknown state: answer, then close it.
      // (An oversized one is being drained, so its connection stays usable.)
      const closeAfter = e.kind === 'REQUEST_TIMEOUT';
      if (closeAfter) res.setHeader('connection', 'close');
      await fail(res, ex, e);
      if (closeAfter) res.once('finish', () => req.socket.destroy());
    } finally {
      releaseSlot?.();
      series.leave();
    }
  }

  /** fail() as a promise (a throw in it is handled as the other handlers' failures are). */
  async function failLater(res: ServerResponse, ex: Exchange, err: EdgeError): Promise<void> {
    await fail(res, ex, err);
  }

  function internal(err: unknown, ex: Exchange): EdgeError {
    log.error({ requestId: ex.requestId, err: (err as Error).message, stack: (err as Error).stack }, 'edge request failed');
    return new EdgeError('INTERNAL', 'internal error');
  }

  async function metricsEndpoint(res: ServerResponse): Promise<void> {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function healthz(res: ServerResponse): void {
    const t = routing.current();
    send(
      res,
      t.configured ? 200 : 503,
      JSON.stringify({ status: t.configured ? 'ok' : 'waiting for xDS', groups: t.groups.size, xds: t.versions, ...(ownClient ? { connected: ownClient.stats.connected } : {}) }),
    );
  }

  // the Open Inference Protocol's routes, through the same stages (oip.ts)
  const oip = createEdgeOip({ routing, random, bodyLimits, rateLimiter, metrics, authorize, throttle, forward, answer, send, internal });

  const cors = options.cors ?? null;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (cors !== null && cors.handle(req, res)) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const ex: Exchange = {
      requestId: randomUUID(),
      startedAt: Date.now(),
      t0: performance.now(),
      group: '',
      version: null,
      capture: false,
      clientRequestId: null,
      requestBody: null,
      bytesIn: 0,
      error: null,
    };
    let work: Promise<void>;
    const name = parsePredictPath(path);
    if (name !== null) {
      work = predict(req, res, ex, name);
    } else if (isOipPath(path)) {
      work = oip(req, res, ex, path);
    } else if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      healthz(res);
      return;
    } else if (path === '/metrics' && req.method === 'GET') {
      work = metricsEndpoint(res);
    } else {
      const nf = routing.current().notFound;
      work = failLater(res, ex, new EdgeError(nf.code, nf.message, undefined, nf.status));
    }
    work.catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'edge handler failed');
      if (!res.headersSent) send(res, 500, new EdgeError('INTERNAL', 'internal error').body(ex.requestId));
      else res.destroy();
    });
  };

  const server = createServer(
    {
      maxHeaderSize: L.maxHeaderBytes ?? 16 * 1024,
      headersTimeout: L.headersTimeoutMs ?? 10_000,
      // backstop for the body deadline the handler keeps itself
      requestTimeout: (L.bodyTimeoutMs ?? 30_000) + (L.headersTimeoutMs ?? 10_000) + (L.upstreamTimeoutMs ?? 60_000),
      keepAliveTimeout: L.keepAliveTimeoutMs ?? 65_000,
      // how often Node sweeps for connections past those deadlines (its default is 30 s)
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor((L.headersTimeoutMs ?? 10_000) / 2))),
      noDelay: true,
    },
    handle,
  );
  // 100-continue: the handler decides (413/401/429 go out before the client sends the body)
  server.on('checkContinue', handle);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || socket.destroyed) return socket.destroy();
    const code = err.code ?? '';
    const [status, ecode, message]: [number, string, string] =
      code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large']
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
          : [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
    const body = new EdgeError(ecode, message, undefined, status).body(randomUUID());
    metrics.tally.series('', '').counted(status);
    socket.end(
      `HTTP/1.1 ${status} ${ecode.replace(/_/g, ' ')}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  log.info({ host, port }, 'edge listening');

  return {
    port,
    host,
    server,
    routing,
    registry,
    stats,
    async close() {
      unwatch();
      await shadow.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      await upstreams.close();
      await ownClient?.close();
    },
  };
}

/** A credential decision the request may go on with; a refusal is thrown as its EdgeError. */
function allowedOrThrow(d: AuthzDecision): AuthzDecision {
  if (!d.allowed) throw new EdgeError(d.code, d.message, undefined, d.status);
  return d;
}

function liveEndpoints(table: RoutingTable): Set<string> {
  const live = new Set<string>();
  for (const g of table.groups.values()) {
    for (const v of [...g.pins.values(), ...g.weighted.map((w) => w.version)]) {
      for (const e of v.endpoints) live.add(`${e.host}:${e.port}`);
    }
  }
  return live;
}
