// A fake Kubernetes API server for the orchestrator tests: the handful of endpoints the
// Kubernetes orchestrator uses (discovery, server-side apply, delete, list, watch as JSON
// lines, pod logs, pod metrics, exec over WebSocket), an in-memory store, and a log of every
// request so tests can check exactly what was sent. Tests play pod/event changes through it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';

type Obj = { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string; uid?: string; [k: string]: unknown }; [k: string]: unknown };

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: unknown;
}

const CORE_RESOURCES: Record<string, string> = { pods: 'Pod', services: 'Service', configmaps: 'ConfigMap', secrets: 'Secret', events: 'Event' };

export class FakeKube {
  readonly requests: RecordedRequest[] = [];
  /** resource plural → name → object */
  readonly store = new Map<string, Map<string, Obj>>();
  readonly logs = new Map<string, string>();
  readonly metrics: { metadata: { name: string }; containers: { name: string; usage: { cpu: string; memory: string } }[] }[] = [];
  readonly execSessions: { pod: string; command: string[]; resizes: unknown[] }[] = [];
  private rv = 100;
  private watchers: { resource: string; selector: Record<string, string>; res: ServerResponse }[] = [];
  private server: Server;
  private wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
  private sockets = new Set<WebSocket>();

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.exec(req, ws));
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  kubeConfig(): KubeConfig {
    const port = (this.server.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester', namespace: 'sluice' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers = [];
    for (const s of this.sockets) s.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get(resource: string, name: string): Obj | undefined {
    return this.store.get(resource)?.get(name);
  }

  /** Change the cluster's state as a controller would, and tell the watchers. */
  put(resource: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Obj): void {
    const objects = this.bucket(resource);
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid ??= `uid-${obj.metadata.name}-${this.rv}`;
    if (type === 'DELETED') objects.delete(obj.metadata.name);
    else objects.set(obj.metadata.name, obj);
    for (const w of this.watchers) {
      if (w.resource === resource && matches(obj, w.selector)) w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
    }
  }

  watcherCount(resource: string): number {
    return this.watchers.filter((w) => w.resource === resource).length;
  }

  private bucket(resource: string): Map<string, Obj> {
    let b = this.store.get(resource);
    if (!b) {
      b = new Map();
      this.store.set(resource, b);
    }
    return b;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, contentType: req.headers['content-type'], body });
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const status404 = () => json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
    if (req.headers.authorization !== 'Bearer fake-token') return json(401, { kind: 'Status', code: 401 });

    // Discovery, which KubernetesObjectApi uses to find a kind's plural and scope.
    if (url.pathname === '/api/v1') {
      return json(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: Object.entries(CORE_RESOURCES).map(([name, kind]) => ({ name, kind, namespaced: true, singularName: '', verbs: ['get', 'list', 'watch', 'patch', 'delete'] })),
      });
    }
    if (url.pathname === '/apis/apps/v1') {
      return json(200, { kind: 'APIResourceList', groupVersion: 'apps/v1', resources: [{ name: 'deployments', kind: 'Deployment', namespaced: true, singularName: '', verbs: ['get', 'list', 'watch', 'patch', 'delete'] }] });
    }

    const metricsMatch = /^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (metricsMatch) return json(200, { kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items: this.metrics });

    const m = /^\/(?:api\/v1|apis\/apps\/v1|apis\/discovery\.k8s\.io\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    if (!m) return status404();
    const [, , resource = '', name, sub] = m;
    if (sub === 'log') {
      const logText = this.logs.get(name ?? '');
      if (logText === undefined) return status404();
      const tail = url.searchParams.get('tailLines');
      const lines = logText.split('\n').filter(Boolean);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(`${(tail ? lines.slice(-Number(tail)) : lines).join('\n')}\n`);
    }
    const objects = this.bucket(resource);
    const selector = parseSelector(url.searchParams.get('labelSelector'));
    if (req.method === 'GET' && !name) {
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        this.watchers.push({ resource, selector, res });
        req.on('close', () => (this.watchers = this.watchers.filter((w) => w.res !== res)));
        return;
      }
      return json(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: [...objects.values()].filter((o) => matches(o, selector)) });
    }
    if (req.method === 'GET' && name) {
      const obj = objects.get(name);
      return obj ? json(200, obj) : status404();
    }
    if (req.method === 'PATCH' && name) {
      if (req.headers['content-type'] !== 'application/apply-patch+yaml') return json(415, { kind: 'Status', code: 415 });
      const obj = body as Obj;
      const existed = objects.has(name);
      this.put(resource, existed ? 'MODIFIED' : 'ADDED', structuredClone(obj));
      return json(existed ? 200 : 201, objects.get(name));
    }
    if (req.method === 'DELETE' && name) {
      const obj = objects.get(name);
      if (!obj) return status404();
      if (resource !== 'pods') this.put(resource, 'DELETED', obj);
      return json(200, { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 });
    }
    return json(405, { kind: 'Status', code: 405 });
  }

  /** A pretend shell: answers `pwd`, echoes `echo …`, ends on `exit N`. */
  private exec(req: IncomingMessage, ws: WebSocket): void {
    this.sockets.add(ws);
    const url = new URL(req.url ?? '/', 'http://x');
    const pod = /\/pods\/([^/]+)\/exec$/.exec(url.pathname)?.[1] ?? '';
    const session = { pod, command: url.searchParams.getAll('command'), resizes: [] as unknown[] };
    this.execSessions.push(session);
    const send = (channel: number, text: string) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(text)]));
    let pending = '';
    ws.on('message', (data: Buffer) => {
      const channel = data[0];
      const payload = data.subarray(1).toString('utf8');
      if (channel === 4) return void session.resizes.push(JSON.parse(payload));
      if (channel !== 0) return;
      pending += payload;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line === 'pwd') send(1, '/srv/app\r\n');
        else if (line.startsWith('echo ')) send(1, `${line.slice(5)}\r\n`);
        else if (line.startsWith('exit')) {
          const code = Number(line.split(' ')[1] ?? 0);
          const status =
            code === 0
              ? { metadata: {}, status: 'Success' }
              : { metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } };
          send(3, JSON.stringify(status));
          ws.close();
        } else send(2, `sh: ${line}: not found\r\n`);
      }
    });
  }
}

function parseSelector(s: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (k && v !== undefined) out[k] = v;
  }
  return out;
}

function matches(obj: Obj, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => obj.metadata.labels?.[k] === v);
}
