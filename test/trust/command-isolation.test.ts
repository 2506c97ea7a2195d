// The attack: a project developer gives a custom-image version a command that reads the
// data dir (the JWT secret, the database) to forge an admin session. Through the real
// `npm start` running as root, the command runs as an unprivileged user (SLUICE_RUN_AS,
// default `nobody`): every path into the data dir is refused, by absolute and by relative
// path, and so are its neighbours' folders. Where users cannot be switched, a developer may
// not set a command at all (running one is an admin right).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSluice, type SluiceProcess } from '../fixtures/sluice-process.ts';
import { startTestControlPlane } from '../fixtures/control-plane.ts';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// what the developer's command tries, then it serves PORT so the version turns RUNNING
const PROBE = `
const fs = require('fs'), http = require('http');
const tries = {
  absoluteSecret: process.env.DATA_DIR + '/jwt-secret',
  absoluteDb: process.env.DATA_DIR + '/sluice.db',
  relativeSecret: '../../../../jwt-secret',
  relativeAdminToken: '../../../../admin-token',
  dataDirListing: '../../../..',
  runtimeListing: '../../..',
  groupListing: '../..',
};
const out = { uid: process.getuid() };
for (const [k, p] of Object.entries(tries)) {
  try { out[k] = fs.statSync(p).isDirectory() ? 'LISTED ' + fs.readdirSync(p).join(',') : 'READ ' + fs.readFileSync(p, 'utf8').length; }
  catch (e) { out[k] = e.code; }
}
try { fs.writeFileSync('own-file', 'x'); out.ownDir = 'WRITABLE'; } catch (e) { out.ownDir = e.code; }
console.log('PROBE ' + JSON.stringify(out));
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

function filesNamed(dir: string, name: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(`/${name}`)).map((f) => join(dir, f));
}

describe.skipIf(!isRoot)('a developer\'s command cannot read the data dir (npm start as root)', () => {
  let dataDir: string;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-isolation-'));
    sluice = await startSluice({ dataDir, env: { SLUICE_DEMO: '0' } });
  }, 180_000);

  afterAll(async () => {
    await sluice?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('runs the command as nobody, refused everywhere in the data dir but its own folder', async () => {
    const user = await sluice.graphql<{ createUser: { id: string } }>(`mutation { createUser(username: "dev", password: "dev-password-1", role: DEVELOPER) { id } }`);
    const projects = await sluice.graphql<{ projects: { edges: { node: { id: string } }[] } }>(`{ projects { edges { node { id } } } }`);
    const projectId = projects.data!.projects.edges[0]!.node.id;
    expect((await sluice.graphql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: DEVELOPER) { id } }`, { p: projectId, u: user.data!.createUser.id })).errors).toBeUndefined();
    const login = await sluice.graphql<{ login: { token: string } }>(`mutation { login(username: "dev", password: "dev-password-1") { token } }`, {}, null);
    const dev = login.data!.login.token;

    const group = await sluice.graphql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "sneaky", type: ML_SERVICE }) { id } }`, {}, dev);
    expect(group.errors).toBeUndefined();
    const version = await sluice.graphql<{ addServiceVersion: { id: string } }>(
      `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
      { g: group.data!.createServiceGroup.id, input: { name: 'v1', image: { image: 'local/probe', command: [process.execPath, '-e', PROBE], env: [{ name: 'DATA_DIR', value: dataDir }] }, resources: { cpu: 0.5, memoryGiB: 0.5 } } },
      dev,
    );
    expect(version.errors).toBeUndefined();
    const versionId = version.data!.addServiceVersion.id;
    expect((await sluice.graphql(`mutation($id: ID!) { startServiceVersion(id: $id) { id } }`, { id: versionId }, dev)).errors).toBeUndefined();
    await expect.poll(async () => {
      const r = await sluice.graphql<{ serviceVersion: { status: string } }>(`query($id: ID!) { serviceVersion(id: $id) { status } }`, { id: versionId });
      return r.data?.serviceVersion.status;
    }, { timeout: 60_000, interval: 250 }).toBe('RUNNING');

    const [stdout] = filesNamed(join(dataDir, 'runtime', 'sneaky'), 'stdout.raw');
    const line = readFileSync(stdout!, 'utf8').split('\n').find((l) => l.startsWith('PROBE '));
    const probe = JSON.parse(line!.slice('PROBE '.length)) as Record<string, unknown>;
    expect(probe).toEqual({
      uid: 65534,
      absoluteSecret: 'EACCES',
      absoluteDb: 'EACCES',
      relativeSecret: 'EACCES',
      relativeAdminToken: 'EACCES',
      dataDirListing: 'EACCES',
      runtimeListing: 'EACCES',
      groupListing: 'EACCES',
      ownDir: 'WRITABLE',
    });
  }, 120_000);
});

describe('where commands cannot be isolated, setting one is an admin right', () => {
  it('refuses a developer\'s command, takes an admin\'s', async () => {
    const cp = await startTestControlPlane({ provider: 'sqlite' }); // its orchestrator isolates nothing
    try {
      const user = await cp.gql<{ createUser: { id: string } }>(`mutation { createUser(username: "dev", password: "dev-password-1", role: DEVELOPER) { id } }`);
      const projects = await cp.gql<{ projects: { edges: { node: { id: string } }[] } }>(`{ projects { edges { node { id } } } }`);
      await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: DEVELOPER) { id } }`, { p: projects.data!.projects.edges[0]!.node.id, u: user.data!.createUser.id });
      const dev = (await cp.gql<{ login: { token: string } }>(`mutation { login(username: "dev", password: "dev-password-1") { token } }`, {}, null)).data!.login.token;
      const group = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "plain", type: ML_SERVICE }) { id } }`, {}, dev);
      const add = (token: string, name: string) => cp.gql(
        `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
        { g: group.data!.createServiceGroup.id, input: { name, image: { image: 'x/y:1', command: ['cat', '/etc/hostname'] } } },
        token,
      );
      expect((await add(dev, 'v1')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await add(cp.adminToken, 'v1')).errors).toBeUndefined();
      // an image without a command (Kubernetes runs the image's own entrypoint) stays a developer's right
      // where the orchestrator runs image entrypoints (elsewhere it is refused for everyone: IMAGE_COMMAND_REQUIRED)
      cp.orchestrator.runsImageEntrypoint = true;
      const noCommand = await cp.gql(
        `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
        { g: group.data!.createServiceGroup.id, input: { name: 'v2', image: { image: 'x/y:1' } } },
        dev,
      );
      expect(noCommand.errors).toBeUndefined();
    } finally {
      await cp.close();
    }
  });
});
