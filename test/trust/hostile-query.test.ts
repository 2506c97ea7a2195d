// The worst query the limits allow must cost what it says. Costed at 10 per list, a list of
// every service group (51 in the benchmark) let a "within budget" query do ~50× the work of
// its estimate, and graphql-ws skipped the expensive-operation line that HTTP waits in. Each
// way to every group — the list, the connection, a project's groups, fragments of them, a
// variable asking for a huge page — is costed at what it really returns (list-bounds.ts),
// and an expensive operation waits for its turn on either transport.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { startControlServer, type ControlServer } from '../../control/http/server.ts';
import { ExpensiveGate } from '../../control/graphql/expensive-gate.ts';
import { ENV_ENTRIES_MAX, GROUP_PAGE_MAX, TAGS_MAX } from '../../control/graphql/list-bounds.ts';

interface GqlError { message: string; extensions?: Record<string, unknown> }
interface Result { data?: Record<string, unknown> | null; errors?: GqlError[] }

/** A group with every scalar and its versions' scalars: cheap for a page of 10, not for all 200. */
const WIDE_GROUP = 'id name type status description creator createdAt runningVersions totalVersions callAddress versions { id name status statusReason trafficPercent replicas qpsLimit authEnabled createdAt }';

const codes = (r: Result) => (r.errors ?? []).map((e) => [e.extensions?.code, e.extensions?.limit]);

