// The edge's CORS for the dashboard's debugger (gateway/edge/cors.ts): preflights from the allowed
// origin are answered with exactly that origin and the Authorization header allowed; real calls
// (answers and refusals alike) carry the origin so the page can read them; other origins get
// nothing (403 on preflight); there is never a wildcard or Allow-Credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeCors } from '../../gateway/edge/cors.ts';
import { apiKeyFor, dpVersion, row, startFakeRuntime, startStack, type FakeRuntime, type Stack } from './helpers.ts';

const DASHBOARD = 'http://127.0.0.1:4000';

function preflight(url: string, origin: string, headers = 'authorization, content-type, x-sluice-version'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers } });
}

describe('edge: CORS for the dashboard', () => {
  let v1: FakeRuntime;
  let stack: Stack;
  let plain: Stack;
  let key: string;
  let predict: string;

  beforeAll(async () => {
    v1 = await startFakeRuntime('v1');
    const model = { groups: [{ groupId: 'g1', name: 'secure', versions: [dpVersion({ name: 'v1', weight: 100, ports: [v1.port], auth: true })] }] };
    stack = await startStack(model, { cors: createEdgeCors([DASHBOARD], ['x-user']) });
    plain = await startStack(model, { cors: createEdgeCors([]) });
    key = apiKeyFor(stack.policies, 'secure');
    predict = `${stack.url}/services/secure/predict`;
  });
  afterAll(async () => {
    await stack?.close();
    await plain?.close();
    await v1?.close();
  });

  it('answers a preflight from the dashboard origin, allowing Authorization, without wildcard or credentials', async () => {
    const res = await preflight(predict, DASHBOARD);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim());
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-sluice-version', 'x-user']));
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toMatch(/origin/i);
    expect(v1.calls).toBe(0); // a preflight never reaches a model
  });

  it('lets the page read the real answer and the version header', async () => {
    const res = await fetch(predict, { method: 'POST', headers: { origin: DASHBOARD, 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(row()) });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(res.headers.get('access-control-expose-headers')).toContain('x-sluice-version');
    expect(res.headers.get('x-sluice-version')).toBe('v1');
    expect((await res.json() as { predictions: unknown[] }).predictions).toEqual(['v1']);
  });

  it('lets the page read a refusal too (401 without a key)', async () => {
    const res = await fetch(predict, { method: 'POST', headers: { origin: DASHBOARD, 'content-type': 'application/json' }, body: JSON.stringify(row()) });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect((await res.json() as { error_code: string }).error_code).toBe('UNAUTHENTICATED');
  });

  it('gives another origin nothing: 403 on preflight, no CORS header on the call', async () => {
    const pre = await preflight(predict, 'http://evil.example');
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect((await pre.json() as { error_code: string }).error_code).toBe('PERMISSION_DENIED');
    const call = await fetch(predict, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(row()) });
    expect(call.headers.get('access-control-allow-origin')).toBeNull();
    // a same-origin caller (no Origin header) is not affected
    const direct = await fetch(predict, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(row()) });
    expect(direct.status).toBe(200);
    expect(direct.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with no origin configured, a preflight is not answered with CORS headers', async () => {
    const res = await preflight(`${plain.url}/services/secure/predict`, DASHBOARD);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.status).not.toBe(204);
  });
});
