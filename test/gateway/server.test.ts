// The wiring the control plane uses: createGatewayPolicies (with Redis) + startGatewayServer,
// all four Envoy services on one port, one request walked through auth → rate limit →
// capture → inference log, then a clean close.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { generateApiKey } from '../../gateway/authz.ts';
import { createGatewayPolicies, startGatewayServer } from '../../gateway/server.ts';
import { testRedisUrl } from '../fixtures/services.ts';
import { check, demoPolicies, envoyClients, readRecords, shouldRateLimit } from './helpers.ts';

describe('gateway server wiring', () => {
  it('serves ext_authz, rate limit, ext_proc and ALS on one port and records the request', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-gwsrv-'));
    const policies = demoPolicies();
    const { key, hash } = generateApiKey();
    policies.addKey({ keyId: 'k-1', hash, groupName: 'wine-quality', versionName: null });
    const store = new FsObjectStore(path.join(dir, 'objects'));
    const registry = new Registry();
    const gp = await createGatewayPolicies({ policies, store, dataDir: dir, redisUrl: testRedisUrl(),
      redisKeyPrefix: `sluice:test:${randomBytes(4).toString('hex')}:`,
      registry,
    });
    const server = await startGatewayServer({ port: 0, host: '127.0.0.1', authorizer: gp.authorizer, rateLimiter: gp.rateLimiter, capture: gp.capture });
    const clients = envoyClients(server.port);
    try {
      const rid = `req-${randomBytes(4).toString('hex')}`;
      const auth = await check(clients, {
        attributes: { request: { http: { headers: { authorization: `Bearer ${key}`, 'x-request-id': rid } } }, context_extensions: { group: 'wine-quality' } },
      });
      expect(auth.http_response).toBe('ok_response');
      const keyId = auth.ok_response?.headers?.find((h) => h.header?.key === 'x-sluice-key-id')?.header?.value ?? '';
      const rl = await shouldRateLimit(clients, {
        domain: 'sluice',
        descriptors: [{ entries: [{ key: 'group', value: 'wine-quality' }, { key: 'version', value: 'v1' }, { key: 'key', value: keyId }] }],
      });
      expect(rl.overall_code).toBe('OK');
      await new Promise<void>((resolve, reject) => {
        const call = clients.extProc.Process();
        call.on('data', () => {});
        call.on('end', resolve);
        call.on('error', reject);
        call.write({ request_headers: { headers: { headers: [{ key: ':path', value: '/services/wine-quality/predict' }, { key: 'x-request-id', value: rid }] } } });
        call.write({ request_body: { body: Buffer.from('{"client_request_id":"abc","dataframe_split":{"columns":["a"],"data":[[1]]}}'), end_of_stream: true } });
        call.write({ response_headers: { headers: { headers: [{ key: ':status', value: '200' }] } } });
        call.write({ response_body: { body: Buffer.from('{"predictions":[1]}'), end_of_stream: true } });
        call.end();
      });
      await new Promise<void>((resolve, reject) => {
        const call = clients.als.StreamAccessLogs((err) => (err ? reject(err) : resolve()));
        call.write({
          identifier: { log_name: 'sluice' },
          http_logs: { log_entry: [{ common_properties: { upstream_cluster: 'sluice/wine-quality/v1', start_time: { seconds: String(Math.floor(Date.now() / 1000)) } }, request: { request_id: rid }, response: { response_code: { value: 200 } } }] },
        });
        call.end();
      });
      await gp.capture.flush();
      expect(await gp.writer.flush(10_000)).toBe(true);
      const recs = await readRecords(store);
      expect(recs.map((r) => [r.record.request_id, r.record.version, r.record.client_request_id, r.record.status_code])).toEqual([[rid, 'v1', 'abc', 200]]);
      expect(existsSync(path.join(dir, 'spool', 'inference'))).toBe(true);
      const counted = await registry.getSingleMetric('sluice_inference_records_total')?.get();
      expect(counted?.values.find((v) => v.labels.outcome === 'recorded')?.value).toBe(1);
    } finally {
      clients.close();
      await server.close(500);
      await gp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
