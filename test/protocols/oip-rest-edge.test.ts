// The Open Inference Protocol's REST routes at the edge (gateway/edge/oip.ts) in front of
// the two real demo runtimes, model name = the service group: the same credentials, rate
// limit, weighted split and inference records as /predict; the version pinned by the path
// (or the x-sluice-version header); 404 for an unknown group or version, 503 for a group
// with nothing running; and every bad input refused with the protocol's error body plus
// the request id — by the edge itself (the same code the runtime runs) or by the runtime.
/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protocol messages of varying shape, asserted field by field */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoEnv, spawnRuntime, waitReady, type SpawnedRuntime } from '../runtime/spawn-runtime.ts';
import { apiKeyFor, dpVersion, startStack, type Stack } from '../edge/helpers.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { OIP_BAD_INPUTS, heldout, matrix, perColumn, twentyMegabytes } from './oip-cases.ts';

let r1: SpawnedRuntime, r2: SpawnedRuntime;
let stack: Stack;
let key: string;
const portOf = (r: SpawnedRuntime) => Number(new URL(r.url).port);
const N = heldout.rows.length;

beforeAll(async () => {
  [r1, r2] = await Promise.all([spawnRuntime(demoEnv('1')), spawnRuntime(demoEnv('2'))]);
  await Promise.all([waitReady(r1.url), waitReady(r2.url)]);
  const model: DataPlaneModel = {
    groups: [
      {
        groupId: 'g1',
        name: 'wine-quality',
        versions: [
          dpVersion({ name: 'v1', weight: 80, ports: [portOf(r1)], auth: true, capture: true }),
          dpVersion({ name: 'v2', weight: 20, ports: [portOf(r2)], auth: true, capture: true }),
        ],
      },
      { groupId: 'g2', name: 'limited', versions: [dpVersion({ name: 'v1', weight: 100, ports: [portOf(r1)], qps: 1 })] },
      { groupId: 'g3', name: 'stopped', versions: [dpVersion({ name: 'v1', weight: 0, ports: [] })] },
    ],
  };
  stack = await startStack(model);
  key = apiKeyFor(stack.policies, 'wine-quality');
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await Promise.all([r1?.stop(), r2?.stop()]);
});

async function call(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, any> };
}
const auth = () => ({ authorization: `Bearer ${key}` });

