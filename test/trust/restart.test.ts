// The attack: stop `npm start` with Ctrl-C (SIGTERM) or kill it (-9), start it again on the
// same data dir. Every version comes back as it was — status RUNNING, traffic 80/20 — and the
// edge answers from both versions again. Before the fix the orchestrator's shutdown reported
// the replicas as gone, the lifecycle wrote v2 FAILED and moved its share to v1 (100/0).
// Both with the embedded choices and the production ones; a mirror and a replica that died
// while the control plane was down come back too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_COLUMNS, DEMO_ROW } from '../fixtures/demo-traffic.ts';
import { startSluice, type SluiceProcess } from '../fixtures/sluice-process.ts';
import { emptyDatabaseUrl } from '../fixtures/db.ts';
import { testRedisUrl } from '../fixtures/services.ts';


const STATE = `{ serviceGroup(name: "wine-quality") { status versions { name status trafficPercent authEnabled } } }`;
interface State { serviceGroup: { status: string; versions: { name: string; status: string; trafficPercent: number; authEnabled: boolean }[] } }

// the embedded choices (SQLite, in-process pub/sub) and the production ones (PostgreSQL, Redis)
const variants = [
  { name: 'SQLite, in-process pub/sub', production: false },
  { name: 'PostgreSQL and Redis', production: true },
];

describe.each(variants)('a restart keeps every service as it was ($name)', ({ production }) => {
  let dataDir: string;
  let sluice: SluiceProcess;
  let database: { url: string; remove(): Promise<void> } | null = null;
  let env: Record<string, string> = {};
  const startSluiceAgain = () => startSluice({ dataDir, env, ports: sluice.ports });
  /** One demo row to the edge with the demo key, pinned to a version or not. */
  const predict = (version?: string) => fetch(`${sluice.edgeUrl}/services/wine-quality/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim(), ...(version ? { 'x-sluice-version': version } : {}) },
    body: JSON.stringify({ dataframe_split: { columns: DEMO_COLUMNS, data: [DEMO_ROW] } }),
  });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-restart-'));
    chmodSync(dataDir, 0o755); // as a plain mkdir under a common umask leaves it
    if (production) {
      database = await emptyDatabaseUrl('postgresql');
      env = { DATABASE_URL: database.url, REDIS_URL: testRedisUrl() };
    }
    sluice = await startSluice({ dataDir, env });
  }, 180_000);

  afterAll(async () => {
    await sluice?.stop('SIGTERM');
    await database?.remove();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  const expectAsBefore = async () => {
    const { data, errors } = await sluice.graphql<State>(STATE);
    expect(errors).toBeUndefined();
    expect(data!.serviceGroup.status).toBe('RUNNING');
    expect(data!.serviceGroup.versions.map((v) => [v.name, v.status, v.trafficPercent, v.authEnabled]))
      .toEqual([['v1', 'RUNNING', 80, true], ['v2', 'RUNNING', 20, true]]);
    for (const version of ['v1', 'v2']) {
      const res = await predict(version);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-sluice-version')).toBe(version);
    }
  };

  it('starts with the demo at 80/20', async () => {
    await expectAsBefore();
  });

  it('after SIGTERM (Ctrl-C): same versions, same status, same traffic', async () => {
    expect(await sluice.stop('SIGTERM')).toBe(0);
    sluice = await startSluiceAgain();
    await expectAsBefore();
    // secrets are printed when made, not on every start
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    expect(sluice.output()).not.toContain(key);
    expect(sluice.output()).not.toContain(sluice.adminToken());
    expect(sluice.output()).toContain('admin token    in ');
  }, 240_000);

  it('keeps the data dir to its owner: folder 0700, secrets and the database 0600', () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const file of [...(production ? [] : ['sluice.db']), 'admin-token', 'demo-api-key', 'jwt-secret', 'secret-key']) {
      const path = join(dataDir, file);
      if (file !== 'secret-key' || existsSync(path)) expect([file, statSync(path).mode & 0o777]).toEqual([file, 0o600]);
    }
  }, 240_000);

  it('after kill -9 of the control plane: same again', async () => {
    await sluice.stop('SIGKILL');
    sluice = await startSluiceAgain();
    await expectAsBefore();
  }, 240_000);

  it('a replica that died while the control plane was down is replaced on start, and the edge routes the new one as soon as "ready" is printed', async () => {
    await sluice.stop('SIGKILL');
    const stateDir = join(dataDir, 'runtime', 'wine-quality', 'v2');
    const [instance] = readdirSync(stateDir);
    const { pid } = JSON.parse(readFileSync(join(stateDir, instance!, 'instance-state.json'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    sluice = await startSluiceAgain();
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await predict('v2');
      answers.push(`${res.status} ${res.headers.get('x-sluice-version') ?? (await res.text())}`);
    }
    expect(answers).toEqual(Array(10).fill('200 v2'));
  }, 240_000);

  it('a mirror and a 100/0 split come back as they were after kill -9, and the shadow copies flow again', async () => {
    const { data } = await sluice.graphql<{ serviceGroup: { id: string; versions: { id: string; name: string }[] } }>(
      `{ serviceGroup(name: "wine-quality") { id versions { id name } } }`);
    const ids = Object.fromEntries(data!.serviceGroup.versions.map((v) => [v.name, v.id]));
    const set = await sluice.graphql(
      `mutation($g: ID!, $a: [TrafficAllocationInput!]!, $m: MirrorInput) { setTrafficAllocation(groupId: $g, allocations: $a, mirror: $m) { id } }`,
      { g: data!.serviceGroup.id, a: [{ versionId: ids.v1, percent: 100 }, { versionId: ids.v2, percent: 0 }], m: { versionId: ids.v2, percent: 100 } });
    expect(set.errors).toBeUndefined();
    const MIRROR = `{ serviceGroup(name: "wine-quality") { mirror { versionId percent } versions { name status trafficPercent } } }`;
    type Mirrored = { serviceGroup: { mirror: { versionId: string; percent: number } | null; versions: { name: string; status: string; trafficPercent: number }[] } };
    const before = (await sluice.graphql<Mirrored>(MIRROR)).data;
    await sluice.stop('SIGKILL');
    sluice = await startSluiceAgain();
    // "ready" came once the adopted edge had taken the restarted control plane's snapshot
    expect(sluice.output()).not.toMatch(/has not accepted the current xDS snapshot|has not caught up/);
    const after = (await sluice.graphql<Mirrored>(MIRROR)).data;
    expect(after).toEqual(before);
    expect(after!.serviceGroup.mirror).toEqual({ versionId: ids.v2, percent: 100 });
    expect(after!.serviceGroup.versions.map((v) => [v.name, v.status, v.trafficPercent])).toEqual([['v1', 'RUNNING', 100], ['v2', 'RUNNING', 0]]);
    // the edge got the mirror back from the restarted control plane: v2 sees the shadow copies
    const v2Requests = async () => {
      const metrics = await (await fetch(`${sluice.edgeUrl}/metrics`)).text();
      return metrics.split('\n').filter((l) => l.startsWith('sluice_shadow_requests_total{') && l.includes('version="v2"') && l.includes('outcome="sent"'))
        .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    };
    const start = await v2Requests();
    for (let i = 0; i < 20; i++) {
      const res = await predict();
      expect(res.headers.get('x-sluice-version')).toBe('v1');
    }
    await expect.poll(v2Requests, { timeout: 10_000 }).toBeGreaterThan(start);
  }, 240_000);
});
