// The supervised edge's private door to its control plane: a small HTTP server on a Unix
// socket in the data dir (`<data dir>/edge.sock`; the 0700 data dir is its access check, no
// port for other local users to dial). The control plane (control/edge-supervisor.ts) reads
// the edge's per-version answer stats there for the canary guard and the autoscaler, and asks
// whether the edge already routes what the database says runs, and has accepted the xDS
// snapshot it publishes, before it says "ready". A control plane restarted after a crash
// finds a surviving edge through the same socket and tells it to reconnect to xDS now.
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import type { DataPlaneModel } from '../../xds/model.ts';
import { routesModel } from './ready.ts';
import type { VersionStats } from './version-stats.ts';
import type { RoutingSource, XdsClientStatus } from './xds-client.ts';

export const EDGE_SOCKET = 'edge.sock';
/** Where a supervised edge records its pid (control/edge-supervisor.ts adopts it from there). */
export const EDGE_PID_FILE = 'edge.pid';

export interface EdgeControlSocket {
  close(): Promise<void>;
}

const MAX_MODEL_BYTES = 8 * 1024 * 1024;

/** The edge's xDS stream as the control socket shows it and lets its control plane nudge it. */
export interface XdsStream {
  readonly stats: XdsClientStatus;
  reconnectNow(): boolean;
}

export async function openEdgeControlSocket(
  path: string,
  parts: { stats: VersionStats; routing: RoutingSource; xds: XdsStream; port: number; refresh: () => Promise<void> },
): Promise<EdgeControlSocket> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://edge');
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && url.pathname === '/stats') {
      const since = Number(url.searchParams.get('since') ?? '0');
      json(200, { pid: process.pid, port: parts.port, buckets: parts.stats.exportSince(Number.isFinite(since) ? since : 0) });
    } else if (req.method === 'POST' && url.pathname === '/refresh') {
      // the data plane changed (the control plane's pub/sub notice): re-read the policies now
      parts.refresh().then(() => json(200, { refreshed: true }), (error: unknown) => json(500, { error: (error as Error).message }));
    } else if (req.method === 'GET' && url.pathname === '/xds') {
      // what the edge has accepted, per type: a control plane compares it with what it publishes
      json(200, { connected: parts.xds.stats.connected, versions: parts.xds.stats.versions });
    } else if (req.method === 'POST' && url.pathname === '/xds/reconnect') {
      // the control plane is back (it adopted us): no need to wait out the reconnect back-off
      json(200, { reconnecting: parts.xds.reconnectNow() });
    } else if (req.method === 'POST' && url.pathname === '/routes-model') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_MODEL_BYTES) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => {
        try {
          json(200, { routes: routesModel(parts.routing, JSON.parse(Buffer.concat(chunks).toString('utf8')) as DataPlaneModel) });
        } catch (error) {
          json(400, { error: (error as Error).message });
        }
      });
    } else {
      json(404, { error: 'not found' });
    }
  });
  // a socket file left by a killed edge would refuse the bind: the caller made sure no live
  // edge owns it (one supervised edge per data dir)
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
