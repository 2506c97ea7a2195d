// The local edge end to end: the real xDS server → the edge's ADS client → /predict on
// node:http fake runtimes, with the real Authorizer, RateLimiter and InferenceRecorder.
import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair, base64url } from 'jose';
import type { DataPlaneModel } from '../../xds/model.ts';
import { testRedisUrl } from '../fixtures/services.ts';
import { RawConnection, apiKeyFor, dpVersion, post, predictRequest, rawRequest, row, sleep, startFakeRuntime, startStack, type FakeRuntime, type Stack } from './helpers.ts';

const groupModel = (versions: Parameters<typeof dpVersion>[0][], name = 'wine'): DataPlaneModel => ({
  groups: [{ groupId: `gid-${name}`, name, versions: versions.map(dpVersion) }],
});

async function count(url: string, n: number, concurrency: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const r = await post(url, row(), headers);
        const key = r.status === 200 ? String(r.json.version) : `HTTP ${r.status}`;
        out[key] = (out[key] ?? 0) + 1;
      }
    }),
  );
  return out;
}

describe('edge: routing from xDS', () => {
  let v1: FakeRuntime, v1b: FakeRuntime, v2: FakeRuntime;
  let stack: Stack;
  let predict: string;

  beforeAll(async () => {
    [v1, v1b, v2] = await Promise.all([startFakeRuntime('v1'), startFakeRuntime('v1'), startFakeRuntime('v2')]);
    stack = await startStack(
      groupModel([
        { name: 'v1', weight: 80, ports: [v1.port, v1b.port] },
        { name: 'v2', weight: 20, ports: [v2.port] },
      ]),
    );
    predict = `${stack.url}/services/wine/predict`;
  });
  afterAll(async () => {
    await stack.close();
    await Promise.all([v1.close(), v1b.close(), v2.close()]);
  });

  it('answers the contract shape with the version header', async () => {
    const r = await post(predict, { client_request_id: 'c-1', ...row(3) }, { 'x-sluice-version': 'v2' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ client_request_id: 'c-1', request_id: expect.any(String), version: 'v2', predictions: ['v2', 'v2', 'v2'] });
    expect(r.headers['x-sluice-version']).toBe('v2');
    expect(r.headers['x-request-id']).toBe(r.json.request_id);
    // the runtime is told which version and request it serves
    expect(v2.lastHeaders?.['x-request-id']).toBe(r.json.request_id);
    expect(v2.lastHeaders?.['x-sluice-version']).toBe('v2');
  });

  it('splits 80/20 within ±5 points over 1,000 requests and balances over replicas', async () => {
    const before = { a: v1.calls, b: v1b.calls };
    const c = await count(predict, 1000, 8);
    expect(c['v1']! + c['v2']!).toBe(1000);
    expect(Math.abs(c['v1']! / 10 - 80)).toBeLessThanOrEqual(5);
    // round robin: the two v1 replicas get about the same
    const a = v1.calls - before.a;
    const b = v1b.calls - before.b;
    expect(Math.abs(a - b)).toBeLessThanOrEqual(2);
  });

  it('honours the pin header, and answers 404 for a pin on no running version', async () => {
    const c = await count(predict, 50, 5, { 'x-sluice-version': 'v2' });
    expect(c).toEqual({ v2: 50 });
    const r = await post(predict, row(), { 'x-sluice-version': 'v9' });
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
  });

  it('404 for an unknown group and for other paths, JSON with a request id', async () => {
    const r = await post(`${stack.url}/services/nope/predict`, row());
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: expect.any(String), request_id: expect.any(String) });
    const other = await fetch(`${stack.url}/nothing`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error_code: string }).error_code).toBe('RESOURCE_DOES_NOT_EXIST');
  });

  it('follows a weight change pushed over xDS', async () => {
    await stack.setModel(
      groupModel([
        { name: 'v1', weight: 1, ports: [v1.port, v1b.port] },
        { name: 'v2', weight: 3, ports: [v2.port] },
      ]),
    );
    const c = await count(predict, 400, 8);
    expect(Math.abs(c['v2']! / 4 - 75)).toBeLessThanOrEqual(8);
  });

  it('retries on the other replica when one refuses connections', async () => {
    await v1b.close();
    await stack.setModel(groupModel([{ name: 'v1', weight: 100, ports: [v1.port, v1b.port] }]));
    const c = await count(predict, 40, 4);
    expect(c).toEqual({ v1: 40 });
  });

  it('a version whose runtime is gone answers for itself until the split leaves it out; after that, no 5xx', async () => {
    const v2b = await startFakeRuntime('v2');
    const v1c = await startFakeRuntime('v1');
    await stack.setModel(
      groupModel([
        { name: 'v1', weight: 50, ports: [v1c.port] },
        { name: 'v2', weight: 50, ports: [v2b.port] },
      ]),
    );
    const results: { status: number; code: string; version: string; afterPush: boolean }[] = [];
    let stop = false;
    let pushed = false;
    const load = Promise.all(
      Array.from({ length: 6 }, async () => {
        while (!stop) {
          const afterPush = pushed;
          const r = await post(predict, row());
          results.push({ status: r.status, code: String(r.json.error_code ?? ''), version: String(r.json.version ?? ''), afterPush });
        }
      }),
    );
    const atLeast = async (n: number) => {
      while (results.length < n) await sleep(5);
    };
    await atLeast(30);
    // the runtime goes away first (its process stopped), then the control plane pushes the model without it
    await v2b.close();
    await atLeast(results.length + 30);
    await stack.setModel(groupModel([{ name: 'v1', weight: 100, ports: [v1c.port] }]));
    pushed = true;
    await atLeast(results.length + 30);
    stop = true;
    await load;
    expect(results.length).toBeGreaterThanOrEqual(90);
    // meanwhile v2's share is answered for v2, with a stable code: a retry never moves to
    // another version (Envoy keeps it in the picked cluster too), and v1 is not masked as v2
    const failed = results.filter((r) => r.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed.map((r) => `${r.status} ${r.code}`))).toEqual(new Set(['502 TEMPORARILY_UNAVAILABLE']));
    expect(results.filter((r) => r.status === 200 && r.version !== 'v1' && r.version !== 'v2')).toEqual([]);
    expect(results.filter((r) => r.afterPush && r.status !== 200)).toEqual([]);
    const after = await count(predict, 20, 2);
    expect(after).toEqual({ v1: 20 });
    await v1c.close();
  });

  it('answers 503 when no version runs', async () => {
    await stack.setModel({ groups: [{ groupId: 'gid-wine', name: 'wine', versions: [] }] });
    const r = await post(predict, row());
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });
  });

  it('exposes the Prometheus series', async () => {
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    expect(text).toMatch(/sluice_requests_total\{group="wine",version="v1",code="200"\} \d+/);
    expect(text).toMatch(/sluice_request_duration_seconds_bucket\{le="0.005",group="wine",version="v1"\}/);
    expect(text).toContain('sluice_inflight_requests');
    expect(text).toMatch(/sluice_request_bytes_total\{group="wine",version="v1"\} \d+/);
    expect(text).toMatch(/sluice_response_bytes_total\{group="wine",version="v1"\} \d+/);
    const h = (await (await fetch(`${stack.url}/healthz`)).json()) as { status: string; connected: boolean };
    expect(h).toMatchObject({ status: 'ok', connected: true });
  });
});

