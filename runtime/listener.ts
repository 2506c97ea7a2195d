// One port for both protocols of the runtime: HTTP/1.1 (MLflow /invocations, OIP REST,
// health, metrics) and HTTP/2 cleartext gRPC (OIP gRPC). The orchestrator gives a runtime
// one port and xDS one endpoint per instance, so Envoy, the edge and proxyless gRPC
// clients all reach the same address. A connection's first bytes decide: the HTTP/2
// connection preface goes to the gRPC server (listening on loopback only, spliced at the
// TCP level), anything else to the HTTP server, which then owns the socket as if it had
// accepted it (keep-alive, timeouts and closeIdleConnections work as usual).
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface FrontListener {
  server: Server;
  port: number;
  /** stop accepting; open gRPC splices are cut */
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
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const kind = preface(head);
      if (kind === 'more') return;
      socket.off('data', onData);
      socket.pause();
      if (kind === 'h2') return toGrpc(socket, head);
      socket.unshift(head);
      http.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.once('error', () => socket.destroy());
    socket.resume();
  });
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
        server.close(() => resolve());
        for (const s of splices) s.destroy();
      }),
  };
}
