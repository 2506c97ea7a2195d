// The runtime's HTTP face, on bare node:http because this is the path benchmarks measure:
// GET /health (alive), GET /ready (model loaded), GET /metrics (Prometheus) and
// POST /invocations (MLflow scoring). The server is created before the model is loaded so
// liveness answers during a slow load; `setModel` flips it ready.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ScoringError } from './errors.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { LoadedModel } from './model.ts';
import { parseScoringRequest } from './scoring.ts';

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
}

// After a 413, what is still in flight is read and dropped so the connection can carry the
// next request; past this much the sender is not worth waiting for and is cut off (the
// server's requestTimeout bounds a slow one).
const DRAIN_CAP_BYTES = 256 * 1024 * 1024;

const JSON_TYPE = 'application/json';

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const sendError = (res: ServerResponse, err: ScoringError, headers?: Record<string, string>) =>
  send(res, err.status, JSON.stringify(err.toJSON()), headers);

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return media === JSON_TYPE || (media.startsWith('application/') && media.endsWith('+json'));
}

function tooLarge(limit: number): ScoringError {
  return new ScoringError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${limit} bytes`, { limitBytes: limit });
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
    req.on('error', (err) => reject(new ScoringError('BAD_REQUEST', `the body could not be read: ${err.message}`)));
    req.on('close', () => {
      if (!ended && !over) reject(new ScoringError('BAD_REQUEST', 'the client went away before the body ended'));
    });
  });
}

export function createRuntimeApp(options: RuntimeAppOptions): RuntimeApp {
  const { metrics, log, bodyLimitBytes, maxRows } = options;
  let model: LoadedModel | null = null;
  const limits = { maxRows };
  const readyBody = () =>
    JSON.stringify({ status: 'ready', model: options.modelName, version: options.modelVersion, executionProvider: model?.executionProvider });

  async function invocations(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let status = 200;
    let rows = 0;
    try {
      if (!model) throw new ScoringError('NOT_READY', 'the model is still loading');
      if (!isJson(req.headers['content-type'])) {
        throw new ScoringError('UNSUPPORTED_MEDIA_TYPE', `content-type must be ${JSON_TYPE} (got ${req.headers['content-type'] ?? 'none'})`);
      }
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > bodyLimitBytes) {
        // Answer before reading a byte of it.
        const err = tooLarge(bodyLimitBytes);
        status = err.status;
        drain(req, 0);
        sendError(res, err);
        return;
      }
      const raw = await readBody(req, bodyLimitBytes);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new ScoringError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
      }
      const request = parseScoringRequest(body, model.signature, limits);
      const predictions = await model.predict(request.rows);
      rows = predictions.length;
      send(res, 200, JSON.stringify({ predictions }));
    } catch (err) {
      const scoringError =
        err instanceof ScoringError ? err : new ScoringError('INTERNAL', `the model failed to score the request: ${(err as Error).message}`);
      if (scoringError.status >= 500 && scoringError.code !== 'NOT_READY') log.error({ err }, 'scoring failed');
      status = scoringError.status;
      // refused before its body was read (415, 503): drop the body under the same cap
      if (!req.complete && req.listenerCount('data') === 0) drain(req, 0);
      if (!res.headersSent) sendError(res, scoringError);
    } finally {
      metrics.observe(status, (performance.now() - started) / 1000, rows);
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
        sendError(res, new ScoringError('METHOD_NOT_ALLOWED', `${path} takes ${allowed}`), { allow: allowed });
        return;
      }
      void Promise.resolve(run()).catch((err: unknown) => {
        log.error({ err, path }, 'request handler failed');
        if (!res.headersSent) sendError(res, new ScoringError('INTERNAL', 'internal error'));
      });
    };
    switch (path) {
      case '/invocations':
        return only('POST', () => invocations(req, res));
      case '/health':
      case '/ping':
        return only('GET', () => send(res, 200, '{"status":"ok"}'));
      case '/ready':
        return only('GET', () =>
          model ? send(res, 200, readyBody()) : sendError(res, new ScoringError('NOT_READY', 'the model is still loading')),
        );
      case '/metrics':
        return only('GET', () => metricsEndpoint(res));
      default:
        sendError(res, new ScoringError('NOT_FOUND', `no endpoint ${path}; try POST /invocations`));
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
  };
}
