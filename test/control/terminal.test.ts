// The instance terminal over WebSocket (/terminal), end to end against a real control plane
// and a real /bin/sh (the fake orchestrator opens the local orchestrator's shell): admins
// get a working shell, everyone else a clear close code; bad frames close one socket and
// never the server; closing either side ends the other, shell children included. Also the
// dashboard's line editor (web/src/lib/terminal.ts), which stands in for a tty's echo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { providers } from '../fixtures/db.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { startControlServer } from '../../control/http/server.ts';
import { LineEditor, describeClose } from '../../web/src/lib/terminal.ts';

type ServerMessage =
  | { type: 'opened'; instance: string; tty: boolean }
  | { type: 'output'; data: string }
  | { type: 'exit'; code: number | null }
  | { type: 'error'; code: string; message: string };

interface Terminal {
  ws: WebSocket;
  messages: ServerMessage[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  output(): string;
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
}

function connect(baseUrl: string): Promise<Terminal> {
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/terminal`);
  const messages: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as ServerMessage);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    });
  });
  const output = () => messages.map((m) => (m.type === 'output' ? m.data : '')).join('');
  const terminal: Terminal = {
    ws,
    messages,
    closed,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    output,
    waitForOutput: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = output().match(pattern);
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(match);
          } else if (ws.readyState === WebSocket.CLOSED) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`closed before ${pattern}; output: ${output()}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} in time; output: ${output()}`));
        }, 10_000);
        waiters.add(check);
        check();
      }),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(terminal));
    ws.once('error', reject);
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe.each(providers)('instance terminal over WebSocket on %s', (provider) => {
  let cp: TestControlPlane;
  let instanceId: string;
  let instanceName: string;
  let versionId: string;

  async function tokenFor(username: string, role: 'VIEWER' | 'DEVELOPER'): Promise<string> {
    const password = `${username}-password-1`;
    const created = await cp.gql(`mutation($u: String!, $p: String!, $r: Role!) { createUser(username: $u, password: $p, role: $r) { id } }`, { u: username, p: password, r: role });
    expect(created.errors).toBeUndefined();
    const login = await cp.gql<{ login: { token: string } }>(`mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`, { u: username, p: password }, null);
    return login.data!.login.token;
  }

  const open = (t: Terminal, token: string | undefined = cp.adminToken, id = instanceId) => t.send({ type: 'open', token, instanceId: id, cols: 80, rows: 24 });
  const openWithout = (t: Terminal, token: string | undefined) => t.send({ type: 'open', ...(token === undefined ? {} : { token }), instanceId });

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider });
    const group = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "shell-test", type: MODEL_SERVICE }) { id } }`);
    const groupId = group.data!.createServiceGroup.id;
    const version = await cp.gql<{ addServiceVersion: { id: string } }>(
      `mutation($g: ID!) { addServiceVersion(groupId: $g, input: { name: "v1", model: { name: "wine-classifier", version: "1" }, replicas: 2 }) { id } }`,
      { g: groupId },
    );
    versionId = version.data!.addServiceVersion.id;
    expect((await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: versionId })).errors).toBeUndefined();
    await cp.settle();
    const read = await cp.gql<{ serviceGroup: { versions: { instances: { id: string; name: string; state: string }[] }[] } }>(
      `query { serviceGroup(name: "shell-test") { versions { instances { id name state } } } }`,
    );
    const instances = read.data!.serviceGroup.versions[0]!.instances;
    expect(instances.map((i) => i.state)).toEqual(['RUNNING', 'RUNNING']);
    instanceId = instances[0]!.id;
    instanceName = instances[0]!.name;
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('gives an admin a working shell, audited, and takes input sent before it opened', async () => {
    const t = await connect(cp.url);
    open(t);
    t.send({ type: 'input', data: 'echo hello-$((1+2))\n' }); // before "opened": kept, then delivered
    await t.waitForOutput(/hello-3/);
    expect(t.messages[0]).toEqual({ type: 'opened', instance: instanceName, tty: false });
    t.send({ type: 'resize', cols: 120, rows: 40 });
    t.send({ type: 'input', data: 'pwd; echo "in-$(basename "$PWD")"\n' });
    await t.waitForOutput(/in-sluice-fake-term-/);
    expect(cp.orchestrator.terminals).toContain(`${versionId}/${instanceName}`);

    const rows = await cp.db.prisma.auditLog.findMany({ where: { action: 'openTerminal', resourceId: instanceId } });
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows[0]).toMatchObject({ actorName: 'admin', resourceKind: 'Instance' });
    expect(JSON.stringify(rows[0]!.after)).toContain(instanceName);
    t.ws.close();
    await t.closed;
  });

  it('ends the shell and what it started when the socket closes', async () => {
    const t = await connect(cp.url);
    open(t);
    t.send({ type: 'input', data: 'sleep 300 & echo "pids $$ $!"\n' });
    const [, shell, child] = (await t.waitForOutput(/pids (\d+) (\d+)/)).map(Number) as [number, number, number];
    expect(processExists(shell)).toBe(true);
    expect(processExists(child)).toBe(true);
    t.ws.close();
    await t.closed;
    await expect.poll(() => processExists(shell), { timeout: 5000 }).toBe(false);
    await expect.poll(() => processExists(child), { timeout: 5000 }).toBe(false);
  });

  it('closes the socket with the exit code when the shell exits', async () => {
    const t = await connect(cp.url);
    open(t);
    await t.waitForOutput(/\$ /); // the prompt
    t.send({ type: 'input', data: 'exit 3\n' });
    expect((await t.closed).code).toBe(1000);
    expect(t.messages.at(-1)).toEqual({ type: 'exit', code: 3 });
  });

  it('refuses viewers and developers with 4403, after an error message', async () => {
    for (const [name, role] of [['vic', 'VIEWER'], ['dora', 'DEVELOPER']] as const) {
      const t = await connect(cp.url);
      open(t, await tokenFor(`${name}-${provider}`, role));
      expect((await t.closed).code).toBe(4403);
      expect(t.messages).toEqual([{ type: 'error', code: 'FORBIDDEN', message: expect.stringMatching(/admin/) }]);
    }
  });

  it('refuses a missing or bad token with 4401', async () => {
    for (const token of [undefined, '', 'not-a-token', 'Bearer not-a-token']) {
      const t = await connect(cp.url);
      openWithout(t, token);
      expect((await t.closed).code, String(token)).toBe(4401);
      expect(t.messages[0]).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
    }
  });

  it('answers 4404 for an unknown instance and 4409 for one not running', async () => {
    const t = await connect(cp.url);
    open(t, cp.adminToken, 'no-such-instance');
    expect((await t.closed).code).toBe(4404);
    expect(t.messages[0]).toMatchObject({ type: 'error', code: 'NOT_FOUND' });

    const other = await cp.db.prisma.instance.findFirst({ where: { versionId, NOT: { id: instanceId } } });
    await cp.db.prisma.instance.update({ where: { id: other!.id }, data: { state: 'WAITING' } });
    try {
      const w = await connect(cp.url);
      open(w, cp.adminToken, other!.id);
      expect((await w.closed).code).toBe(4409);
      expect(w.messages[0]).toMatchObject({ type: 'error', code: 'CONFLICT', message: expect.stringMatching(/WAITING/) });
    } finally {
      await cp.db.prisma.instance.update({ where: { id: other!.id }, data: { state: 'RUNNING' } });
    }
  });

  it('closes on garbage with 4400 and keeps serving', async () => {
    const garbage: (string | Buffer)[] = [
      'not json',
      '[1,2,3]',
      'null',
      '{"type":"input","data":"ls\\n"}', // before "open"
      '{"type":"open"}',
      '{"type":"open","instanceId":"x","cols":-1}',
      '{"type":"launch-missiles"}',
      Buffer.from([0, 1, 2, 3]), // binary frame
    ];
    for (const frame of garbage) {
      const t = await connect(cp.url);
      t.ws.send(frame);
      expect((await t.closed).code, String(frame)).toBe(4400);
      expect(t.messages[0]).toMatchObject({ type: 'error', code: 'BAD_USER_INPUT' });
    }
    // garbage after a good open, and a second open
    for (const frame of ['{"type":"resize","cols":0,"rows":5}', JSON.stringify({ type: 'open', token: cp.adminToken, instanceId })]) {
      const t = await connect(cp.url);
      open(t);
      await t.waitForOutput(/\$ /);
      t.send(frame);
      expect((await t.closed).code).toBe(4400);
    }
    // a frame over 64 KiB is cut by ws itself
    const big = await connect(cp.url);
    open(big);
    big.send({ type: 'input', data: 'x'.repeat(70 * 1024) });
    expect((await big.closed).code).toBe(1009);

    const t = await connect(cp.url);
    open(t);
    t.send({ type: 'input', data: 'echo still-$((40+2))\n' });
    await t.waitForOutput(/still-42/);
    t.ws.close();
    await t.closed;
    expect((await cp.gql(`query { serviceGroups { name } }`)).errors).toBeUndefined();
  });

  it('routes upgrades by path: /graphql subscriptions still work, other paths get 404', async () => {
    const client = cp.ws();
    const result = await new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe({ query: `query { serviceGroups { name } }` }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
    });
    expect(JSON.stringify(result)).toContain('shell-test');

    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${cp.url.replace('http', 'ws')}/elsewhere`);
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => reject(new Error('upgraded on an unknown path')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(404);
  });

  it('closes with 4408 when no "open" arrives in time and when the terminal sits idle', async () => {
    const server = await startControlServer(0, '127.0.0.1', {
      schema: cp.plane.schema,
      context: cp.plane.contextFor,
      log: () => undefined,
      terminal: { openTimeoutMs: 200, idleTimeoutMs: 400 },
    });
    try {
      const silent = await connect(server.url);
      expect((await silent.closed).code).toBe(4408);

      const idle = await connect(server.url);
      open(idle);
      idle.send({ type: 'input', data: 'echo "pid $$"\n' });
      const pid = Number((await idle.waitForOutput(/pid (\d+)/))[1]);
      expect((await idle.closed).code).toBe(4408);
      expect(idle.messages.at(-1)).toMatchObject({ type: 'error', code: 'TIMEOUT' });
      await expect.poll(() => processExists(pid), { timeout: 5000 }).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('ends open terminals when the server shuts down', async () => {
    const server = await startControlServer(0, '127.0.0.1', { schema: cp.plane.schema, context: cp.plane.contextFor, log: () => undefined });
    const t = await connect(server.url);
    open(t);
    t.send({ type: 'input', data: 'echo "pid $$"\n' });
    const pid = Number((await t.waitForOutput(/pid (\d+)/))[1]);
    await server.close();
    expect((await t.closed).code).toBe(1001);
    await expect.poll(() => processExists(pid), { timeout: 5000 }).toBe(false);
  });
});

describe('dashboard line editor for shells without a tty', () => {
  it('echoes keys, edits with backspace and sends whole lines on Enter', () => {
    const e = new LineEditor();
    expect(e.feed('ech')).toEqual({ echo: 'ech', lines: [] });
    expect(e.feed('x\x7f')).toEqual({ echo: 'x\b \b', lines: [] });
    expect(e.feed('o hi\r')).toEqual({ echo: 'o hi\r\n', lines: ['echo hi\n'] });
    expect(e.feed('\x7f')).toEqual({ echo: '', lines: [] }); // nothing left to erase
  });

  it('takes pasted lines, drops arrow keys and clears the line on Ctrl-C', () => {
    const e = new LineEditor();
    expect(e.feed('ls\r\npwd\nwho').lines).toEqual(['ls\n', 'pwd\n']);
    expect(e.feed('\x1b[A\x1b[D\x1bOB').echo).toBe('');
    expect(e.feed('\x03')).toEqual({ echo: '^C\r\n', lines: [] });
    expect(e.feed('date\r').lines).toEqual(['date\n']); // "who" was dropped with Ctrl-C
    expect(e.feed('é✓\x7f\r').lines).toEqual(['é\n']);
  });

  it('explains every refusal code the server uses', () => {
    for (const code of [4400, 4401, 4403, 4404, 4408, 4409, 1009]) expect(describeClose(code)).not.toMatch(/code \d+/);
  });
});
