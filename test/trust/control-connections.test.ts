// Slow and many connections against the control plane's HTTP port, before any credential is
// looked at: a client trickling its headers or a GraphQL body is answered 408 within the
// configured time instead of holding its socket for Node's 5-minute request timeout, and one
// address cannot hold more than its share of open connections (each is a descriptor of the
// process that also runs the database and the replicas' logs).
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { startControlServer, type ControlServer } from '../../control/http/server.ts';
import { slowClient, type SlowClientEnd } from '../fixtures/slow-client.ts';

const opened = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });

describe("the control plane's port and slow or many connections", () => {
  let cp: TestControlPlane;
  let server: ControlServer;
  let port: number;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    server = await startControlServer(0, '127.0.0.1', {
      schema: cp.plane.schema,
      context: cp.plane.contextFor,
      log: () => undefined,
      webRoot: null,
      headersTimeoutMs: 600,
      bodyTimeoutMs: 600,
      maxConnectionsPerAddress: 6,
    });
    port = server.port;
  });
  afterAll(async () => {
    await server?.close();
    await cp?.close();
  });

  it('answers 408 to headers that trickle in', async () => {
    const ended = await slowClient(port, { first: 'POST /graphql HTTP/1.1\r\nHost: x\r\n', drip: 'x-slow: 1\r\n', everyMs: 200 });
    expect(ended).not.toBe('still open');
    expect((ended as SlowClientEnd).received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 408 REQUEST_TIMEOUT to a GraphQL body that trickles in, and closes', async () => {
    const ended = await slowClient(port, { first: 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"query":"', drip: ' ', everyMs: 200 });
    expect(ended).not.toBe('still open');
    const { received } = ended as SlowClientEnd;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(received).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('closes connections from one address past its share, and takes them again once some close', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 6; i++) held.push(await opened(port));
      const extra = await opened(port);
      const closed = await new Promise<boolean>((resolve) => {
        extra.once('close', () => resolve(true));
        extra.on('error', () => undefined);
        setTimeout(() => resolve(false), 2_000);
      });
      expect(closed).toBe(true);
      held.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