describe('OIP REST at the edge', () => {
  it('the edge’s own health needs no credential', async () => {
    expect(await call('/v2/health/live')).toMatchObject({ status: 200, json: { live: true } });
    expect(await call('/v2/health/ready')).toMatchObject({ status: 200, json: { ready: true } });
  });

  it('model routes need the credential: 401 without, 403 with a wrong one', async () => {
    const none = await call('/v2/models/wine-quality/infer', { inputs: [matrix(1)] });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error_code: 'UNAUTHENTICATED', error: expect.any(String), request_id: expect.any(String) });
    expect((await call('/v2/models/wine-quality', undefined, { authorization: 'sk_wrong' })).json.error_code).toBe('PERMISSION_DENIED');
  });

  it('metadata names the group and its versions; readiness per pinned version', async () => {
    const meta = await call('/v2/models/wine-quality', undefined, auth());
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({ name: 'wine-quality', platform: 'onnxruntime_onnx' });
    expect([...meta.json.versions].sort()).toEqual(['v1', 'v2']);
    expect(meta.json.inputs).toHaveLength(13);
    expect(await call('/v2/models/wine-quality/versions/v2/ready', undefined, auth())).toMatchObject({ status: 200, json: { ready: true } });
  });

  it('infer through the weighted split: both versions answer, each with its own model’s labels', async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const r = await call('/v2/models/wine-quality/infer', { inputs: [matrix(N)], outputs: [{ name: 'label' }] }, auth());
      expect(r.status).toBe(200);
      const v = r.json.model_version as 'v1' | 'v2';
      expect(r.headers.get('x-sluice-version')).toBe(v);
      expect(r.json.model_name).toBe('wine-quality');
      expect(r.json.outputs[0].data).toEqual(heldout.versions[v === 'v1' ? '1' : '2'].predictions);
      seen[v] = (seen[v] ?? 0) + 1;
    }
    expect(seen.v1).toBeGreaterThan(seen.v2 ?? 0);
    expect(seen.v2 ?? 0).toBeGreaterThan(0);
  });

  it('the version-pinned path and the pin header', async () => {
    const path = await call('/v2/models/wine-quality/versions/v2/infer', { inputs: perColumn(N) }, auth());
    expect(path.status).toBe(200);
    expect(path.json.model_version).toBe('v2');
    expect(path.json.outputs[0].data).toEqual(heldout.versions['2'].predictions);
    expect(path.json.outputs[1]).toMatchObject({ name: 'probabilities', shape: [N, 3] });
    const header = await call('/v2/models/wine-quality/infer', { inputs: [matrix(2)] }, { ...auth(), 'x-sluice-version': 'v1' });
    expect(header.json.model_version).toBe('v1');
  });

  it('unknown group 404, unknown version 404, nothing running 503', async () => {
    const group = await call('/v2/models/no-such/infer', { inputs: [matrix(1)] }, auth());
    expect(group).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST', error: expect.stringContaining('no-such'), request_id: expect.any(String) } });
    const version = await call('/v2/models/wine-quality/versions/v9/infer', { inputs: [matrix(1)] }, auth());
    expect(version).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    const stopped = await call('/v2/models/stopped/infer', { inputs: [matrix(1)] });
    expect(stopped).toMatchObject({ status: 503, json: { error_code: 'TEMPORARILY_UNAVAILABLE' } });
  });

  for (const c of OIP_BAD_INPUTS) {
    it(`bad input: ${c.name} → ${c.status} ${c.code}`, async () => {
      const { status, json } = await call('/v2/models/wine-quality/infer', c.body, auth());
      expect(status).toBe(c.status);
      expect(Object.keys(json).sort()).toEqual(['error', 'error_code', 'request_id']);
      expect(json.error_code).toBe(c.code);
      expect(json.error).toContain(c.message);
    });
  }

  it('a 20 MB tensor is 413 over the limit, answered before it is read', async () => {
    const r = await call('/v2/models/wine-quality/infer', twentyMegabytes(), auth());
    expect(r).toMatchObject({ status: 413, json: { error_code: 'RESOURCE_LIMIT_EXCEEDED' } });
    expect((await call('/v2/models/wine-quality/infer', { inputs: [matrix(1)] }, auth())).status).toBe(200);
  });

  it('the rate limit applies: 429 with Retry-After and the protocol’s body', async () => {
    const all = await Promise.all(Array.from({ length: 6 }, () => call('/v2/models/limited/infer', { inputs: [matrix(1)] })));
    const throttled = all.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(throttled[0]?.json).toMatchObject({ error_code: 'REQUEST_LIMIT_EXCEEDED', error: expect.any(String) });
  });

  it('every infer call of a captured version has one inference record, marked protocol "oip"', async () => {
    const ok = await call('/v2/models/wine-quality/versions/v1/infer', { id: 'oip-rec-1', inputs: [matrix(2)] }, auth());
    const bad = await call('/v2/models/wine-quality/versions/v1/infer', { id: 'oip-rec-2', inputs: [{ ...matrix(1), shape: [2, 13] }] }, auth());
    expect([ok.status, bad.status]).toEqual([200, 400]);
    expect(await stack.writer.flush(5000)).toBe(true);
    const records: Record<string, any>[] = [];
    for (const k of await stack.store.list('inference-logs/wine-quality/v1/')) {
      const obj = await stack.store.get(k.key);
      for (const line of gunzipSync(obj.body).toString('utf8').split('\n')) if (line) records.push(JSON.parse(line));
    }
    const byId = new Map(records.map((r) => [r.request_id, r]));
    expect(byId.get(ok.json.request_id ?? ok.headers.get('x-request-id'))).toMatchObject({ protocol: 'oip', client_request_id: 'oip-rec-1', status_code: 200, version: 'v1' });
    const rec = byId.get(ok.headers.get('x-request-id')) as Record<string, any>;
    expect(JSON.parse(rec.request).inputs[0].shape).toEqual([2, 13]);
    expect(JSON.parse(rec.response).outputs[0].data).toEqual(heldout.versions['1'].predictions.slice(0, 2));
    expect(byId.get(bad.json.request_id)).toMatchObject({ protocol: 'oip', status_code: 400, error: expect.stringContaining('BAD_REQUEST') });
  });
});
