// The attack: an admin opens a terminal, is then demoted (or disabled), and keeps typing on
// the open socket. The credential is checked again before every message reaches the shell,
// so the next keystroke closes the terminal with 4403 and runs nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

interface Message { type: string; data?: string; code?: string }

async function connect(baseUrl: string) {
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/terminal`);
  const messages: Message[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Message));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const output = () => messages.map((m) => (m.type === 'output' ? m.data : '')).join('');
  return { ws, messages, closed, output, send: (m: unknown) => ws.send(JSON.stringify(m)) };
}

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('the terminal checks who is typing on every message', () => {
  let cp: TestControlPlane;
  let instanceId: string;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    const group = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "term-id", type: MODEL_SERVICE }) { id } }`);
    const version = await cp.gql<{ addServiceVersion: { id: string } }>(
      `mutation($g: ID!) { addServiceVersion(groupId: $g, input: { name: "v1", model: { name: "wine-classifier", version: "1" } }) { id } }`,
      { g: group.data!.createServiceGroup.id },
    );
    await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: version.data!.addServiceVersion.id });
    await cp.settle();
    const read = await cp.gql<{ serviceGroup: { versions: { instances: { id: string }[] }[] } }>(`{ serviceGroup(name: "term-id") { versions { instances { id } } } }`);
    instanceId = read.data!.serviceGroup.versions[0]!.instances[0]!.id;
  });

  afterAll(async () => {
    await cp?.close();
  });

  for (const change of ['role: VIEWER', 'disabled: true']) {
    it(`cuts the session off at the next message after "${change}"`, async () => {
      const username = change.startsWith('role') ? 'ops-demoted' : 'ops-disabled';
      const created = await cp.gql<{ createUser: { id: string } }>(`mutation { createUser(username: "${username}", password: "ops-password-1", role: ADMIN) { id } }`);
      const userId = created.data!.createUser.id;
      const login = await cp.gql<{ login: { token: string } }>(`mutation { login(username: "${username}", password: "ops-password-1") { token } }`, {}, null);
      const t = await connect(cp.url);
      t.send({ type: 'open', token: login.data!.login.token, instanceId });
      t.send({ type: 'input', data: 'echo before-$((2+2))\n' });
      await until(() => t.output().includes('before-4'), 'the shell to answer');

      expect((await cp.gql(`mutation { updateUser(id: "${userId}", ${change}) { id } }`)).errors).toBeUndefined();
      t.send({ type: 'input', data: 'echo after-$((3+3))\n' });
      expect(await t.closed).toBe(4403);
      expect(t.output()).not.toContain('after-6');
      expect(t.messages.at(-1)).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    });
  }
});