describe('edge: policy (auth, rate limit, capture)', () => {
  let v1: FakeRuntime;
  let stack: Stack;
  let predict: string;
  let key: string;
  let jwtKeys: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    v1 = await startFakeRuntime('v1');
    jwtKeys = await generateKeyPair('ES256');
    stack = await startStack(
      {
        groups: [
          { groupId: 'g1', name: 'secure', versions: [dpVersion({ name: 'v1', weight: 100, ports: [v1.port], auth: true, capture: true })] },
          { groupId: 'g2', name: 'limited', versions: [dpVersion({ name: 'v1', weight: 100, ports: [v1.port], qps: 10 })] },
        ],
      },
      { jwt: { issuer: 'https://issuer.test', audience: 'sluice', keys: async () => jwtKeys.publicKey, algorithms: ['ES256'] } },
    );
    predict = `${stack.url}/services/secure/predict`;
    key = apiKeyFor(stack.policies, 'secure', 'key-1');
  });
  afterAll(async () => {
    await stack.close();
    await v1.close();
  });

  it('401 without a credential or with an empty one', async () => {
    for (const h of [{}, { authorization: '' }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
      const r = await post(predict, row(), h);
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ error_code: 'UNAUTHENTICATED' });
    }
  });

  it('200 with the key, bare or Bearer; 403 for a wrong or revoked key', async () => {
    expect((await post(predict, row(), { authorization: key })).status).toBe(200);
    expect((await post(predict, row(), { authorization: `Bearer ${key}` })).status).toBe(200);
    const wrong = await post(predict, row(), { authorization: `${key.slice(0, -4)}AAAA` });
    expect(wrong.status).toBe(403);
    expect(wrong.json).toMatchObject({ error_code: 'PERMISSION_DENIED' });
    const other = apiKeyFor(stack.policies, 'secure', 'key-2');
    expect((await post(predict, row(), { authorization: other })).status).toBe(200);
    stack.policies.revokeKey('key-2');
    const revoked = await post(predict, row(), { authorization: other });
    expect(revoked.status).toBe(403);
  });

  it('404 for an unknown group whatever the credential', async () => {
    const r = await post(`${stack.url}/services/unknown/predict`, row(), { authorization: key });
    expect(r.status).toBe(404);
    const r2 = await post(`${stack.url}/services/unknown/predict`, row());
    expect(r2.status).toBe(404);
  });

  it('JWTs: a signed one passes, alg none does not', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = await new SignJWT({ sluice_groups: ['secure'] })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://issuer.test')
      .setAudience('sluice')
      .setSubject('alice')
      .setExpirationTime(now + 60)
      .sign(jwtKeys.privateKey);
    expect((await post(predict, row(), { authorization: `Bearer ${good}` })).status).toBe(200);
    const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
    const none = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: 'https://issuer.test', aud: 'sluice', sub: 'mallory', exp: now + 60, sluice_groups: ['*'] })}.`;
    const r = await post(predict, row(), { authorization: `Bearer ${none}` });
    expect([401, 403]).toContain(r.status);
  });

  it('QPS 10 under 50 rps: about the right share of 429s, each with Retry-After', async () => {
    const url = `${stack.url}/services/limited/predict`;
    const statuses: number[] = [];
    const retryAfter: string[] = [];
    const t0 = Date.now();
    const inflight: Promise<void>[] = [];
    // 50 rps for 3 s, paced
    for (let i = 0; i < 150; i++) {
      const due = t0 + i * 20;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      inflight.push(
        post(url, row()).then((r) => {
          statuses.push(r.status);
          if (r.status === 429) {
            retryAfter.push(String(r.headers['retry-after']));
            expect(r.json).toMatchObject({ error_code: 'REQUEST_LIMIT_EXCEEDED' });
          }
        }),
      );
    }
    await Promise.all(inflight);
    const elapsed = (Date.now() - t0) / 1000;
    const ok = statuses.filter((s) => s === 200).length;
    const throttled = statuses.filter((s) => s === 429).length;
    expect(ok + throttled).toBe(150);
    // a full bucket (10) plus 10 per second of the run
    const expected = 10 + 10 * elapsed;
    expect(ok).toBeGreaterThanOrEqual(expected - 6);
    expect(ok).toBeLessThanOrEqual(expected + 6);
    expect(retryAfter.every((v) => /^[1-9]\d*$/.test(v))).toBe(true);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`sluice_throttled_total\\{group="limited",version="v1"\\} ${throttled}`));
  });

  it('records every answered request of a captured version in the object store', async () => {
    const ok = await post(predict, { client_request_id: 'rec-1', ...row(2) }, { authorization: key });
    const denied = await post(predict, { client_request_id: 'rec-2', ...row(1) });
    const bad = await post(predict, '{"dataframe_split": 3}', { authorization: key });
    expect([ok.status, denied.status, bad.status]).toEqual([200, 401, 400]);
    expect(await stack.writer.flush(5000)).toBe(true);
    const keys = await stack.store.list('inference-logs/secure/v1/');
    const records = [];
    for (const k of keys) {
      const obj = await stack.store.get(k.key);
      for (const line of gunzipSync(obj.body).toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
    }
    const byId = new Map(records.map((r) => [r.request_id, r]));
    const rOk = byId.get(ok.json.request_id);
    expect(rOk).toMatchObject({ client_request_id: 'rec-1', group: 'secure', version: 'v1', status_code: 200, error: null });
    expect(JSON.parse(String(rOk?.response)).predictions).toEqual(['v1', 'v1']);
    expect(JSON.parse(String(rOk?.request)).dataframe_split.columns).toEqual(['a', 'b']);
    expect(byId.get(denied.json.request_id)).toMatchObject({ status_code: 401, error: expect.stringContaining('UNAUTHENTICATED') });
    expect(byId.get(bad.json.request_id)).toMatchObject({ status_code: 400, error: expect.stringContaining('BAD_REQUEST') });
    // exactly one record per answered request
    const ids = records.map((r) => r.request_id);
    expect(new Set(ids).size).toBe(ids.length);
    // a group without the inference table writes nothing
    expect(await stack.store.list('inference-logs/limited/')).toEqual([]);
  });
});

describe('edge: bad input never hurts it', () => {
  let v1: FakeRuntime;
  let stack: Stack;
  let predict: string;

  beforeAll(async () => {
    v1 = await startFakeRuntime('v1');
    stack = await startStack(groupModel([{ name: 'v1', weight: 100, ports: [v1.port] }]), {
      limits: { bodyTimeoutMs: 300, headersTimeoutMs: 400, upstreamTimeoutMs: 300, maxHeaderBytes: 8 * 1024 },
    });
    predict = `${stack.url}/services/wine/predict`;
  });
  afterAll(async () => {
    await stack.close();
    await v1.close();
  });

  const stillServing = async () => {
    const r = await post(predict, row());
    expect(r.status).toBe(200);
  };

  it.each([
    ['not JSON', 400, 'BAD_REQUEST', '{"dataframe_split": '],
    ['JSON not an object', 400, 'BAD_REQUEST', '[1,2,3]'],
    ['null', 400, 'BAD_REQUEST', 'null'],
    ['no input', 400, 'BAD_REQUEST', '{"client_request_id":"x"}'],
    ['ragged data', 400, 'BAD_REQUEST', JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [[1, 2], [3]] } })],
    ['empty data', 400, 'BAD_REQUEST', JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [] } })],
    ['no columns', 422, 'INVALID_PARAMETER_VALUE', JSON.stringify({ dataframe_split: { columns: [], data: [[]] } })],
    ['nested cells', 422, 'INVALID_PARAMETER_VALUE', JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [[1, { x: 1 }]] } })],
    ['wrong columns', 422, 'INVALID_PARAMETER_VALUE', JSON.stringify({ dataframe_split: { columns: ['a', 'zzz'], data: [[1, 2]] } })],
    ['strings that are not numbers', 422, 'INVALID_PARAMETER_VALUE', JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [['one', 2]] } })],
  ])('%s → %i %s', async (_name, status, code, body) => {
    const r = await post(predict, body as string);
    expect(r.status).toBe(status);
    expect(r.json).toMatchObject({ error_code: code, message: expect.any(String), request_id: expect.any(String) });
    await stillServing();
  });

  it('415 for a body that is not declared JSON', async () => {
    const r = await post(predict, JSON.stringify(row()), { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.json).toMatchObject({ error_code: 'BAD_REQUEST' });
    await stillServing();
  });

  it('405 for GET on /predict', async () => {
    const r = await fetch(predict);
    expect(r.status).toBe(405);
  });

  it('413 for a 20 MB body by Content-Length, and the connection stays usable', async () => {
    const conn = await RawConnection.open(stack.edge.port);
    const big = Buffer.alloc(20 * 1024 * 1024, 0x20);
    await conn.write(`POST /services/wine/predict HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\ncontent-length: ${big.length}\r\n\r\n`);
    // the answer comes before a byte of the body is sent
    const r = await conn.response();
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text).error_code).toBe('RESOURCE_LIMIT_EXCEEDED');
    await conn.write(big);
    await conn.write(predictRequest('wine', JSON.stringify(row())));
    const again = await conn.response();
    expect(again.status).toBe(200);
    expect(conn.closed).toBe(false);
    conn.close();
  });

  it('413 for a chunked body as soon as it passes the limit, connection usable', async () => {
    const conn = await RawConnection.open(stack.edge.port);
    await conn.write('POST /services/wine/predict HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    for (let i = 0; i < 11; i++) await conn.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    // past 10 MiB: answered while the client is still sending
    const r = await conn.response();
    expect(r.status).toBe(413);
    await conn.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n0\r\n\r\n')]));
    await conn.write(predictRequest('wine', JSON.stringify(row())));
    const again = await conn.response();
    expect(again.status).toBe(200);
    expect(conn.closed).toBe(false);
    conn.close();
  });

  it('408 for a body that stalls', async () => {
    const r = await rawRequest(stack.edge.port, { path: '/services/wine/predict', headers: { 'content-type': 'application/json', 'content-length': 100 } }, (req) => {
      req.write('{"dataframe_split":');
      // …and never the rest
    });
    expect(r.status).toBe(408);
    expect(JSON.parse(r.text).error_code).toBe('DEADLINE_EXCEEDED');
    await stillServing();
  });

  it('408 for headers that trickle in (slowloris)', async () => {
    const conn = await RawConnection.open(stack.edge.port);
    const t0 = Date.now();
    await conn.write('POST /services/wine/predict HTTP/1.1\r\nhost: edge\r\n');
    for (let i = 0; i < 20 && !conn.closed; i++) {
      await sleep(100);
      await conn.write(`x-slow-${i}: y\r\n`);
    }
    const r = await conn.response();
    expect(r.status).toBe(408);
    expect(JSON.parse(r.text).error_code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - t0).toBeLessThan(1900);
    conn.close();
    await stillServing();
  });

  it('431 for a header flood', async () => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (let i = 0; i < 200; i++) headers[`x-flood-${i}`] = 'y'.repeat(100);
    const r = await new Promise<string>((resolve, reject) => {
      const s = connect(stack.edge.port, '127.0.0.1', () => {
        s.write(`POST /services/wine/predict HTTP/1.1\r\nhost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
      });
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    expect(r).toMatch(/^HTTP\/1\.1 431/);
    expect(r).toContain('"error_code":"BAD_REQUEST"');
    await stillServing();
  });

  it('504 when the runtime does not answer in time', async () => {
    v1.delayMs = 1000;
    try {
      const r = await post(predict, row());
      expect(r.status).toBe(504);
      expect(r.json).toMatchObject({ error_code: 'DEADLINE_EXCEEDED' });
    } finally {
      v1.delayMs = 0;
    }
    await stillServing();
  });

  it('502 when no replica of a pinned version can be reached', async () => {
    const dead = await startFakeRuntime('v2');
    await dead.close();
    await stack.setModel(
      groupModel([
        { name: 'v1', weight: 100, ports: [v1.port] },
        { name: 'v2', weight: 0, ports: [dead.port] },
      ]),
    );
    const r = await post(predict, row(), { 'x-sluice-version': 'v2' });
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });
    await stillServing();
  });
});