describe('the worst allowed query costs what it does', () => {
  let cp: TestControlPlane;
  let server: ControlServer;
  let adminId: string;
  let alphaId: string;
  const clients: Client[] = [];

  const http = async (query: string, variables: Record<string, unknown> = {}, base = server.url): Promise<Result> => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.adminToken}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Result;
  };
  const socket = (base: string) => {
    const client = createClient({
      url: `${base.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${cp.adminToken}` },
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };
  /** One operation over graphql-ws: its result, or the errors it was refused with. */
  const overSocket = (client: Client, query: string, variables: Record<string, unknown> = {}) =>
    new Promise<Result>((resolve) => {
      let result: Result = {};
      client.subscribe({ query, variables }, {
        next: (r) => { result = r as Result; },
        error: (e) => resolve({ errors: Array.isArray(e) ? (e as GqlError[]) : [{ message: String(e) }] }),
        complete: () => resolve(result),
      });
    });
  const both = async (query: string, variables: Record<string, unknown> = {}) => [await http(query, variables), await overSocket(socket(server.url), query, variables)];

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    server = await startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined, terminal: false });
    for (const name of ['alpha', 'beta', 'gamma']) {
      const created = await http(`mutation($n: String!) { createServiceGroup(input: { name: $n, type: MODEL_SERVICE }) { id } }`, { n: name });
      expect(created.errors).toBeUndefined();
    }
    adminId = ((await http(`{ me { id } }`)).data!.me as { id: string }).id;
    alphaId = ((await http(`{ serviceGroup(name: "alpha") { id } }`)).data!.serviceGroup as { id: string }).id;
  });

  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await server?.close();
    await cp?.close();
  });

  it('refuses nesting under the list of every group by its real size, over HTTP and graphql-ws', async () => {
    // costed at 10 groups (and 10 versions each) this was 1 010, well within the budget; the
    // list returns up to 200 groups of at most 2 versions: 5 801
    for (const r of await both(`{ serviceGroups { ${WIDE_GROUP} } }`)) {
      expect(codes(r)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
      expect(r.data ?? null).toBeNull();
    }
  });

  it('refuses the same through a fragment and an inline fragment', async () => {
    const viaFragment = `fragment G on ServiceGroup { ${WIDE_GROUP} } { serviceGroups { ...G } }`;
    const viaInline = `{ serviceGroups { ... on ServiceGroup { ${WIDE_GROUP} } } }`;
    for (const q of [viaFragment, viaInline]) for (const r of await both(q)) expect(codes(r)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
  });

  it('costs the connection of groups by the page it asks for, not 10 edges', async () => {
    const big = await http(`{ serviceGroupsConnection(first: 200) { edges { node { versions { group { versions { instances { name } } } } } } } }`);
    expect(codes(big)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
    const small = await http(`{ serviceGroupsConnection(first: 2) { edges { node { name versions { name } } } } }`);
    expect(small.errors).toBeUndefined();
    expect((small.data!.serviceGroupsConnection as { edges: unknown[] }).edges).toHaveLength(2);
  });

  it("refuses every group reached through projects (a project's groups are a list of groups too)", async () => {
    const r = await http(`{ projects(first: 1) { edges { node { serviceGroups { versions { name instances { name } } } } } } }`);
    expect(codes(r)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
  });

  it('pages the list of groups: `first` returns that many, a huge `first` in a variable is clamped to the cap, a negative one refused', async () => {
    const two = await http(`{ serviceGroups(first: 2) { name } }`);
    expect(two.errors).toBeUndefined();
    expect((two.data!.serviceGroups as { name: string }[]).map((g) => g.name)).toEqual(['alpha', 'beta']);
    const next = await http(`{ serviceGroups(first: 2, skip: 2) { name } }`); // the dashboard's next page
    expect((next.data!.serviceGroups as { name: string }[]).map((g) => g.name)).toEqual(['gamma']);
    const huge = await http(`query($n: Int) { serviceGroups(first: $n) { name } }`, { n: 1_000_000_000 });
    expect(huge.errors).toBeUndefined();
    const names = (huge.data!.serviceGroups as { name: string }[]).map((g) => g.name);
    expect(names.length).toBeLessThanOrEqual(GROUP_PAGE_MAX);
    expect(names).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma']));
    // a variable is costed at the list's cap, whatever it will say: nesting under it is refused
    const nested = await http(`query($n: Int) { serviceGroups(first: $n) { versions { group { versions { instances { name } } } } } }`, { n: 1_000_000_000 });
    expect(codes(nested)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
    const negative = await http(`{ serviceGroups(first: -1) { name } }`);
    expect(negative.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses two aliased root fields in one subscription (one live field per operation)', async () => {
    const r = await overSocket(socket(server.url), `subscription { a: serviceGroupsChanged { groupId } b: serviceGroupsChanged { groupId } }`);
    expect(r.errors?.length).toBeGreaterThan(0);
    expect(r.data ?? null).toBeNull();
  });

  it('makes expensive operations over graphql-ws wait in the same line as over HTTP', async () => {
    // cost 131 > 100: expensive for this gate; `me` is cheap and never waits
    const expensive = `{ serviceGroup(name: "alpha") { name versions { name status instances { name } } } }`;
    const refusing = new ExpensiveGate({ threshold: 100, global: 1, maxWaiting: 0 });
    const gated = await startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined, terminal: false, expensiveGate: refusing });
    try {
      const release = await refusing.enter(adminId); // the caller's expensive operation in progress
      const client = socket(gated.url);
      expect(codes(await overSocket(client, expensive))).toContainEqual(['TOO_MANY_REQUESTS', undefined]);
      expect(codes(await http(expensive, {}, gated.url))).toContainEqual(['TOO_MANY_REQUESTS', undefined]);
      expect((await overSocket(client, `{ me { id } }`)).errors).toBeUndefined();
      release();
      const after = await overSocket(client, expensive);
      expect(after.errors).toBeUndefined();
      expect(after.data!.serviceGroup).toMatchObject({ name: 'alpha' });
    } finally {
      await gated.close();
    }

    const waiting = new ExpensiveGate({ threshold: 100, global: 1, maxWaiting: 4 });
    const lined = await startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined, terminal: false, expensiveGate: waiting });
    try {
      const release = await waiting.enter(adminId);
      let answered = false;
      const pending = overSocket(socket(lined.url), expensive).then((r) => { answered = true; return r; });
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false); // waits for its turn
      release();
      const r = await pending;
      expect(r.errors).toBeUndefined();
      expect(r.data!.serviceGroup).toMatchObject({ name: 'alpha' });
    } finally {
      await lined.close();
    }
  });

  it('costs a page size given by a variable with its value: a small page is answered, a large one refused, on both transports', async () => {
    // validation alone could only assume the cap for $n, so even $n = 1 was refused
    const paged = `query($n: Int) { serviceGroups(first: $n) { name versions { name instances { name state node } } } }`;
    for (const r of await both(paged, { n: 1 })) {
      expect(r.errors).toBeUndefined();
      expect(r.data!.serviceGroups).toHaveLength(1);
    }
    for (const r of await both(paged, { n: 200 })) {
      expect(codes(r)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
      expect(r.data ?? null).toBeNull();
    }
    // a huge value is clamped to the cap, not taken at its word (nor as unbounded)
    expect(codes(await http(paged, { n: 1e12 }))).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
  });

  it("pages a group's keys and caps what is written to lists that are costed at a cap", async () => {
    for (let i = 0; i < 3; i++) expect((await http(`mutation($g: ID!) { createApiKey(groupId: $g) { key } }`, { g: alphaId })).errors).toBeUndefined();
    const nested = await http(`{ serviceGroup(name: "alpha") { apiKeys(first: 2) { id } } }`);
    expect((nested.data!.serviceGroup as { apiKeys: unknown[] }).apiKeys).toHaveLength(2);
    const top = await http(`query($g: ID!) { apiKeys(groupId: $g, first: 2, skip: 2) { id } }`, { g: alphaId });
    expect(top.errors).toBeUndefined();
    expect(top.data!.apiKeys).toHaveLength(1);

    const tags = Array.from({ length: TAGS_MAX + 1 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const rg = await http(`mutation($t: [TagInput!]) { createResourceGroup(name: "too-many-tags", tags: $t) { id } }`, { t: tags });
    expect(rg.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const env = Array.from({ length: ENV_ENTRIES_MAX + 1 }, (_, i) => ({ name: `E${i}`, value: 'v' }));
    const version = await http(`mutation($g: ID!, $env: [EnvVarInput!]) { addServiceVersion(groupId: $g, input: { name: "envs", image: { image: "busybox", command: ["true"], env: $env } }) { id } }`, { g: alphaId, env });
    expect(version.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('costs a subscription with its variables when it starts: over the budget refused, a small page accepted', async () => {
    const gated = await startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined, terminal: false });
    try {
      const client = socket(gated.url);
      const live = `subscription($id: ID!, $n: Int) { serviceGroupChanged(id: $id) { description a: apiKeys(first: $n) { id name prefix groupId versionId createdAt lastUsedAt revokedAt revoked } b: apiKeys(first: $n) { id name prefix createdAt } } }`;
      // each event would execute this at its cost: refused at once, not left to every event
      const big = await Promise.race([overSocket(client, live, { id: alphaId, n: 500 }), new Promise<Result>((r) => setTimeout(() => r({ errors: [{ message: 'no answer in 5 s' }] }), 5000))]);
      expect(codes(big)).toContainEqual(['QUERY_TOO_COMPLEX', 'cost']);
      // a small page: accepted (validation alone refused it, assuming the cap for $n)
      const failures: unknown[] = [];
      client.subscribe({ query: live, variables: { id: alphaId, n: 1 } }, { next: () => undefined, error: (e) => failures.push(e), complete: () => undefined });
      await new Promise((r) => setTimeout(r, 300));
      expect(failures).toEqual([]);
    } finally {
      await gated.close();
    }
  });

  it("runs each expensive event's execution of a subscription through the gate (a burst of events cannot fan out unbounded)", async () => {
    const gate = new ExpensiveGate({ threshold: 100, global: 1, maxWaiting: 0 });
    const gated = await startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined, terminal: false, expensiveGate: gate });
    try {
      const client = socket(gated.url);
      // cost ~100s per event (> the gate's 100): expensive
      const live = `subscription($id: ID!) { serviceGroupChanged(id: $id) { description versions(first: 1) { name instances { name state node } } } }`;
      const events: Result[] = [];
      const failures: unknown[] = [];
      client.subscribe({ query: live, variables: { id: alphaId } }, { next: (r) => events.push(r as Result), error: (e) => failures.push(e), complete: () => undefined });
      await new Promise((r) => setTimeout(r, 300));

      const release = await gate.enter(adminId); // the caller's expensive operation in progress
      expect((await http(`mutation($id: ID!) { updateServiceGroup(id: $id, input: { description: "held" }) { id } }`, { id: alphaId }, gated.url)).errors).toBeUndefined();
      await new Promise((r) => setTimeout(r, 500));
      expect(events).toHaveLength(0); // the event waits for the caller's turn
      release();
      await expect.poll(() => events.length, { timeout: 5000 }).toBeGreaterThan(0);
      expect(events[0]!.errors).toBeUndefined();
      expect(events[0]!.data!.serviceGroupChanged).toMatchObject({ description: 'held' });
      expect(failures).toEqual([]); // waited, never refused: the update is not lost
    } finally {
      await gated.close();
    }
  });
});
