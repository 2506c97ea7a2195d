// The runtime's HTTP face, on bare node:http because this is the path benchmarks measure:
// GET /health (alive), GET /ready (model loaded), GET /metrics (Prometheus),
// POST /invocations (MLflow scoring, JSON or CSV, answered as MLflow's scoring server
// answers) and the Open Inference Protocol's REST routes under /v2 (health, model
// metadata and readiness, infer). Every error is `{"error_code","message"}` (MLflow) or
// `{"error","error_code"}` (OIP). The server is created before the model is loaded so
// liveness answers during a slow load; `setModel` flips it ready.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { mlflowErrorBody, oipErrorBody, protocolError, ProtocolError } from '../platform/scoring/errors.ts';
import { decodeMlflowRequest, frameRows, scoringContentType } from '../platform/scoring/mlflow.ts';
import { decodeInferRequest, parseOipPath, type OipRoute } from '../platform/scoring/oip.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { LoadedModel } from './model.ts';
import { metadataOf, resolveModel, runInference } from './oip.ts';

export interface RuntimeAppOptions {
  metrics: RuntimeMetrics;
  log: Logger;
  /** Bodies above this are answered 413 without being buffered. */
  bodyLimitBytes: number;
  maxRows: number;
  modelName: string;
  modelVersion: string;
}

export interface RuntimeApp {
  readonly server: Server;
  setModel(model: LoadedModel): void;
  readonly ready: boolean;
  /** the loaded model (null while loading): the gRPC service scores with it too */
  readonly model: LoadedModel | null;
}

// After a 413, what is still in flight is read and dropped so the connection can carry the
// next request; past this much the sender is not worth waiting for and is cut off (the
// server's requestTimeout bounds a slow one).
const DRAIN_CAP_BYTES = 256 * 1024 * 1024;

const JSON_TYPE = 'application/json';

type Protocol = 'mlflow' | 'oip';

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: ProtocolError, protocol: Protocol = 'mlflow', headers?: Record<string, string>): void {
  send(res, err.status, protocol === 'oip' ? oipErrorBody(err.code, err.message) : mlflowErrorBody(err.code, err.message, undefined, err.details), headers);
}

function tooLarge(limit: number): ProtocolError {
  return protocolError('RESOURCE_LIMIT_EXCEEDED', `the body is over the limit of ${limit} bytes`, { limitBytes: limit });
}

const notReady = () => protocolError('TEMPORARILY_UNAVAILABLE', 'the model is still loading');

/** OIP bodies are JSON; a client that names no content type is taken at its word too. */
function checkOipContentType(header: string | undefined): void {
  if (header === undefined || header === '') return;
  const media = (header.split(';')[0] ?? '').trim().toLowerCase();
  if (media !== JSON_TYPE) throw protocolError('BAD_REQUEST', `content-type must be ${JSON_TYPE} (got ${header})`, undefined, 415);
}

/**
 * Read and drop the rest of a refused body so the client can finish sending and read the
 * answer on a connection that stays usable (clients such as fetch fail outright when the
 * socket closes under a write). Past DRAIN_CAP_BYTES the sender is cut off.
 */
function drain(req: IncomingMessage, alreadyRead: number): void {
  let drained = alreadyRead;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_CAP_BYTES) req.socket.destroy();
  });
  req.resume();
}

