// A replica's port does not let slow or silent clients hold sockets forever. The runtime's
// HTTP server is fed sockets by its front listener (runtime/listener.ts) instead of
// listening itself, and Node only starts the check behind headersTimeout and requestTimeout
// for a server that has emitted 'listening': a client trickling its headers, one that sent
// nothing, or one stalled inside the HTTP/2 preface kept its socket open however long it
// waited. Here the HTTP server has short timeouts so the test sees them apply.
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenFront, type FrontListener } from '../../runtime/listener.ts';
import { slowClient, type SlowClientEnd } from '../fixtures/slow-client.ts';

describe("a replica's port and slow clients", () => {
  let front: FrontListener;
  let grpcStandIn: ReturnType<typeof createServer>;
  let port: number;

  beforeAll(async () => {
    // answers once the whole body is in, as /invocations does
    const http = createHttpServer({ headersTimeout: 1_000, requestTimeout: 1_500, connectionsCheckingInterval: 100 }, (req, res) => {
      req.resume();
      req.once('end', () => res.end('ok'));
    });
    grpcStandIn = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => grpcStandIn.listen(0, '127.0.0.1', r));
    front = await listenFront(http, (grpcStandIn.address() as { port: number }).port, 0, '127.0.0.1');
    port = front.port;
  });
  afterAll(async () => {
    await front.close();
    grpcStandIn.close();
  });

  it('answers 408 to headers that trickle in and never end', async () => {
    const ended = await slowClient(port, { first: 'GET /health HTTP/1.1\r\n', drip: Array.from({ length: 30 }, (_, i) => `x-slow-${i}: 1\r\n`) });
    expect(ended).not.toBe('still open');
    const { ms, received } = ended as SlowClientEnd;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeLessThan(6_000);
  });

  it('closes a body that never finishes once the request timeout passes', async () => {
    const ended = await slowClient(port, { first: 'POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{', drip: Array.from({ length: 30 }, () => ' ') });
    expect(ended).not.toBe('still open');
    expect((ended as SlowClientEnd).received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection that never sends a byte', async () => {
    const ended = await slowClient(port, { first: null });
    expect(ended).not.toBe('still open');
    expect((ended as SlowClientEnd).ms).toBeLessThan(6_000);
  });

  it('closes a connection stalled inside the HTTP/2 preface', async () => {
    const ended = await slowClient(port, { first: 'PRI * HTTP/2.0\r\n' });
    expect(ended).not.toBe('still open');
  });

  it('still answers a prompt client', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });
});
