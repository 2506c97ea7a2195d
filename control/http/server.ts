// The control plane's HTTP server: GraphQL over HTTP (Apollo) and WebSocket
// (graphql-ws, protocol graphql-transport-ws) on /graphql, the instance terminal's
// WebSocket on /terminal (terminal.ts), the dashboard's static files at /, /healthz and
// /metrics. One port, one server; WebSocket upgrades are routed here by path.
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../../platform/db/unavailable.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, getOperationAST, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Registry } from 'prom-client';
import type { GraphQLContext, RequestInfo } from '../graphql/context.ts';
import { formatError } from '../graphql/errors.ts';
import { mutationNotices } from '../graphql/mutation-notices.ts';
import { yieldingExecution } from '../graphql/yield.ts';
import { ExpensiveGate, DEFAULT_EXPENSIVE_GATE } from '../graphql/expensive-gate.ts';
import { admit, gatedExecute, gatedSubscribe } from '../graphql/gated-execute.ts';
import { SluiceError } from '../../platform/errors.ts';
import { createTerminalServer, type TerminalLimits } from './terminal.ts';
import {
  DEFAULT_GRAPHQL_LIMITS,
  asksForIntrospection,
  introspectionRefused,
  operationLimitsRule,
  type GraphQLLimits,
} from '../graphql/limits.ts';
import { handleModelUpload, MODEL_UPLOAD_PATH } from './model-upload.ts';
import { DEFAULT_SOCKET_QUOTA, SocketQuota, type SocketQuotaLimits } from '../graphql/socket-quota.ts';

export interface ControlServerOptions {
  schema: GraphQLSchema;
  /** builds the context from the caller's Authorization header; throws SluiceError on a bad credential */
  context: (authorization: string | undefined, request?: RequestInfo) => Promise<GraphQLContext>;
  metrics?: Registry;
  webRoot?: string | null;
  /** largest GraphQL body of an authenticated caller (default 1 MiB; model files go to /models/upload) */
  maxBodyBytes?: number;
  /** largest GraphQL body of a caller without a credential, checked before reading it (default 16 KiB) */
  anonymousMaxBodyBytes?: number;
  /** depth, aliases, fields, cost and parser tokens of one operation */
  limits?: Partial<GraphQLLimits>;
  /** the line for expensive operations, shared by both transports (default: DEFAULT_EXPENSIVE_GATE) */
  expensiveGate?: ExpensiveGate;
  /** graphql-ws sockets and subscriptions per user */
  socketQuota?: Partial<SocketQuotaLimits>;
  /** how often an open graphql-ws socket's credential is checked again (default 10 s) */
  identityRecheckMs?: number;
  /** development mode: stack traces in GraphQL errors (never in production) */
  development?: boolean;
  log?: (error: unknown) => void;
  /** limits of the /terminal WebSocket; false turns the terminal off (upgrades get 404) */
  terminal?: Partial<TerminalLimits> | false;
  /** how long a client may take over its headers, and over a GraphQL body (defaults 10 s, 30 s) */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** open connections from one address at once (default 256); more are closed as they arrive */
  maxConnectionsPerAddress?: number;
}

export interface ControlServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.json': 'application/json', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

class BodyTooLarge extends SluiceError {
  constructor(limit: number) {
    super('BAD_USER_INPUT', `request body over ${limit} bytes`);
  }
}

class BodyTooSlow extends SluiceError {
  constructor(ms: number) {
    super('REQUEST_TIMEOUT', `request body not received within ${ms} ms`);
  }
}

/**
 * The body, bounded in size and in time: a caller trickling a small body would otherwise hold
 * the connection for Node's whole request timeout (5 minutes), and many such callers the
 * process's descriptors.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new BodyTooLarge(limit));
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError);
      if (error) {
        req.pause(); // the answer closes the connection; what is left is never read
        reject(error);
      } else {
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(new BodyTooLarge(limit));
      chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onError = (error: Error) => finish(error);
    const timer = setTimeout(() => finish(new BodyTooSlow(timeoutMs)), timeoutMs);
    req.on('data', onData).once('end', onEnd).once('error', onError);
  });
}

/** How much of a refused body is read and thrown away, at most, before the connection is cut. */
const LINGER = { bytes: 16 * 1024 * 1024, ms: 5_000 };

/**
 * Answers at once, without buffering the rest of the body. The client may still be sending:
 * closing on it then would reset the connection and the client might see the reset instead
 * of this answer (it did, one time in a few, for a 14 MB body). So what it still sends is read
 * and thrown away for a moment (nginx's lingering close), up to LINGER; past that, or at
 * once for a client too slow to send (`linger: false`), the connection is cut.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, linger = true): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(linger ? {} : { connection: 'close' }) });
  res.end(text);
  if (!linger || req.complete) return;
  const socket = req.socket;
  let discarded = 0;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, LINGER.ms);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER.bytes) cut();
  });
  req.once('end', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  req.resume();
}

type SocketExtra = {
  ctx?: GraphQLContext;
  authorization?: string | undefined;
  userId?: string;
  recheck?: NodeJS.Timeout;
  subscriptions?: Set<string>;
};

/** Close codes of the graphql-ws socket beyond the protocol's own. */
export const WS_CLOSE = { forbidden: 4403, tooManySockets: 4429 } as const;

