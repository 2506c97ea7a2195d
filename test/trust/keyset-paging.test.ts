// Reading a long list page by page while others write to it: the plain list fields take the
// last row of the previous page (`after`, or `before` for a model's older versions) instead of
// a count of rows to skip, so a row created or deleted between two pages neither repeats on
// the next page nor pushes another one out of sight. A cursor naming no row of the list is a
// clear error, never an empty page that would end the reading early.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

interface Named { id: string; name: string }

describe('keyset paging of the plain lists', () => {
  let cp: TestControlPlane;

  const createGroup = async (name: string): Promise<string> => {
    const r = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation($n: String!) { createServiceGroup(input: { name: $n, type: MODEL_SERVICE }) { id } }`, { n: name });
    expect(r.errors).toBeUndefined();
    return r.data!.createServiceGroup.id;
  };

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('serviceGroups: a group deleted and one created between pages hide nothing and repeat nothing', async () => {
    for (const n of ['p-a', 'p-b', 'p-c', 'p-d', 'p-e']) await createGroup(n);
    const page = async (after: string | null) =>
      (await cp.gql<{ serviceGroups: Named[] }>(`query($a: ID) { serviceGroups(first: 2, after: $a, filter: { nameContains: "p-" }) { id name } }`, { a: after })).data!.serviceGroups;
    const first = await page(null);
    expect(first.map((g) => g.name)).toEqual(['p-a', 'p-b']);
    // meanwhile: the first group goes away (with `skip: 2` the next page would start at p-d, hiding p-c), and a new one comes
    expect((await cp.gql(`mutation($id: ID!) { deleteServiceGroup(id: $id) }`, { id: first[0]!.id })).errors).toBeUndefined();
    await createGroup('p-f');
    const seen = [...first];
    for (let after = first.at(-1)!.id; ;) {
      const next = await page(after);
      seen.push(...next);
      if (next.length < 2) break;
      after = next.at(-1)!.id;
    }
    expect(seen.map((g) => g.name)).toEqual(['p-a', 'p-b', 'p-c', 'p-d', 'p-e', 'p-f']);
  });

  it('serviceGroups: a cursor that names no group the caller can read is BAD_USER_INPUT (CURSOR_NOT_FOUND)', async () => {
    const r = await cp.gql(`{ serviceGroups(after: "no-such-group") { id } }`);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CURSOR_NOT_FOUND' });
  });

  it('apiKeys: newest first, a key created between pages does not repeat one already read', async () => {
    const groupId = await createGroup('keys-paging');
    for (let i = 0; i < 5; i++) expect((await cp.gql(`mutation($g: ID!) { createApiKey(groupId: $g) { key } }`, { g: groupId })).errors).toBeUndefined();
    const page = async (after: string | null) =>
      (await cp.gql<{ apiKeys: { id: string }[] }>(`query($g: ID!, $a: ID) { apiKeys(groupId: $g, first: 2, after: $a) { id } }`, { g: groupId, a: after })).data!.apiKeys;
    const all = (await cp.gql<{ apiKeys: { id: string }[] }>(`query($g: ID!) { apiKeys(groupId: $g) { id } }`, { g: groupId })).data!.apiKeys.map((k) => k.id);
    const first = await page(null);
    // a new key is the newest: with `skip: 2` the next page would start one key early and repeat first[1]
    expect((await cp.gql(`mutation($g: ID!) { createApiKey(groupId: $g) { key } }`, { g: groupId })).errors).toBeUndefined();
    const seen = first.map((k) => k.id);
    for (let after = first.at(-1)!.id; ;) {
      const next = await page(after);
      seen.push(...next.map((k) => k.id));
      if (next.length < 2) break;
      after = next.at(-1)!.id;
    }
    expect(seen).toEqual(all);
  });

  it('registeredModels after a name, and a model\'s older versions before the oldest one read', async () => {
    const prisma = cp.db.prisma;
    for (const name of ['m-1', 'm-2', 'm-3']) {
      const model = await prisma.registeredModel.create({ data: { name } });
      for (let v = 1; v <= 5; v++) {
        await prisma.modelVersion.create({ data: { modelId: model.id, version: String(v), artifactUri: `models/${name}/${v}/model.onnx`, signature: {}, createdAt: new Date(Date.UTC(2026, 0, v)) } });
      }
    }
    const models = async (after: string | null) =>
      (await cp.gql<{ registeredModels: { name: string }[] }>(`query($a: String) { registeredModels(first: 2, after: $a) { name } }`, { a: after })).data!.registeredModels.map((m) => m.name);
    const first = await models(null);
    await prisma.registeredModel.create({ data: { name: 'm-0' } }); // sorts before the cursor: `skip: 2` would repeat m-2
    expect([...first, ...(await models(first.at(-1)!))].filter((n) => n.startsWith('m-'))).toEqual(['m-1', 'm-2', 'm-3']);

    const versions = async (before: string | null) =>
      (await cp.gql<{ registeredModels: { versions: { id: string; version: string }[] }[] }>(`query($b: ID) { registeredModels(first: 1, after: "m-1") { versions(first: 2, before: $b) { id version } } }`, { b: before })).data!.registeredModels[0]!.versions;
    const newest = await versions(null);
    expect(newest.map((v) => v.version)).toEqual(['4', '5']);
    const older = await versions(newest[0]!.id);
    expect(older.map((v) => v.version)).toEqual(['2', '3']);
    expect((await versions(older[0]!.id)).map((v) => v.version)).toEqual(['1']);
  });

  it("a project's members page by user id (after the last one read)", async () => {
    const project = (await cp.gql<{ createProject: { id: string } }>(`mutation { createProject(name: "paged") { id } }`)).data!.createProject.id;
    const userIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const u = await cp.gql<{ createUser: { id: string } }>(`mutation($n: String!) { createUser(username: $n, password: "correct-horse-9", role: VIEWER) { id } }`, { n: `member-${i}` });
      userIds.push(u.data!.createUser.id);
      expect((await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: VIEWER) { id } }`, { p: project, u: u.data!.createUser.id })).errors).toBeUndefined();
    }
    const members = async (after: string | null) =>
      (await cp.gql<{ projects: { edges: { node: { id: string; members: { user: { id: string } }[] } }[] } }>(`query($a: ID) { projects { edges { node { id members(first: 2, after: $a) { user { id } } } } } }`, { a: after }))
        .data!.projects.edges.find((e) => e.node.id === project)!.node.members.map((m) => m.user.id);
    const seen: string[] = [];
    for (let after: string | null = null; ;) {
      const page = await members(after);
      seen.push(...page);
      if (page.length < 2) break;
      after = page.at(-1)!;
    }
    expect(seen).toEqual([...userIds].sort());
  });
});
