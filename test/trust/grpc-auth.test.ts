// The attack: anyone who reaches the xDS or gateway port reads every cluster, posts forged
// NACKs, spends a version's rate-limit budget, injects inference records or probes API keys.
// Now: both ports bind to loopback by default and refuse to start exposed without
// authentication; with SLUICE_GRPC_TOKEN, an anonymous gRPC client is answered
// UNAUTHENTICATED on every service while a caller with the token is served; one rate-limit
// call counts for at most MAX_HITS_ADDEND requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { startGatewayServer, type GatewayServer } from '../../gateway/server.ts';
import { Authorizer } from '../../gateway/authz.ts';
import { EnvoyCapture } from '../../gateway/capture.ts';
import { InferenceRecorder } from '../../gateway/inference-log/recorder.ts';
import { InferenceLogWriter } from '../../gateway/inference-log/writer.ts';
import { RateLimiter } from '../../gateway/ratelimit/limiter.ts';
import { MemoryBucketStore } from '../../gateway/ratelimit/memory.ts';
import { MAX_HITS_ADDEND, shouldRateLimit } from '../../gateway/ratelimit/service.ts';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { envoyServices, TYPE_URL } from '../../proto/envoy.ts';
import { XdsServer } from '../../xds/server.ts';
import { SnapshotCache } from '../../xds/cache.ts';
import { GRPC_TOKEN_FILE, GrpcExposureError, clientAuthOptions, resolveGrpcToken, type GrpcAuth } from '../../platform/grpc-auth.ts';
import { startSluice, type SluiceProcess } from '../fixtures/sluice-process.ts';
import { demoPolicies } from '../gateway/helpers.ts';

const TOKEN = 'grpc-token-for-tests-0123456789';
const AUTH: GrpcAuth = { token: TOKEN, tls: null };

function code(error: unknown): number | undefined {
  return (error as { code?: number } | null)?.code;
}

function clientsAt(gatewayPort: number, xdsPort: number, token: string | null) {
  const s = envoyServices();
  const addr = `127.0.0.1:${gatewayPort}`;
  const creds = grpc.credentials.createInsecure();
  const opts = clientAuthOptions(token);
  return {
    auth: new s.AuthorizationClient(addr, creds, opts),
    rls: new s.RateLimitClient(addr, creds, opts),
    als: new s.AccessLogClient(addr, creds, opts),
    ads: new s.AdsClient(`127.0.0.1:${xdsPort}`, creds, opts),
  };
}
type Clients = ReturnType<typeof clientsAt>;

const checkCall = (c: Clients) =>
  new Promise<{ error: unknown; status?: string }>((resolve) =>
    c.auth.Check({ attributes: { request: { http: { headers: { authorization: 'sk_sluice_probe' } } }, context_extensions: { group: 'wine-quality' } } },
      (error, res) => resolve({ error, status: res?.http_response ?? undefined })));
const rateCall = (c: Clients) =>
  new Promise<{ error: unknown }>((resolve) =>
    c.rls.ShouldRateLimit({ domain: 'sluice', hits_addend: 1_000_000, descriptors: [{ entries: [{ key: 'group', value: 'wine-quality' }, { key: 'version', value: 'v1' }] }] },
      (error) => resolve({ error })));
const alsCall = (c: Clients) =>
  new Promise<{ error: unknown }>((resolve) => {
    const call = c.als.StreamAccessLogs((error) => resolve({ error }));
    call.on('error', () => undefined);
    call.write({ identifier: { log_name: 'sluice' }, http_logs: { log_entry: [{ common_properties: { upstream_cluster: 'sluice/wine-quality/v1' }, request: { request_id: 'forged' }, response: { response_code: { value: 200 } } }] } });
    call.end();
  });
const adsCall = (c: Clients) =>
  new Promise<{ error: unknown; responses: number }>((resolve) => {
    let responses = 0;
    const call = c.ads.StreamAggregatedResources();
    const timer = setTimeout(() => { call.cancel(); resolve({ error: null, responses }); }, 1500);
    call.on('data', () => { responses++; clearTimeout(timer); call.cancel(); resolve({ error: null, responses }); });
    call.on('error', (error) => { clearTimeout(timer); resolve({ error, responses }); });
    call.write({ node: { id: 'intruder' }, type_url: TYPE_URL.cluster });
  });

