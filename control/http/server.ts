// The control plane's HTTP server: GraphQL over HTTP (Apollo) and WebSocket
// (graphql-ws, protocol graphql-transport-ws) on /graphql, the instance terminal's
// WebSocket on /terminal (terminal.ts), the dashboard's static files at /, /healthz and
// /metrics. One port, one server; WebSocket upgrades are routed here by path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { GraphQLSchema } from 'graphql';
import type { Registry } from 'prom-client';
import type { GraphQLContext } from '../graphql/context.ts';
import { formatError } from '../graphql/errors.ts';
import { SluiceError } from '../../platform/errors.ts';
import { createTerminalServer, type TerminalLimits } from './terminal.ts';

export interface ControlServerOptions {
  schema: GraphQLSchema;
  /** builds the context from the caller's Authorization header; throws SluiceError on a bad credential */
  context: (authorization: string | undefined) => Promise<GraphQLContext>;
  metrics?: Registry;
  webRoot?: string | null;
  maxBodyBytes?: number;
  log?: (error: unknown) => void;
  /** limits of the /terminal WebSocket; false turns the terminal off (upgrades get 404) */
  terminal?: Partial<TerminalLimits> | false;
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

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new SluiceError('BAD_USER_INPUT', `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SluiceError('BAD_USER_INPUT', `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startControlServer(port: number, host: string, options: ControlServerOptions): Promise<ControlServer> {
  const log = options.log ?? ((e: unknown) => console.error(e));
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const server = createServer();
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
  const wsCleanup = useServer<{ authorization?: string }, { ctx?: GraphQLContext }>(
    {
      schema: options.schema,
      onConnect: async (ctx) => {
        const authorization = typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined;
        try {
          ctx.extra.ctx = await options.context(authorization);
          return ctx.extra.ctx.actor !== null;
        } catch {
          return false; // closes with 4403 Forbidden
        }
      },
      context: (ctx) => ctx.extra.ctx as GraphQLContext,
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) log(e);
      },
    },
    wss,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema: options.schema,
    introspection: true,
    // main.ts owns the shutdown order; Apollo must not react to SIGTERM on its own
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => formatError(formatted, error, log),
    plugins: [
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
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBody);
      const type = req.headers['content-type'] ?? '';
      if (!type.includes('application/json')) {
        sendJson(res, 415, { errors: [{ message: 'send GraphQL requests as application/json', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
      try {
        body = JSON.parse(text);
      } catch {
        sendJson(res, 400, { errors: [{ message: 'the body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
    }
    let contextValue: GraphQLContext;
    try {
      contextValue = await options.context(req.headers.authorization);
    } catch (error) {
      const code = error instanceof SluiceError ? error.code : 'UNAUTHENTICATED';
      const message = error instanceof Error ? error.message : 'bad credential';
      sendJson(res, 401, { errors: [{ message, extensions: { code } }] });
      return;
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
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
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