describe('edge: before and around the routes', () => {
  it('answers 503 EDGE_NOT_READY (and /healthz 503) until the first config, then serves', async () => {
    const { startEdge } = await import('../../gateway/edge/server.ts');
    const { StaticRoutingSource } = await import('../../gateway/edge/xds-client.ts');
    const { routingTableFromResources } = await import('../../gateway/edge/routing.ts');
    const { translate } = await import('../../xds/translate.ts');
    const { SETTINGS } = await import('./helpers.ts');
    const rt = await startFakeRuntime('v1');
    const routing = new StaticRoutingSource();
    const edge = await startEdge({ port: 0, host: '127.0.0.1', routing, policy: {} });
    try {
      const url = `http://127.0.0.1:${edge.port}`;
      const r = await post(`${url}/services/wine/predict`, row());
      expect(r.status).toBe(503);
      expect(r.json).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });
      expect(r.headers['retry-after']).toBe('1');
      expect((await fetch(`${url}/healthz`)).status).toBe(503);
      routing.set(routingTableFromResources(translate(groupModel([{ name: 'v1', weight: 100, ports: [rt.port] }]), SETTINGS)));
      expect((await post(`${url}/services/wine/predict`, row())).status).toBe(200);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);

      // Expect: 100-continue: an oversized body is refused before the client sends it
      const conn = await RawConnection.open(edge.port);
      await conn.write(`POST /services/wine/predict HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\ncontent-length: ${50 * 1024 * 1024}\r\nexpect: 100-continue\r\n\r\n`);
      const refused = await conn.response();
      expect(refused.status).toBe(413);
      conn.close();
      // …and an acceptable one gets its 100 Continue, then the answer
      const ok = await RawConnection.open(edge.port);
      const body = JSON.stringify(row());
      await ok.write(`POST /services/wine/predict HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`);
      const cont = await ok.response();
      expect(cont.status).toBe(100);
      await ok.write(body);
      expect((await ok.response()).status).toBe(200);
      ok.close();

      // a route with auth on and no authorizer is refused, never let through
      routing.set(routingTableFromResources(translate(groupModel([{ name: 'v1', weight: 100, ports: [rt.port], auth: true }]), SETTINGS)));
      const noAuth = await post(`${url}/services/wine/predict`, row());
      expect(noAuth.status).toBe(503);
      expect(noAuth.json).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });
    } finally {
      await edge.close();
      await rt.close();
    }
  });
});