describe('the gRPC ports', () => {
  let dir: string;
  let gateway: GatewayServer;
  let writer: InferenceLogWriter;
  let xds: XdsServer;
  let xdsPort: number;
  const parts = () => {
    const policies = demoPolicies();
    const registry = new Registry();
    const store = new FsObjectStore(path.join(dir, 'objects'));
    writer = new InferenceLogWriter({ store, spoolDir: path.join(dir, 'spool'), maxBatchAgeMs: 200 });
    const recorder = new InferenceRecorder({ policies, sink: writer, registry });
    return {
      authorizer: new Authorizer({ policies }),
      rateLimiter: new RateLimiter({ policies, store: new MemoryBucketStore({}), registry }),
      capture: new EnvoyCapture({ recorder, joinTimeoutMs: 300 }),
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-grpc-auth-'));
    const p = parts();
    await writer.start();
    gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', ...p, auth: AUTH });
    xds = new XdsServer({ cache: new SnapshotCache() });
    xdsPort = await xds.listen(0, '127.0.0.1', AUTH);
  });

  afterAll(async () => {
    await gateway?.close(200);
    await xds?.close();
    await writer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const clients = (token: string | null) => clientsAt(gateway.port, xdsPort, token);

  it('answers an anonymous client UNAUTHENTICATED on every service, xDS included', async () => {
    const c = clients(null);
    expect(code((await checkCall(c)).error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(code((await rateCall(c)).error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(code((await alsCall(c)).error)).toBe(grpc.status.UNAUTHENTICATED);
    const ads = await adsCall(c);
    expect(code(ads.error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(ads.responses).toBe(0);
  });

  it('refuses a wrong token the same way', async () => {
    const c = clients('not-the-token-0123456789');
    expect(code((await checkCall(c)).error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(code((await adsCall(c)).error)).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('serves a proxy with the token', async () => {
    const c = clients(TOKEN);
    const checked = await checkCall(c);
    expect(checked.error).toBeNull();
    expect(checked.status).toBe('denied_response'); // the probe key is wrong: answered, not refused at the door
    expect((await rateCall(c)).error).toBeNull();
    expect((await alsCall(c)).error).toBeNull();
    expect(code((await adsCall(c)).error)).not.toBe(grpc.status.UNAUTHENTICATED);
  });

  it('will not listen beyond loopback without authentication', async () => {
    const p = parts();
    await expect(startGatewayServer({ port: 0, host: '0.0.0.0', ...p })).rejects.toBeInstanceOf(GrpcExposureError);
    await expect(new XdsServer({ cache: new SnapshotCache() }).listen(0, '0.0.0.0')).rejects.toBeInstanceOf(GrpcExposureError);
    const exposed = await startGatewayServer({ port: 0, host: '0.0.0.0', ...p, auth: AUTH });
    await exposed.close(100);
  });

  it('counts one rate-limit call for at most MAX_HITS_ADDEND requests', async () => {
    const costs: number[] = [];
    const spy = { check: async (input: { cost?: number }) => { costs.push(input.cost ?? 1); return { allowed: true, scope: 'none' as const, limit: null, remaining: 0, retryAfterSeconds: 0 }; } };
    const req = (hits: number) => ({ domain: 'sluice', hits_addend: hits, descriptors: [{ entries: [{ key: 'group', value: 'g' }, { key: 'version', value: 'v' }] }] });
    for (const hits of [0, 1, 5, 1_000_000_000]) await shouldRateLimit(spy as unknown as RateLimiter, req(hits) as never);
    expect(costs).toEqual([1, 1, 5, MAX_HITS_ADDEND]);
  });
});

// The attack on a default start: loopback is no boundary on a shared machine (any local
// process, the `nobody` user of custom commands included, dials 127.0.0.1). Without
// SLUICE_GRPC_TOKEN, `npm start` generates a token in the data dir (0600) and requires it on
// every xDS and plugin call; its own edge and the Envoy bootstrap are given it.
describe('the gRPC ports of a default `npm start` (no SLUICE_GRPC_TOKEN)', () => {
  let dataDir: string;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-grpc-default-'));
    sluice = await startSluice({ dataDir, env: { SLUICE_DEMO: '0', SLUICE_GRPC_TOKEN: '' } });
  }, 180_000);

  afterAll(async () => {
    await sluice?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('refuses an anonymous loopback client on every service, and serves one with the data dir token', async () => {
    const tokenFile = path.join(dataDir, GRPC_TOKEN_FILE);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    const anonymous = clientsAt(sluice.ports.SLUICE_GATEWAY_PORT!, sluice.ports.SLUICE_XDS_PORT!, null);
    expect(code((await checkCall(anonymous)).error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(code((await rateCall(anonymous)).error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(code((await alsCall(anonymous)).error)).toBe(grpc.status.UNAUTHENTICATED);
    const ads = await adsCall(anonymous);
    expect(code(ads.error)).toBe(grpc.status.UNAUTHENTICATED);
    expect(ads.responses).toBe(0);
    const proxy = clientsAt(sluice.ports.SLUICE_GATEWAY_PORT!, sluice.ports.SLUICE_XDS_PORT!, token);
    expect((await checkCall(proxy)).error).toBeNull();
    expect(code((await adsCall(proxy)).error)).not.toBe(grpc.status.UNAUTHENTICATED);
    // the local edge (its own process) got the token: it routes over xDS
    const health = await fetch(`${sluice.edgeUrl}/healthz`);
    expect(health.status).toBe(200);
  }, 60_000);

  it('puts the same token into the Envoy bootstrap (npm run envoy:bootstrap on the data dir)', () => {
    const token = readFileSync(path.join(dataDir, GRPC_TOKEN_FILE), 'utf8').trim();
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'xds/bootstrap-cli.ts', '--json'], {
      env: { ...process.env, SLUICE_DATA_DIR: dataDir, SLUICE_GRPC_TOKEN: '' },
      encoding: 'utf8',
    });
    expect(out).toContain(token);
  }, 60_000);

  it('keeps the token across restarts and lets SLUICE_GRPC_TOKEN win', () => {
    const token = readFileSync(path.join(dataDir, GRPC_TOKEN_FILE), 'utf8').trim();
    expect(resolveGrpcToken(null, dataDir)).toBe(token);
    expect(resolveGrpcToken('configured-token-0123456789', dataDir)).toBe('configured-token-0123456789');
  });
});