export async function startControlServer(port: number, host: string, options: ControlServerOptions): Promise<ControlServer> {
  const log = options.log ?? ((e: unknown) => console.error(e));
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const anonymousMaxBody = Math.min(options.anonymousMaxBodyBytes ?? 16 * 1024, maxBody);
  const limits: GraphQLLimits = { ...DEFAULT_GRAPHQL_LIMITS, ...options.limits };
  const limitsRule = operationLimitsRule(limits);
  const expensive = options.expensiveGate ?? new ExpensiveGate(DEFAULT_EXPENSIVE_GATE);
  const quota = new SocketQuota({ ...DEFAULT_SOCKET_QUOTA, ...options.socketQuota });
  const recheckMs = options.identityRecheckMs ?? 10_000;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
  const server = createServer({ headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeoutMs / 2))) });
  // Connections per address: slow or idle connections are cheap for a client to open and
  // each holds a descriptor here, so one address may not hold more than its share.
  const perAddressCap = options.maxConnectionsPerAddress ?? 256;
  const perAddress = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const open = (perAddress.get(address) ?? 0) + 1;
    if (open > perAddressCap) {
      socket.destroy();
      return;
    }
    perAddress.set(address, open);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  // noServer: two WebSocket servers share this port, so upgrades are routed by path below
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBody });
  const terminals = options.terminal === false ? null : createTerminalServer({ context: options.context, log, limits: options.terminal ?? {} });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/graphql') {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } else if (path === '/terminal' && terminals) {
      terminals.handleUpgrade(req, socket, head);
    } else {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  });

  /**
   * The socket's credential checked again: a user disabled, deleted, or whose sessions
   * ended since the socket opened is cut off (4403). Returns the fresh context, or null.
   */
  const recheckSocket = async (extra: SocketExtra, socket: { close(code: number, reason: string): void }): Promise<GraphQLContext | null> => {
    let fresh: GraphQLContext | null;
    try {
      fresh = await options.context(extra.authorization);
    } catch {
      fresh = null;
    }
    if (!fresh?.actor || fresh.actor.userId !== extra.userId) {
      socket.close(WS_CLOSE.forbidden, 'Forbidden: the credential is no longer valid');
      return null;
    }
    extra.ctx = fresh;
    return fresh;
  };

  const wsCleanup = useServer<{ authorization?: string }, SocketExtra>(
    {
      schema: options.schema,
      // queries and mutations wait in the same line as over HTTP: a socket is no way around it
      execute: gatedExecute(expensive, limits),
      // each event of a subscription is an execution too: costed when it starts, gated per event
      subscribe: gatedSubscribe(expensive, limits),
      onConnect: async (ctx) => {
        const authorization = typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined;
        try {
          ctx.extra.ctx = await options.context(authorization);
        } catch {
          return false; // closes with 4403 Forbidden
        }
        const actor = ctx.extra.ctx.actor;
        if (!actor) return false;
        if (!quota.openSocket(actor.userId)) {
          ctx.extra.socket.close(WS_CLOSE.tooManySockets, 'Too many sockets for this user');
          return false;
        }
        ctx.extra.authorization = authorization;
        ctx.extra.userId = actor.userId;
        ctx.extra.subscriptions = new Set();
        const socket = ctx.extra.socket;
        ctx.extra.recheck = setInterval(() => void recheckSocket(ctx.extra, socket), recheckMs);
        ctx.extra.recheck.unref();
        return true;
      },
      onClose: (ctx) => {
        clearInterval(ctx.extra.recheck);
        if (ctx.extra.userId) {
          quota.closeSocket(ctx.extra.userId);
          quota.unsubscribe(ctx.extra.userId, ctx.extra.subscriptions?.size ?? 0);
          ctx.extra.subscriptions?.clear();
        }
      },
      // every operation: the caller checked again, the document parsed with the token limit
      // and validated with the same limits as over HTTP
      onSubscribe: async (ctx, id, payload) => {
        const fresh = await recheckSocket(ctx.extra, ctx.extra.socket);
        if (!fresh) return [new GraphQLError('the credential is no longer valid', { extensions: { code: 'UNAUTHENTICATED' } })];
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: limits.maxTokens });
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('the query does not parse', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(options.schema, document, [...specifiedRules, limitsRule]);
        if (errors.length > 0) return errors;
        if (!fresh.actor && asksForIntrospection(document)) return [introspectionRefused()];
        if (getOperationAST(document, payload.operationName)?.operation === 'subscription') {
          if (!quota.subscribe(ctx.extra.userId!)) {
            return [new GraphQLError('too many live subscriptions for this user; complete some first', { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
          }
          ctx.extra.subscriptions!.add(id);
        }
        return {
          schema: options.schema,
          document,
          variableValues: payload.variables ?? null,
          operationName: payload.operationName ?? null,
          contextValue: fresh,
        };
      },
      onComplete: (ctx, id) => {
        if (ctx.extra.subscriptions?.delete(id)) quota.unsubscribe(ctx.extra.userId!);
      },
      // the same masking as over HTTP: internal errors become "internal error", no stack
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return;
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e, log)) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) log(e);
      },
    },
    wss,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    // resolvers yield to the loop between batches: /healthz and other callers get turns
    schema: yieldingExecution(options.schema),
    introspection: true,
    // "Did you mean …?" in validation errors spells out the schema field by field to anyone,
    // anonymous callers included, for whom introspection is off
    hideSchemaDetailsFromClientErrors: true,
    // a huge document is refused while parsing, before any rule walks it
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: [limitsRule],
    includeStacktraceInErrorResponses: options.development === true,
    // main.ts owns the shutdown order; Apollo must not react to SIGTERM on its own
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => formatError(formatted, error, log),
    plugins: [
      // no HTTP caching of GraphQL answers here, and its hook ran for every field resolved
      ApolloServerPluginCacheControlDisabled(),
      mutationNotices(log),
      {
        // the schema is for signed-in callers: anonymous ones may sign in, not explore
        async requestDidStart() {
          let release: (() => void) | undefined;
          return {
            async didResolveOperation({ document, contextValue, operation, request }) {
              if (!contextValue.actor && asksForIntrospection(document)) throw introspectionRefused();
              // an expensive operation waits for its turn (one per caller, a few at once);
              // graphql-ws goes through the same gate (gatedExecute below)
              if (operation) release = await admit(expensive, contextValue, { schema: options.schema, document, operation, variables: request.variables }, limits);
            },
            async willSendResponse() {
              release?.();
            },
          };
        },
      },
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  const webRoot = options.webRoot && existsSync(options.webRoot) ? resolve(options.webRoot) : null;

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    // who is calling comes first (the header only), so a caller without a credential
    // never gets more than a small body read and parsed
    let contextValue: GraphQLContext;
    try {
      contextValue = await options.context(req.headers.authorization, { address: req.socket.remoteAddress ?? null });
    } catch (error) {
      // the credential could not be checked at all: say so (retryable), not "bad credential"
      if (isDatabaseUnavailable(error)) {
        refuse(req, res, 503, { errors: [{ message: DATABASE_UNAVAILABLE_MESSAGE, extensions: { code: 'DATABASE_UNAVAILABLE' } }] });
        return;
      }
      const code = error instanceof SluiceError ? error.code : 'UNAUTHENTICATED';
      const message = error instanceof Error ? error.message : 'bad credential';
      refuse(req, res, 401, { errors: [{ message, extensions: { code } }] });
      return;
    }
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const limit = contextValue.actor ? maxBody : anonymousMaxBody;
      const type = req.headers['content-type'] ?? '';
      if (!type.includes('application/json')) {
        refuse(req, res, 415, { errors: [{ message: 'send GraphQL requests as application/json', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
      let text: string;
      try {
        text = await readBody(req, limit, bodyTimeoutMs);
      } catch (error) {
        if (error instanceof BodyTooSlow) {
          refuse(req, res, 408, { errors: [{ message: error.message, extensions: { code: error.code } }] }, false);
          return;
        }
        if (!(error instanceof BodyTooLarge)) throw error;
        const hint = contextValue.actor ? ' (upload model files to /models/upload)' : ' (sign in for a larger limit)';
        refuse(req, res, 413, { errors: [{ message: `${error.message}${hint}`, extensions: { code: 'PAYLOAD_TOO_LARGE', limit } }] });
        return;
      }
      try {
        body = JSON.parse(text);
      } catch {
        sendJson(res, 400, { errors: [{ message: 'the body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => contextValue,
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse): boolean {
    if (!webRoot || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      // a malformed %-escape is the caller's mistake, not a 500
      sendJson(res, 400, { error: { code: 'BAD_REQUEST', message: 'the path has a malformed %-escape' } });
      return true;
    }
    let file = normalize(join(webRoot, path));
    if (!file.startsWith(webRoot)) return false;
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(webRoot, 'index.html'); // client-side routes
    if (!existsSync(file)) return false;
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
    return true;
  }

  server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    void (async () => {
      try {
        if (path === '/graphql') return await handleGraphQL(req, res);
        if (path === MODEL_UPLOAD_PATH) return await handleModelUpload(req, res, options.context);
        if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
        if (path === '/metrics' && options.metrics) {
          const text = await options.metrics.metrics();
          res.writeHead(200, { 'content-type': options.metrics.contentType });
          res.end(text);
          return;
        }
        if (serveStatic(req, res)) return;
        sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `nothing at ${path}` } });
      } catch (error) {
        if (error instanceof SluiceError) {
          if (!res.headersSent) sendJson(res, error.message.includes('bytes') ? 413 : 400, { errors: [{ message: error.message, extensions: { code: error.code } }] });
          return;
        }
        log(error);
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'internal error', extensions: { code: 'INTERNAL' } }] });
        else res.destroy();
      }
    })();
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    server,
    port: actualPort,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}`,
    async close() {
      await apollo.stop();
      await terminals?.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
