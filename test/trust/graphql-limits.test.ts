// The attacks on the GraphQL API as tests: no single query, body or socket can take the
// control plane down (it is also the edge and the gateway on `npm start`), anonymous
// callers cannot read the schema or post large bodies, errors carry no stack traces, and a
// disabled user is cut off on an open socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../../control/http/server.ts';

interface Result { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }

/** serviceGroups { versions { group { versions { group { … } } } } } — `levels` fields deep */
function nested(levels: number): string {
  let inner = 'id';
  for (let i = levels - 1; i >= 1; i--) inner = i % 2 === 1 ? `versions { ${inner} }` : `group { ${inner} }`;
  return `{ serviceGroups { ${inner} } }`;
}

describe('GraphQL limits', () => {
  let cp: TestControlPlane;
  let server: ControlServer;
  let url: string;
  let webRoot: string;
  let savedNodeEnv: string | undefined;
  let userToken: string;
  let userId: string;
  const clients: Client[] = [];

  const start = (extra: Partial<ControlServerOptions> = {}) =>
    startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined, webRoot, ...extra });

  const post = async (body: string, token: string | null = cp.adminToken, base = url): Promise<{ status: number; json: Result }> => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    return { status: res.status, json: (await res.json()) as Result };
  };
  const gql = (query: string, token: string | null = cp.adminToken, base = url) => post(JSON.stringify({ query }), token, base);

  const socket = (base: string, token: string) => {
    const closed: { code?: number } = {};
    const client = createClient({
      url: `${base.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: { closed: (event) => { closed.code = (event as { code: number }).code; } },
    });
    clients.push(client);
    return { client, closed };
  };
  const subscribe = (client: Client, query: string) =>
    new Promise<{ errors?: unknown; started: true }>((resolve) => {
      let settled = false;
      client.subscribe({ query }, {
        next: () => { if (!settled) { settled = true; resolve({ started: true }); } },
        error: (errors) => { if (!settled) { settled = true; resolve({ errors, started: true }); } },
        complete: () => undefined,
      });
      // a live subscription sends nothing until a change: count it as started shortly after
      setTimeout(() => { if (!settled) { settled = true; resolve({ started: true }); } }, 300);
    });
  const waitFor = async (check: () => boolean, what: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  beforeAll(async () => {
    // Apollo shows stack traces unless NODE_ENV is production or test: run as a bare `npm start` would
    savedNodeEnv = process.env.NODE_ENV;
    delete process.env.NODE_ENV;
    cp = await startTestControlPlane({ provider: 'sqlite' });
    webRoot = mkdtempSync(join(tmpdir(), 'sluice-web-'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>sluice</title>');
    server = await start();
    url = server.url;
    const created = await gql(`mutation { createUser(username: "dana", password: "correct-horse-9", role: DEVELOPER) { id } }`);
    userId = (created.json.data!.createUser as { id: string }).id;
    const login = await gql(`mutation { login(username: "dana", password: "correct-horse-9") { token } }`, null);
    userToken = (login.json.data!.login as { token: string }).token;
  });

  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await server?.close();
    await cp?.close();
    rmSync(webRoot, { recursive: true, force: true });
    if (savedNodeEnv !== undefined) process.env.NODE_ENV = savedNodeEnv;
  });

  it('refuses the 60-level nested query before running it, and keeps answering', async () => {
    const { status, json } = await gql(nested(60));
    expect(status).toBeLessThan(500);
    expect(json.data ?? null).toBeNull();
    expect(json.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('refuses the 16-level nested query by its cost (lists under lists)', async () => {
    const { json } = await gql(nested(16));
    expect(json.errors?.map((e) => [e.extensions?.code, e.extensions?.limit])).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
  });

  it('refuses a nested introspection bomb by its own budget', async () => {
    let inner = 'name';
    for (let i = 0; i < 6; i++) inner = `fields { type { ${inner} } }`;
    const { json } = await gql(`{ __schema { types { ${inner} } } }`);
    expect(json.errors?.map((e) => [e.extensions?.code, e.extensions?.limit])).toContainEqual(['QUERY_TOO_COMPLEX', 'introspectionCost']);
  });

  it('still answers the dashboard-sized queries and the standard introspection query of a signed-in caller', async () => {
    // four levels under a page of groups; under the whole list (200 groups, list-bounds.ts)
    // the same nesting is over the budget (test/trust/hostile-query.test.ts)
    expect((await gql(nested(4).replace('serviceGroups', 'serviceGroups(first: 10)'))).json.errors).toBeUndefined();
    const introspection = await gql(getIntrospectionQuery());
    expect(introspection.json.errors).toBeUndefined();
    expect(introspection.json.data).toHaveProperty('__schema');
  });

  it('refuses a million aliases: over the body limit, and a smaller flood by the parser token limit', async () => {
    const million = `{ ${Array.from({ length: 1_000_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const big = await post(JSON.stringify({ query: million }));
    expect(big.status).toBe(413);
    expect(big.json.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    const flood = `{ ${Array.from({ length: 20_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const parsed = await gql(flood);
    expect(parsed.json.errors?.[0]?.message).toMatch(/token/i);
    const some = await gql(`{ ${Array.from({ length: 11 }, (_, i) => `a${i}: __typename`).join(' ')} }`);
    expect(some.json.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
  });

  it('answers a 60 MiB anonymous body with 413 before reading it', async () => {
    const total = 60 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const { status, sent } = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': total } }, (res) => {
        resolve({ status: res.statusCode ?? 0, sent });
        res.resume();
        req.destroy();
      });
      req.on('error', (e) => { if (!sent) reject(e); });
      const pump = () => {
        // send slowly: the answer must come long before the body is through
        if (sent >= total || req.destroyed) return;
        sent += chunk.length;
        req.write(chunk, () => setTimeout(pump, 5));
      };
      pump();
    });
    expect(status).toBe(413);
    expect(sent).toBeLessThan(total / 4);
  });

  it('answers an anonymous body over 16 KiB with 413, and a bad credential with 401, without reading the body', async () => {
    const padded = JSON.stringify({ query: `{ __typename }`, pad: 'x'.repeat(20 * 1024) });
    expect((await post(padded, null)).status).toBe(413);
    expect((await post(padded, 'not-a-token')).status).toBe(401);
    expect((await post(padded)).status).toBe(200);
  });

  it('shows the schema to signed-in callers only', async () => {
    const anonymous = await gql(`{ __schema { types { name } } }`, null);
    expect(anonymous.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(anonymous.json.data ?? null).toBeNull();
    const hidden = await gql(`query { ...F } fragment F on Query { __type(name: "ServiceGroup") { name } }`, null);
    expect(hidden.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gql(`{ __schema { queryType { name } } }`, userToken)).json.errors).toBeUndefined();
    // nor spelled out by the validation errors' suggestions (a misspelt field answered "Did you
    // mean …?" with the real names: the schema, field by field, without introspection)
    for (const probe of [`{ serviceGroupz { id } }`, `{ serviceGroups { nam } }`, `mutation { logn(username: "a", password: "b") { token } }`]) {
      const guessed = await gql(probe, null);
      expect(guessed.json.errors?.length).toBeGreaterThan(0);
      expect(JSON.stringify(guessed.json)).not.toMatch(/did you mean/i);
    }
    // signing in stays possible
    const login = await gql(`mutation { login(username: "dana", password: "correct-horse-9") { token } }`, null);
    expect(login.json.errors).toBeUndefined();
  });

  it('sends no stack traces, whatever the error', async () => {
    const errors = [
      (await gql(`{ noSuchField }`)).json,
      (await gql(`mutation { startServiceVersion(id: "nope") { id } }`)).json,
      (await gql(`mutation { login(username: "nobody-here", password: "wrong-password") { token } }`, null)).json,
      (await gql(nested(60))).json,
    ];
    for (const json of errors) {
      expect(json.errors?.length).toBeGreaterThan(0);
      expect(JSON.stringify(json)).not.toMatch(/stacktrace|\bat .*\.ts:\d+/);
    }
  });

  it('answers a malformed %-escape on a dashboard path with 400, not 500', async () => {
    const res = await fetch(`${url}/groups/%E0%A4%A`);
    expect(res.status).toBe(400);
  });

  it('cuts a disabled user off an open socket: on the next operation and by the periodic check', async () => {
    const periodic = await start({ identityRecheckMs: 100 });
    const perOperation = await start({ identityRecheckMs: 3_600_000 });
    try {
      const a = socket(periodic.url, userToken);
      const b = socket(perOperation.url, userToken);
      expect((await subscribe(a.client, `subscription { serviceGroupsChanged { groupId } }`)).errors).toBeUndefined();
      expect((await subscribe(b.client, `subscription { serviceGroupsChanged { groupId } }`)).errors).toBeUndefined();
      expect(a.closed.code).toBeUndefined();

      expect((await gql(`mutation { updateUser(id: "${userId}", disabled: true) { id } }`)).json.errors).toBeUndefined();
      await waitFor(() => a.closed.code !== undefined, 'the periodic check to close the socket');
      expect(a.closed.code).toBe(4403);

      const refused = await subscribe(b.client, `{ serviceGroups { id } }`);
      expect(refused.errors).toBeTruthy();
      await waitFor(() => b.closed.code !== undefined, 'the per-operation check to close the socket');
      expect(b.closed.code).toBe(4403);
    } finally {
      await gql(`mutation { updateUser(id: "${userId}", disabled: false) { id } }`);
      // disabling ended every session of the user: sign in again for the tests that follow
      const again = await gql(`mutation { login(username: "dana", password: "correct-horse-9") { token } }`, null);
      userToken = (again.json.data!.login as { token: string }).token;
      await periodic.close();
      await perOperation.close();
    }
  });

  it('caps sockets and live subscriptions per user', async () => {
    const capped = await start({ socketQuota: { maxSocketsPerUser: 2, maxSubscriptionsPerUser: 3 } });
    try {
      const first = socket(capped.url, cp.adminToken);
      socket(capped.url, cp.adminToken);
      const sub = `subscription { serviceGroupsChanged { groupId } }`;
      for (let i = 0; i < 3; i++) expect((await subscribe(first.client, sub)).errors).toBeUndefined();
      const fourth = await subscribe(first.client, sub);
      expect(JSON.stringify(fourth.errors)).toContain('TOO_MANY_SUBSCRIPTIONS');
      const third = socket(capped.url, cp.adminToken);
      await subscribe(third.client, sub);
      await waitFor(() => third.closed.code !== undefined, 'the third socket to be refused');
      expect(third.closed.code).toBe(4429);
      // another user is not held back by the first one's use
      expect((await subscribe(socket(capped.url, userToken).client, sub)).errors).toBeUndefined();
    } finally {
      await capped.close();
    }
  });

  it('applies the same limits over graphql-ws', async () => {
    const { client } = socket(url, cp.adminToken);
    const deep = await subscribe(client, nested(60));
    expect(JSON.stringify(deep.errors)).toContain('QUERY_TOO_COMPLEX');
  });

  it('takes model files at the authenticated upload endpoint, never from anonymous callers', async () => {
    const model = readFileSync(join(process.cwd(), 'runtime/demo/wine-classifier/1/model.onnx'));
    const signature = encodeURIComponent(readFileSync(join(process.cwd(), 'runtime/demo/wine-classifier/1/signature.json'), 'utf8'));
    const target = `${url}/models/upload?name=uploaded&version=1&signature=${signature}`;
    const anonymous = await fetch(target, { method: 'POST', body: model });
    expect(anonymous.status).toBe(401);
    const res = await fetch(target, { method: 'POST', body: model, headers: { authorization: `Bearer ${cp.adminToken}` } });
    expect([res.status, await res.clone().text()]).toEqual([201, expect.any(String)]);
    expect(((await res.json()) as { name: string; version: string })).toMatchObject({ name: 'uploaded', version: '1' });
    const listed = await gql(`{ registeredModels(first: 20) { name versions { version } } }`);
    expect(JSON.stringify(listed.json.data)).toContain('uploaded');
  });
});
