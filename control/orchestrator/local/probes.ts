// Health checks of a local replica, the way a kubelet runs them: an HTTP GET that must
// answer 2xx/3xx within a timeout, or a bare TCP connect for images without health paths.
// Also hands out free loopback ports.

import { request } from 'node:http';
import { connect, createServer } from 'node:net';

export type ProbeResult = { ok: true } | { ok: false; error: string };

export function httpProbe(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? { ok: true } : { ok: false, error: `HTTP probe failed with statuscode: ${status}` });
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs}ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: `Get "${path}": ${err.code ?? err.message}` }));
    req.end();
  });
}

export function tcpProbe(port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, error: `dial tcp: timed out after ${timeoutMs}ms` }));
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: `dial tcp: ${err.code ?? err.message}` }));
  });
}

/** A port the kernel just handed out on 127.0.0.1 (a small race with other binders is accepted: a clash crashes and restarts on another port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}
