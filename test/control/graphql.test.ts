// The control plane's GraphQL API as users rely on it, on SQLite and on PostgreSQL:
// the service lifecycle rules, traffic, keys, who may do what, audit, secrets, and live
// subscriptions. Each provider gets its own fresh database.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalPubSub } from '../../platform/pubsub/memory.ts';
import { topics } from '../../platform/pubsub/port.ts';
import { SignJWT } from 'jose';
import { createSessionTokens, loadOrCreateJwtSecret } from '../../control/auth/index.ts';
import { providers } from '../fixtures/db.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

const GROUP_FIELDS = `id name type status description creator createdAt runningVersions totalVersions callAddress
  versions { id name status trafficPercent replicas qpsLimit authEnabled creator createdAt updatedAt }`;

const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

describe.each(providers)('GraphQL control plane on %s', (provider) => {
  let cp: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider });
  });
  afterAll(async () => {
    await cp?.close();
  });

  async function createGroup(name: string): Promise<string> {
    const r = await cp.gql<{ createServiceGroup: { id: string } }>(
      `mutation($input: CreateServiceGroupInput!) { createServiceGroup(input: $input) { id } }`,
      { input: { name, type: 'MODEL_SERVICE', description: 'test' } },
    );
    expect(r.errors).toBeUndefined();
    return r.data!.createServiceGroup.id;
  }

  async function addVersion(groupId: string, name: string, extra: Record<string, unknown> = {}) {
    return cp.gql<{ addServiceVersion: { id: string; name: string; status: string } }>(
      `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id name status } }`,
      { g: groupId, input: { name, model: { name: 'wine-classifier', version: '1' }, ...extra } },
    );
  }

  async function groupCount(): Promise<number> {
    return cp.db.prisma.serviceGroup.count();
  }

  it('creates a group with versions, derives running/total, and refuses a third version', async () => {
    const id = await createGroup('lifecycle');
    expect((await addVersion(id, 'v1')).data?.addServiceVersion.status).toBe('DRAFT');
    expect((await addVersion(id, 'v2', { model: { name: 'wine-classifier', version: '2' }, replicas: 2 })).errors).toBeUndefined();
    const third = await addVersion(id, 'v3');
    expect(codeOf(third)).toBe('CONFLICT');
    expect(await cp.db.prisma.serviceVersion.count({ where: { groupId: id } })).toBe(2);

    const r = await cp.gql<{ serviceGroup: { runningVersions: number; totalVersions: number; status: string; creator: string; callAddress: string } }>(
      `query($id: ID) { serviceGroup(id: $id) { ${GROUP_FIELDS} } }`, { id },
    );
    expect(r.data?.serviceGroup).toMatchObject({ runningVersions: 0, totalVersions: 2, status: 'DRAFT', creator: 'admin' });
    expect(r.data?.serviceGroup.callAddress).toBe('http://127.0.0.1:8080/services/lifecycle/predict');
  });

  it('refuses bad names with BAD_USER_INPUT and writes nothing', async () => {
    const before = await groupCount();
    for (const name of ['Capital', 'with/slash', 'x'.repeat(10_000), '-dash', 'dash-', '', 'under_score']) {
      const r = await cp.gql(`mutation($n: String!) { createServiceGroup(input: { name: $n }) { id } }`, { n: name });
      expect(codeOf(r), name.slice(0, 20)).toBe('BAD_USER_INPUT');
    }
    expect(await groupCount()).toBe(before);
    await createGroup('unique-name');
    expect(codeOf(await cp.gql(`mutation { createServiceGroup(input: { name: "unique-name" }) { id } }`))).toBe('CONFLICT');
  });

  it('refuses wrong types and unknown enum values', async () => {
    const r1 = await cp.gql(`mutation($input: CreateServiceGroupInput!) { createServiceGroup(input: $input) { id } }`, { input: { name: 42 } });
    expect(codeOf(r1)).toBe('BAD_USER_INPUT');
    const r2 = await cp.gql(`mutation($input: CreateServiceGroupInput!) { createServiceGroup(input: $input) { id } }`, { input: { name: 'ok-name', type: 'WHATEVER' } });
    expect(codeOf(r2)).toBe('BAD_USER_INPUT');
    const r3 = await cp.gql(`mutation { createServiceGroup(input: { name: 5 }) { id } }`);
    expect(codeOf(r3)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('starts versions, keeps traffic summing to 100, and moves traffic only as told', async () => {
    const id = await createGroup('traffic');
    const v1 = (await addVersion(id, 'v1')).data!.addServiceVersion.id;
    const v2 = (await addVersion(id, 'v2')).data!.addServiceVersion.id;

    const started = await cp.gql<{ startServiceVersion: { status: string } }>(`mutation($id: ID!) { startServiceVersion(id: $id) { status } }`, { id: v1 });
    expect(started.data?.startServiceVersion.status).toBe('STARTING');
    await cp.settle();
    await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { status } }`, { id: v2 });
    await cp.settle();

    const read = async () =>
      (await cp.gql<{ serviceGroup: { status: string; runningVersions: number; versions: { id: string; status: string; trafficPercent: number }[] } }>(
        `query($id: ID) { serviceGroup(id: $id) { ${GROUP_FIELDS} } }`, { id },
      )).data!.serviceGroup;
    let group = await read();
    expect(group.status).toBe('RUNNING');
    expect(group.runningVersions).toBe(2);
    // the first keeps 100 until traffic is set
    expect(group.versions.map((v) => [v.status, v.trafficPercent])).toEqual([['RUNNING', 100], ['RUNNING', 0]]);

    const set = (a: number, b: number) =>
      cp.gql(`mutation($g: ID!, $a: [TrafficAllocationInput!]!) { setTrafficAllocation(groupId: $g, allocations: $a) { id } }`, {
        g: id, a: [{ versionId: v1, percent: a }, { versionId: v2, percent: b }],
      });
    expect(codeOf(await set(80, 19))).toBe('BAD_USER_INPUT');
    expect(codeOf(await set(80, 21))).toBe('BAD_USER_INPUT');
    expect(codeOf(await set(-1, 101))).toBe('BAD_USER_INPUT');
    group = await read();
    expect(group.versions.map((v) => v.trafficPercent)).toEqual([100, 0]);

    expect((await set(80, 20)).errors).toBeUndefined();
    group = await read();
    expect(group.versions.map((v) => v.trafficPercent)).toEqual([80, 20]);

    // a running group cannot be deleted
    expect(codeOf(await cp.gql(`mutation($id: ID!) { deleteServiceGroup(id: $id) }`, { id }))).toBe('CONFLICT');
    expect(await cp.db.prisma.serviceGroup.count({ where: { id } })).toBe(1);

    // stopping v1 gives its share to v2
    await cp.gql(`mutation($id: ID!) { stopServiceVersion(id: $id) { status } }`, { id: v1 });
    await cp.settle();
    group = await read();
    expect(group.versions.map((v) => [v.status, v.trafficPercent])).toEqual([['STOPPED', 0], ['RUNNING', 100]]);

    // traffic may only go to running versions
    expect(codeOf(await set(50, 50))).toBe('BAD_USER_INPUT');

    const stopped = await cp.gql<{ stopServiceGroup: { status: string } }>(`mutation($id: ID!) { stopServiceGroup(id: $id) { status } }`, { id });
    expect(['STOPPING', 'STOPPED']).toContain(stopped.data?.stopServiceGroup.status);
    await cp.settle();
    expect((await read()).status).toBe('STOPPED');
    expect((await cp.gql(`mutation($id: ID!) { deleteServiceGroup(id: $id) }`, { id })).data).toEqual({ deleteServiceGroup: true });
    expect(await cp.db.prisma.serviceVersion.count({ where: { groupId: id } })).toBe(0);
  });

  it('marks a version FAILED when the orchestrator refuses it, with the reason', async () => {
    const id = await createGroup('failing');
    const v = (await addVersion(id, 'v1')).data!.addServiceVersion.id;
    cp.orchestrator.failNextDeploy = 'no capacity for 4C8G';
    const r = await cp.gql<{ startServiceVersion: { status: string; statusReason: string } }>(
      `mutation($id: ID!) { startServiceVersion(id: $id) { status statusReason } }`, { id: v },
    );
    expect(r.data?.startServiceVersion).toEqual({ status: 'FAILED', statusReason: 'no capacity for 4C8G' });
  });

  it('validates version inputs: exactly one source, unknown models, limits', async () => {
    const id = await createGroup('inputs');
    expect(codeOf(await cp.gql(`mutation($g: ID!) { addServiceVersion(groupId: $g, input: { name: "v1" }) { id } }`, { g: id }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addVersion(id, 'v1', { image: { image: 'x' } }))).toBe('BAD_USER_INPUT');
    // a custom image with no startup command: this orchestrator cannot run an image's own entrypoint
    const noCommand = await cp.gql(`mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`, { g: id, input: { name: 'v1', image: { image: 'registry.local/app:1' } } });
    expect(noCommand.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'image.command', reason: 'IMAGE_COMMAND_REQUIRED' });
    expect(codeOf(await addVersion(id, 'v1', { model: { name: 'nope', version: '9' } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addVersion(id, 'v1', { replicas: -1 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addVersion(id, 'v1', { qpsLimit: 0 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addVersion(id, 'v1', { resources: { gpuCount: 1 } }))).toBe('BAD_USER_INPUT');
    expect(await cp.db.prisma.serviceVersion.count({ where: { groupId: id } })).toBe(0);
  });

  it('stores registry passwords encrypted and never returns them', async () => {
    const id = await createGroup('custom-image');
    const r = await cp.gql<{ addServiceVersion: { id: string; image: { image: string; registryUsername: string; hasRegistryPassword: boolean; command: string[]; port: number } } }>(
      `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id image { image command port registryUsername hasRegistryPassword } } }`,
      { g: id, input: { name: 'img', image: { image: 'registry.example/me/model:1', command: ['python', 'serve.py'], port: 9000, registryUsername: 'me', registryPassword: 'hunter2-secret' } } },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data?.addServiceVersion.image).toEqual({ image: 'registry.example/me/model:1', command: ['python', 'serve.py'], port: 9000, registryUsername: 'me', hasRegistryPassword: true });
    const row = await cp.db.prisma.serviceVersion.findUniqueOrThrow({ where: { id: r.data!.addServiceVersion.id } });
    // sealed as v1:iv:tag:ciphertext (control/auth/secrets.ts)
    expect(row.registryPasswordEnc).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(row.registryPasswordEnc).not.toContain('hunter2');
    const audits = await cp.db.prisma.auditLog.findMany({ where: { resourceId: row.id } });
    expect(JSON.stringify(audits)).not.toContain('hunter2');
    // the orchestrator gets the password, decrypted, when the version starts
    await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: row.id });
    const deployment = cp.orchestrator.deployments.find((d) => d.versionId === row.id);
    expect(deployment?.source).toMatchObject({ kind: 'image', registryAuth: { username: 'me', password: 'hunter2-secret' } });

    // change detection compares deployment hashes: a policy change does not redeploy, new
    // registry credentials with the same image do (a hand-kept field list used to miss them)
    const deploysOf = () => cp.orchestrator.deployments.filter((d) => d.versionId === row.id);
    const deployed = deploysOf().length;
    expect((await cp.gql(`mutation($id: ID!) { updateServiceVersion(id: $id, input: { qpsLimit: 5, authEnabled: true }) { id } }`, { id: row.id })).errors).toBeUndefined();
    expect(deploysOf()).toHaveLength(deployed);
    const rotated = await cp.gql(
      `mutation($id: ID!, $input: UpdateServiceVersionInput!) { updateServiceVersion(id: $id, input: $input) { id } }`,
      { id: row.id, input: { image: { image: 'registry.example/me/model:1', command: ['python', 'serve.py'], port: 9000, registryUsername: 'me', registryPassword: 'rotated-secret' } } },
    );
    expect(rotated.errors).toBeUndefined();
    expect(deploysOf()).toHaveLength(deployed + 1);
    expect(deploysOf().at(-1)?.source).toMatchObject({ kind: 'image', registryAuth: { username: 'me', password: 'rotated-secret' } });
  });

  it('switches a version from a custom image to a registry model, leaving nothing of the image behind', async () => {
    const id = await createGroup('switcher');
    const added = await addVersion(id, 'v1', { model: null, image: { image: 'me/model:1', command: ['serve'], env: [{ name: 'A', value: '1' }], registryUsername: 'u', registryPassword: 'secret-pass' } });
    const versionId = added.data!.addServiceVersion.id;
    const r = await cp.gql<{ updateServiceVersion: { modelSource: string; model: { name: string; version: string } | null; image: unknown } }>(
      `mutation($id: ID!) { updateServiceVersion(id: $id, input: { model: { name: "wine-classifier", version: "2" } }) { modelSource model { name version } image { image } } }`,
      { id: versionId },
    );
    expect(r.data?.updateServiceVersion).toEqual({ modelSource: 'REGISTRY', model: { name: 'wine-classifier', version: '2' }, image: null });
    const row = await cp.db.prisma.serviceVersion.findUniqueOrThrow({ where: { id: versionId } });
    expect([row.image, row.command, row.env, row.registryUsername, row.registryPasswordEnc]).toEqual([null, null, null, null, null]);
  });

  it('issues API keys once, lists them with last use, and revokes them', async () => {
    const id = await createGroup('keys');
    const created = await cp.gql<{ createApiKey: { key: string; apiKey: { id: string; prefix: string } } }>(
      `mutation($g: ID!) { createApiKey(groupId: $g) { key apiKey { id prefix } } }`, { g: id },
    );
    const { key, apiKey } = created.data!.createApiKey;
    expect(key).toMatch(/^sk_sluice_/);
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    const stored = await cp.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(stored.hash).not.toContain(key);
    const list = await cp.gql<{ apiKeys: { id: string; lastUsedAt: string | null; revoked: boolean }[] }>(`query($g: ID!) { apiKeys(groupId: $g) { id lastUsedAt revoked } }`, { g: id });
    expect(list.data?.apiKeys).toEqual([{ id: apiKey.id, lastUsedAt: null, revoked: false }]);
    expect(JSON.stringify(await cp.gql(`query($g: ID!) { serviceGroup(id: $g) { apiKeys { id prefix } } }`, { g: id }))).not.toContain(key);
    await cp.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }`, { id: apiKey.id });
    const after = await cp.gql<{ apiKeys: unknown[] }>(`query($g: ID!) { apiKeys(groupId: $g) { id } }`, { g: id });
    expect(after.data?.apiKeys).toEqual([]);
  });

  it('knows who may do what: no token, forged and expired JWTs, viewers, developers', async () => {
    const noToken = await cp.gql(`mutation { createServiceGroup(input: { name: "anon" }) { id } }`, {}, null);
    expect(codeOf(noToken)).toBe('UNAUTHENTICATED');
    const listAnon = await cp.gql(`query { serviceGroups { id } }`, {}, null);
    expect(codeOf(listAnon)).toBe('UNAUTHENTICATED');

    const forged = await new SignJWT({ role: 'ADMIN', username: 'admin' })
      .setProtectedHeader({ alg: 'HS256' }).setIssuer('sluice').setAudience('sluice-session').setSubject('x')
      .setExpirationTime('1h').sign(new TextEncoder().encode('not-the-server-secret-not-the-server-secret'));
    expect(codeOf(await cp.gql(`query { serviceGroups { id } }`, {}, forged))).toBe('UNAUTHENTICATED');

    const users = await cp.gql<{ createUser: { id: string } }>(`mutation { createUser(username: "vera", password: "viewer-pass-1", role: VIEWER) { id } }`);
    const dev = await cp.gql<{ createUser: { id: string } }>(`mutation { createUser(username: "dan", password: "developer-pass-1", role: DEVELOPER) { id } }`);
    const project = await cp.gql<{ createProject: { id: string } }>(`mutation { createProject(name: "team-a") { id } }`);
    const projectId = project.data!.createProject.id;
    await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: VIEWER) { id } }`, { p: projectId, u: users.data!.createUser.id });
    await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: DEVELOPER) { id } }`, { p: projectId, u: dev.data!.createUser.id });

    const login = async (username: string, password: string) =>
      (await cp.gql<{ login: { token: string } }>(`mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`, { u: username, p: password }, null));
    expect(codeOf(await login('vera', 'wrong-password'))).toBe('UNAUTHENTICATED');
    expect(codeOf(await login('nobody', 'whatever-pass'))).toBe('UNAUTHENTICATED');
    const viewerToken = (await login('vera', 'viewer-pass-1')).data!.login.token;
    const devToken = (await login('dan', 'developer-pass-1')).data!.login.token;

    const before = await groupCount();
    const viewerCreate = await cp.gql(`mutation($p: ID!) { createServiceGroup(input: { name: "by-viewer", projectId: $p }) { id } }`, { p: projectId }, viewerToken);
    expect(codeOf(viewerCreate)).toBe('FORBIDDEN');
    expect(await groupCount()).toBe(before);
    // developers manage their own project's services, not other projects'
    const devCreate = await cp.gql<{ createServiceGroup: { id: string; creator: string } }>(
      `mutation($p: ID!) { createServiceGroup(input: { name: "by-dev", projectId: $p }) { id creator } }`, { p: projectId }, devToken,
    );
    expect(devCreate.data?.createServiceGroup.creator).toBe('dan');
    expect(codeOf(await cp.gql(`mutation { createServiceGroup(input: { name: "dev-in-default" }) { id } }`, {}, devToken))).toBe('FORBIDDEN');
    // viewers read their projects only
    const seen = await cp.gql<{ serviceGroups: { name: string }[] }>(`query { serviceGroups { name } }`, {}, viewerToken);
    expect(seen.data?.serviceGroups.map((g) => g.name)).toEqual(['by-dev']);
    expect(codeOf(await cp.gql(`query { auditLogs { edges { node { id } } } }`, {}, viewerToken))).toBe('FORBIDDEN');
    expect(codeOf(await cp.gql(`mutation { createResourceGroup(name: "rg-x") { id } }`, {}, devToken))).toBe('FORBIDDEN');

    const secret = await loadOrCreateJwtSecret(cp.dataDir);
    const past = createSessionTokens({ secret, now: () => Date.now() - 3 * 24 * 3600 * 1000 });
    const expired = await past.issueSessionToken({ userId: dev.data!.createUser.id, username: 'dan', role: 'DEVELOPER' }, 3600);
    expect(codeOf(await cp.gql(`query { serviceGroups { id } }`, {}, expired))).toBe('UNAUTHENTICATED');
  });

  it('writes an audit row for every mutation, with before and after', async () => {
    const id = await createGroup('audited');
    await cp.gql(`mutation($id: ID!) { updateServiceGroup(id: $id, input: { description: "changed" }) { id } }`, { id });
    const r = await cp.gql<{ auditLogs: { edges: { node: { action: string; actorName: string; before: { description?: string } | null; after: { description?: string } | null } }[] } }>(
      `query($id: ID!) { auditLogs(filter: { resourceId: $id }) { edges { node { action actorName before after } } } }`, { id },
    );
    const actions = r.data!.auditLogs.edges.map((e) => e.node);
    expect(actions.map((a) => a.action).sort()).toEqual(['createServiceGroup', 'updateServiceGroup']);
    const update = actions.find((a) => a.action === 'updateServiceGroup')!;
    expect(update.actorName).toBe('admin');
    expect(update.before?.description).toBe('test');
    expect(update.after?.description).toBe('changed');
  });

  it('binds a dedicated resource group to one service only', async () => {
    const project = await cp.db.prisma.project.findUniqueOrThrow({ where: { name: 'default' } });
    const rg = await cp.gql<{ createResourceGroup: { id: string } }>(
      `mutation($p: [ID!]) { createResourceGroup(name: "gpu-pool", tags: [{ key: "team", value: "ml" }], projectIds: $p) { id } }`, { p: [project.id] },
    );
    const rgId = rg.data!.createResourceGroup.id;
    const withNode = await cp.gql<{ addResourceNode: { nodes: { name: string }[]; capacity: { total: { cpu: number; gpus: number } } } }>(
      `mutation($id: ID!) { addResourceNode(resourceGroupId: $id, node: { name: "node-1", cpu: 16, memoryGiB: 64, gpuType: "A100", gpuCount: 2 }) { nodes { name } capacity { total { cpu gpus } } } }`, { id: rgId },
    );
    expect(withNode.data?.addResourceNode.capacity.total).toEqual({ cpu: 16, gpus: 2 });
    const a = await createGroup('dedicated-a');
    const b = await createGroup('dedicated-b');
    expect((await addVersion(a, 'v1', { resourceGroupId: rgId, resources: { cpu: 4, memoryGiB: 8, gpuType: 'A100', gpuCount: 1 } })).errors).toBeUndefined();
    expect(codeOf(await addVersion(b, 'v1', { resourceGroupId: rgId }))).toBe('CONFLICT');
    const bound = await cp.gql<{ resourceGroup: { boundGroup: { name: string } } }>(`query($id: ID!) { resourceGroup(id: $id) { boundGroup { name } } }`, { id: rgId });
    expect(bound.data?.resourceGroup.boundGroup.name).toBe('dedicated-a');
  });

  it('pushes every change of a group to subscribers', async () => {
    const id = await createGroup('watched');
    const client = cp.ws();
    const received: { status: string; totalVersions: number }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe<{ serviceGroupChanged: { status: string; totalVersions: number } }>(
        { query: `subscription($id: ID!) { serviceGroupChanged(id: $id) { status totalVersions } }`, variables: { id } },
        {
          next: (msg) => {
            if (msg.data) received.push(msg.data.serviceGroupChanged);
            if (received.some((r) => r.status === 'RUNNING')) resolve();
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    // the subscription is live once the server listens on the group's topic
    await vi.waitFor(() => expect((cp.pubsub as LocalPubSub).subscriberCount(topics.group(id))).toBe(1), { timeout: 10_000 });
    const v = (await addVersion(id, 'v1')).data!.addServiceVersion.id;
    await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: v });
    await done;
    expect(received[0]).toEqual({ status: 'DRAFT', totalVersions: 1 });
    expect(received.at(-1)?.status).toBe('RUNNING');
  });

  it('reads a changed group once per change, not once per subscriber', async () => {
    const id = await createGroup('popular');
    const client = cp.ws();
    const subscribers = 30;
    let received = 0;
    let allReceived: () => void = () => undefined;
    const done = new Promise<void>((resolve) => { allReceived = resolve; });
    const unsubscribe = [...Array(subscribers)].map(() =>
      client.subscribe(
        { query: `subscription($id: ID!) { serviceGroupChanged(id: $id) { description totalVersions } }`, variables: { id } },
        { next: () => { if (++received === subscribers) allReceived(); }, error: () => undefined, complete: () => undefined },
      ));
    await vi.waitFor(() => expect((cp.pubsub as LocalPubSub).subscriberCount(topics.group(id))).toBe(subscribers), { timeout: 10_000 });
    const before = cp.db.queryCount();
    await cp.gql(`mutation($id: ID!) { updateServiceGroup(id: $id, input: { description: "fan-out" }) { id } }`, { id });
    await done;
    const statements = cp.db.queryCount() - before;
    for (const u of unsubscribe) u();
    // the mutation itself (auth, transaction, audit) plus one read shared by all subscribers
    expect(statements).toBeLessThan(subscribers);
  });

  it('refuses subscriptions without a valid token', async () => {
    const client = cp.ws('not-a-token');
    const outcome = await new Promise<string>((resolve) => {
      client.subscribe({ query: `subscription { serviceGroupsChanged { groupId } }` }, {
        next: () => resolve('next'),
        error: () => resolve('error'),
        complete: () => resolve('complete'),
      });
    });
    expect(outcome).toBe('error');
  });

  it('lists groups with their versions in a constant number of SQL statements (no N+1)', async () => {
    for (let i = 0; i < 12; i++) {
      const id = await createGroup(`many-${i}`);
      await addVersion(id, 'a');
      await addVersion(id, 'b');
    }
    const query = `query { serviceGroups(first: 20) { ${GROUP_FIELDS} project { name } } }`;
    const start = cp.db.queryCount();
    const r = await cp.gql<{ serviceGroups: unknown[] }>(query);
    const statements = cp.db.queryCount() - start;
    expect(r.errors).toBeUndefined();
    expect(r.data!.serviceGroups.length).toBeGreaterThan(12);
    // auth lookups + groups + versions + counts + project: independent of the number of groups
    expect(statements).toBeLessThanOrEqual(8);
    const paged = await cp.gql<{ serviceGroupsConnection: { edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(
      `query { serviceGroupsConnection(first: 5, filter: { nameContains: "many-" }) { edges { node { name } } pageInfo { hasNextPage endCursor } } }`,
    );
    expect(paged.data?.serviceGroupsConnection.edges).toHaveLength(5);
    expect(paged.data?.serviceGroupsConnection.pageInfo.hasNextPage).toBe(true);
  });
});
