// One port for both protocols of the runtime: HTTP/1.1 (MLflow /invocations, OIP REST,
// health, metrics) and HTTP/2 cleartext gRPC (OIP gRPC). The orchestrator gives a runtime
// one port and xDS one endpoint per instance, so Envoy, the edge and proxyless gRPC
// clients all reach the same address. A connection's first bytes decide: the HTTP/2
// connection preface goes to the gRPC server (listening on loopback only, spliced at the
// TCP level), anything else to the HTTP server, which then serves the socket as if it had
// accepted it. The HTTP server never listens itself, and Node starts its connection tracking
// — the periodic check behind headersTimeout and requestTimeout — only when a server emits
// 'listening': without it a client trickling its headers held a replica's socket forever
// (slowloris). So the listener announces the HTTP server as listening when it starts
// accepting for it, and gives a connection that has not yet shown which protocol it speaks
// the same headersTimeout. It also keeps count of each socket's requests in progress, so that
// closing ends idle keep-alive sockets at once and busy ones as their last answer is sent —
// a client's pooled idle connection held a stopping runtime until the orchestrator's 10 s
// grace ran out.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer, ServerResponse } from 'node:http';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface FrontListener {
  server: Server;
  port: number;
  /** stop accepting; open gRPC splices and idle HTTP sockets are cut, busy ones once answered */
  close(): Promise<void>;
}

/** Whether the first bytes are (a prefix of) the HTTP/2 preface: wait for more while unsure. */
function preface(chunk: Buffer): 'h2' | 'http1' | 'more' {
  const n = Math.min(chunk.length, H2_PREFACE.length);
  if (chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? 'h2' : 'more';
  return 'http1';
}

export async function listenFront(http: HttpServer, grpcPort: number, port: number, host: string): Promise<FrontListener> {
  const splices = new Set<Socket>();
  /** sockets not yet sorted (no bytes yet): nothing is in progress on them */
  const unsorted = new Set<Socket>();
  /** HTTP sockets → requests in progress on each */
  const httpSockets = new Map<Socket, number>();
  /** answers not sent yet: told to close their connection once closing begins */
  const answering = new Set<ServerResponse>();
  let closing = false;
  http.on('request', (req, res: ServerResponse) => {
    const socket = req.socket;
    httpSockets.set(socket, (httpSockets.get(socket) ?? 0) + 1);
    if (closing) res.shouldKeepAlive = false;
    else answering.add(res);
    res.once('close', () => {
      answering.delete(res);
      const left = (httpSockets.get(socket) ?? 1) - 1;
      if (!httpSockets.has(socket)) return; // the socket closed meanwhile
      httpSockets.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });
  const toGrpc = (socket: Socket, head: Buffer) => {
    const upstream = connect(grpcPort, '127.0.0.1');
    splices.add(socket);
    upstream.setNoDelay(true);
    socket.setNoDelay(true);
    upstream.write(head);
    socket.pipe(upstream);
    upstream.pipe(socket);
    const end = () => {
      splices.delete(socket);
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    socket.resume();
  };
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    let head: Buffer = Buffer.alloc(0);
    unsorted.add(socket);
    socket.once('close', () => {
      unsorted.delete(socket);
      httpSockets.delete(socket);
    });
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const kind = preface(head);
      if (kind === 'more') return;
      socket.off('data', onData);
      socket.pause();
      unsorted.delete(socket);
      if (kind === 'h2') return toGrpc(socket, head);
      httpSockets.set(socket, 0);
      socket.unshift(head);
      http.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.once('error', () => socket.destroy());
    // silent, or stalled inside the HTTP/2 preface: neither server's timeouts cover it yet
    const unsortedTimer = setTimeout(() => {
      if (unsorted.has(socket)) socket.destroy();
    }, http.headersTimeout > 0 ? http.headersTimeout : 60_000);
    unsortedTimer.unref();
    socket.once('close', () => clearTimeout(unsortedTimer));
    socket.resume();
  });
  // Node's connection tracking (headersTimeout, requestTimeout) starts on this event
  http.emit('listening');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        for (const s of splices) s.destroy();
        for (const s of unsorted) s.destroy();
        for (const [s, inProgress] of httpSockets) if (inProgress === 0) s.destroy();
        for (const res of answering) if (!res.headersSent) res.shouldKeepAlive = false;
      }),
  };
}
