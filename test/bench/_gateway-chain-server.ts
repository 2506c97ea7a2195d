// Child process of the gateway benchmark's chain rows: the Envoy plugin services (ext_authz,
// rate limit, ext_proc, access log) on one gRPC port with in-process policies, an API key,
// and the inference log on a temp spool, alone in this process so that its CPU time is the
// services' own. Sends {port, key, httpPort} over IPC when listening; exits on 'stop' after
// flushing. httpPort: the same authorizer behind a bare node:http handler answering as
// ext_authz's HTTP service mode expects (2xx + headers, or the denial) — the bench's
// measure of what an HTTP authz call costs next to a grpc-js unary Check.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { generateApiKey } from '../../gateway/authz.ts';
import { errorBody } from '../../gateway/policy/port.ts';
import { StaticPolicySource } from '../../gateway/policy/port.ts';
import { GATEWAY_GRPC_OPTIONS, createGatewayPolicies, startGatewayServer } from '../../gateway/server.ts';
import { envoyServices } from '../../proto/envoy.ts';
import * as grpc from '@grpc/grpc-js';

if (process.env.SLUICE_BENCH_CHAIN_VARIANT === 'empty-unary') {
  // grpc-js's floor: the ext_authz service with a handler that answers at once, on a
  // server with the gateway's own options
  const services = envoyServices();
  const server = new grpc.Server(GATEWAY_GRPC_OPTIONS);
  server.addService(services.authorization, { Check: (_call: unknown, cb: (err: null, res: object) => void) => cb(null, {}) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.on('message', () => server.tryShutdown(() => process.exit(0)));
  process.send?.({ type: 'ready', port, key: '' });
} else await serveChain();

async function serveChain(): Promise<void> {
  const policies = new StaticPolicySource();
  policies.setVersion({
    group: 'wine-quality',
    version: 'v1',
    authEnabled: true,
    qpsLimit: 1e9, // never throttles: the chain's cost, not the refusal, is measured
    keyQpsLimit: null,
    inference: { enabled: true, sampleRate: 1, maxBodyBytes: 64 * 1024 },
  });
  const { key, hash } = generateApiKey();
  policies.addKey({ keyId: 'k1', hash, groupName: 'wine-quality', versionName: null });
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-chain-'));
  const gp = await createGatewayPolicies({ policies, store: new FsObjectStore(path.join(dir, 'objects')), dataDir: dir, registry: new Registry() });
  const server = await startGatewayServer({ port: 0, host: '127.0.0.1', authorizer: gp.authorizer, rateLimiter: gp.rateLimiter, capture: gp.capture });
  const authzHttp = http.createServer((req, res) => {
    const rid = String(req.headers['x-request-id'] ?? '');
    gp.authorizer.check({ group: 'wine-quality', version: 'v1', authorization: req.headers.authorization }).then((d) => {
      if (d.allowed) {
        res.writeHead(200, { 'x-sluice-identity': d.identity, 'x-sluice-key-id': d.keyId ?? '' }).end();
      } else {
        res.writeHead(d.status, { 'content-type': 'application/json', 'x-request-id': rid }).end(errorBody(d.code, d.message, rid));
      }
    }, () => res.writeHead(503).end());
  });
  authzHttp.keepAliveTimeout = 60_000;
  const httpPort = await new Promise<number>((resolve) => authzHttp.listen(0, '127.0.0.1', () => resolve((authzHttp.address() as { port: number }).port)));
  process.on('message', (msg: { type: string }) => {
    if (msg.type !== 'stop') return;
    void (async () => {
      authzHttp.closeAllConnections();
      authzHttp.close();
      await server.close(500);
      await gp.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    })();
  });
  process.send?.({ type: 'ready', port: server.port, key, httpPort });
}