describe('edge: QPS limit shared through Redis by two edge replicas', () => {
  it('two edges on one Redis budget let about one limit through, not two', async () => {
    const rt = await startFakeRuntime('v1');
    const model = groupModel([{ name: 'v1', weight: 100, ports: [rt.port], qps: 10 }]);
    const prefix = `sluice-test-edge-${Date.now()}-${process.pid}:`;
    const [a, b] = await Promise.all([
      startStack(model, { redisUrl: testRedisUrl(), redisPrefix: prefix }),
      startStack(model, { redisUrl: testRedisUrl(), redisPrefix: prefix }),
    ]);
    try {
      const statuses: number[] = [];
      const t0 = Date.now();
      const inflight: Promise<void>[] = [];
      // 40 rps to each edge for 2 s
      for (let i = 0; i < 80; i++) {
        const wait = t0 + i * 25 - Date.now();
        if (wait > 0) await sleep(wait);
        for (const s of [a, b]) inflight.push(post(`${s.url}/services/wine/predict`, row()).then((r) => void statuses.push(r.status)));
      }
      await Promise.all(inflight);
      const elapsed = (Date.now() - t0) / 1000;
      const ok = statuses.filter((s) => s === 200).length;
      expect(ok + statuses.filter((s) => s === 429).length).toBe(160);
      // one bucket of 10 refilled at 10/s for the whole fleet (two local buckets would pass twice that)
      const expected = 10 + 10 * elapsed;
      expect(ok).toBeGreaterThanOrEqual(expected - 6);
      expect(ok).toBeLessThanOrEqual(expected + 6);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await rt.close();
    }
  });
});