/** Buffer a body up to `limit` bytes; past it, reject at once and drain the rest unbuffered. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let ended = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        req.off('data', onData);
        drain(req, size);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      ended = true;
      if (!over) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => reject(protocolError('MALFORMED_REQUEST', `the body could not be read: ${err.message}`)));
    req.on('close', () => {
      if (!ended && !over) reject(protocolError('MALFORMED_REQUEST', 'the client went away before the body ended'));
    });
  });
}

export function createRuntimeApp(options: RuntimeAppOptions): RuntimeApp {
  const { metrics, log, bodyLimitBytes, maxRows } = options;
  let model: LoadedModel | null = null;
  const limits = { maxRows };
  const served = { name: options.modelName, version: options.modelVersion };
  const readyBody = () =>
    JSON.stringify({ status: 'ready', model: options.modelName, version: options.modelVersion, executionProvider: model?.executionProvider });

  /** The body under the byte limit; 413 at once when the declared length is over it. */
  async function body(req: IncomingMessage): Promise<Buffer> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > bodyLimitBytes) {
      // answered before a byte of it is read
      drain(req, 0);
      throw tooLarge(bodyLimitBytes);
    }
    return readBody(req, bodyLimitBytes);
  }

  function failure(err: unknown, req: IncomingMessage): ProtocolError {
    const e = err instanceof ProtocolError ? err : protocolError('INTERNAL_ERROR', `the model failed to score the request: ${(err as Error).message}`);
    if (e.status >= 500 && e.code !== 'TEMPORARILY_UNAVAILABLE') log.error({ err }, 'scoring failed');
    // refused before its body was read (415, 503): drop the body under the same cap
    if (!req.complete && req.listenerCount('data') === 0) drain(req, 0);
    return e;
  }

  async function invocations(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let status = 200;
    let rows = 0;
    try {
      if (!model) throw notReady();
      const content = scoringContentType(req.headers['content-type']);
      const request = decodeMlflowRequest(await body(req), content);
      const predictions = await model.predict(frameRows(request, model.signature, limits));
      rows = predictions.length;
      send(res, 200, JSON.stringify({ predictions }));
    } catch (err) {
      const e = failure(err, req);
      status = e.status;
      if (!res.headersSent) sendError(res, e);
    } finally {
      metrics.observe(status, (performance.now() - started) / 1000, rows);
    }
  }

  async function infer(req: IncomingMessage, res: ServerResponse, route: Extract<OipRoute, { kind: 'infer' }>): Promise<void> {
    const started = performance.now();
    let status = 200;
    let rows = 0;
    try {
      resolveModel(served, route.model, route.version, req.headers);
      if (!model) throw notReady();
      checkOipContentType(req.headers['content-type']);
      const raw = await body(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw protocolError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
      }
      const result = await runInference(model, decodeInferRequest(parsed), maxRows);
      rows = result.rows;
      send(res, 200, JSON.stringify({ model_name: route.model, model_version: route.version ?? served.version, id: result.id, outputs: result.outputs }));
    } catch (err) {
      const e = failure(err, req);
      status = e.status;
      if (!res.headersSent) sendError(res, e, 'oip');
    } finally {
      metrics.observe(status, (performance.now() - started) / 1000, rows);
    }
  }

  function oip(req: IncomingMessage, res: ServerResponse, route: OipRoute, method: string): void {
    const fail = (e: ProtocolError, headers?: Record<string, string>) => sendError(res, e, 'oip', headers);
    const wantGet = route.kind !== 'infer';
    if (route.kind === 'unknown') return fail(protocolError('ENDPOINT_NOT_FOUND', `no endpoint ${req.url ?? ''}`));
    if (wantGet ? method !== 'GET' && method !== 'HEAD' : method !== 'POST') {
      return fail(protocolError('ENDPOINT_NOT_FOUND', `${req.url ?? ''} takes ${wantGet ? 'GET' : 'POST'}`, undefined, 405), { allow: wantGet ? 'GET' : 'POST' });
    }
    try {
      switch (route.kind) {
        case 'server-live':
          return send(res, 200, '{"live":true}');
        case 'server-ready':
          return send(res, model ? 200 : 503, JSON.stringify({ ready: model !== null }));
        case 'server-metadata':
          return send(res, 200, JSON.stringify({ name: 'sluice-runtime', version: '1', extensions: [] }));
        case 'model-ready':
          resolveModel(served, route.model, route.version, req.headers);
          return send(res, model ? 200 : 503, JSON.stringify({ name: route.model, ready: model !== null }));
        case 'model-metadata':
          resolveModel(served, route.model, route.version, req.headers);
          if (!model) throw notReady();
          return send(res, 200, JSON.stringify(metadataOf(model, route.model, route.version ?? served.version)));
        case 'infer':
          void infer(req, res, route).catch((err: unknown) => {
            log.error({ err }, 'inference failed');
            if (!res.headersSent) fail(protocolError('INTERNAL_ERROR', 'internal error'));
          });
          return;
      }
    } catch (err) {
      fail(err instanceof ProtocolError ? err : protocolError('INTERNAL_ERROR', 'internal error'));
    }
  }

  async function metricsEndpoint(res: ServerResponse): Promise<void> {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const only = (allowed: string, run: () => void | Promise<void>) => {
      if (method !== allowed && !(allowed === 'GET' && method === 'HEAD')) {
        sendError(res, protocolError('ENDPOINT_NOT_FOUND', `${path} takes ${allowed}`, undefined, 405), 'mlflow', { allow: allowed });
        return;
      }
      void Promise.resolve(run()).catch((err: unknown) => {
        log.error({ err, path }, 'request handler failed');
        if (!res.headersSent) sendError(res, protocolError('INTERNAL_ERROR', 'internal error'));
      });
    };
    switch (path) {
      case '/invocations':
        return only('POST', () => invocations(req, res));
      case '/health':
      case '/healthz': // the path Envoy's health check on version clusters asks (xds/translate.ts)
      case '/ping':
        return only('GET', () => send(res, 200, '{"status":"ok"}'));
      case '/ready':
        return only('GET', () => (model ? send(res, 200, readyBody()) : sendError(res, notReady())));
      case '/metrics':
        return only('GET', () => metricsEndpoint(res));
      default: {
        const route = parseOipPath(path);
        if (route) return oip(req, res, route, method);
        sendError(res, protocolError('ENDPOINT_NOT_FOUND', `no endpoint ${path}; try POST /invocations or POST /v2/models/${options.modelName}/infer`));
      }
    }
  });
  // Slow or stuck senders must not hold sockets forever; keep-alive outlives common proxy idles.
  server.requestTimeout = 120_000;
  server.headersTimeout = 70_000;
  server.keepAliveTimeout = 65_000;

  return {
    server,
    setModel(loaded) {
      model = loaded;
      metrics.setReady(true);
    },
    get ready() {
      return model !== null;
    },
    get model() {
      return model;
    },
  };
}
