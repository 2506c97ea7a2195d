// `npm start` on a fresh data dir, as a newcomer runs it: the whole product comes up with
// the demo, the README's curl calls (one row and a batch) get real predictions from both
// versions, errors have their codes, every answered request lands exactly once in the
// inference log objects, and stopping leaves no process behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { freePort } from '../fixtures/sluice-process.ts';

const COLUMNS = ['alcohol', 'malic_acid', 'ash', 'alcalinity_of_ash', 'magnesium', 'total_phenols', 'flavanoids',
  'nonflavanoid_phenols', 'proanthocyanins', 'color_intensity', 'hue', 'od280/od315_of_diluted_wines', 'proline'];
const ROWS = [
  [13.2, 1.78, 2.14, 11.2, 100, 2.65, 2.76, 0.26, 1.28, 4.38, 1.05, 3.4, 1050],
  [12.37, 0.94, 1.36, 10.6, 88, 1.98, 0.57, 0.28, 0.42, 1.95, 1.05, 1.82, 520],
  [12.86, 1.35, 2.32, 18, 122, 1.51, 1.25, 0.21, 0.94, 4.1, 0.76, 1.29, 630],
];


function filesUnder(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out = statSync(path).isDirectory() ? out.concat(filesUnder(path)) : out.concat(path);
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start on a fresh machine', () => {
  let dataDir: string;
  let child: ChildProcess;
  let edge: string;
  let control: string;
  let output = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-start-'));
    const ports = { SLUICE_PORT: await freePort(), SLUICE_EDGE_PORT: await freePort(), SLUICE_XDS_PORT: await freePort(), SLUICE_GATEWAY_PORT: await freePort() };
    edge = `http://127.0.0.1:${ports.SLUICE_EDGE_PORT}`;
    control = `http://127.0.0.1:${ports.SLUICE_PORT}`;
    // `npm start` exactly: the built control plane (test/global-build.ts keeps dist/ current)
    child = spawn(process.execPath, ['--enable-source-maps', 'dist/control/main.js'], {
      env: { ...process.env, SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', SLUICE_OBJECT_STORE: '', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (output.includes('[sluice] ready')) { clearInterval(timer); resolve(); }
      }, 100);
      child.once('exit', (code) => { clearInterval(timer); reject(new Error(`npm start exited with ${code}:\n${output}`)); });
    });
  }, 180_000);

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const predict = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${edge}/services/wine-quality/predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('prints where each part listens, the admin token and the demo key', () => {
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    expect(output).toContain(key);
    expect(output).toContain(token);
    expect(output).toContain(`${control}/graphql`);
  });

  it('answers the README curls with real predictions, and the errors with their codes', async () => {
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    const one = await predict({ client_request_id: 'r-1', dataframe_split: { columns: COLUMNS, data: [ROWS[0]] } }, { authorization: `Bearer ${key}` });
    expect(one.status).toBe(200);
    const body = (await one.json()) as { client_request_id: string; request_id: string; version: string; predictions: number[] };
    expect(body.client_request_id).toBe('r-1');
    expect(body.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(['v1', 'v2']).toContain(body.version);
    expect(one.headers.get('x-sluice-version')).toBe(body.version);
    expect(body.predictions).toHaveLength(1);

    const batch = await predict({ client_request_id: 'r-2', dataframe_split: { columns: COLUMNS, data: ROWS } }, { authorization: key });
    const batchBody = (await batch.json()) as { predictions: number[] };
    // the three rows are one of each class; both demo models get them right
    expect(batchBody.predictions).toEqual([0, 1, 2]);

    const pinned = await predict({ dataframe_split: { columns: COLUMNS, data: ROWS } }, { authorization: key, 'x-sluice-version': 'v2' });
    expect(pinned.headers.get('x-sluice-version')).toBe('v2');

    expect((await predict({ dataframe_split: { columns: COLUMNS, data: ROWS } })).status).toBe(401);
    expect((await predict({ dataframe_split: { columns: COLUMNS, data: ROWS } }, { authorization: 'sk_sluice_wrong' })).status).toBe(403);
    const unknown = await fetch(`${edge}/services/no-such/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unknown.status).toBe(404);
    const wrongColumns = await predict({ dataframe_split: { columns: ['a'], data: [[1]] } }, { authorization: key });
    expect(wrongColumns.status).toBe(422);
    expect(((await wrongColumns.json()) as { error_code: string }).error_code).toBe('INVALID_PARAMETER_VALUE');
  });

  it('runs the demo at 80/20 with auth and the inference table on, visible over GraphQL', async () => {
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const res = await fetch(`${control}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ serviceGroup(name: "wine-quality") { status runningVersions totalVersions versions { name status trafficPercent authEnabled } } }` }),
    });
    const { data } = (await res.json()) as { data: { serviceGroup: { status: string; runningVersions: number; versions: { name: string; trafficPercent: number; authEnabled: boolean }[] } } };
    expect(data.serviceGroup).toMatchObject({ status: 'RUNNING', runningVersions: 2, totalVersions: 2 });
    expect(data.serviceGroup.versions.map((v) => [v.name, v.trafficPercent, v.authEnabled])).toEqual([['v1', 80, true], ['v2', 20, true]]);
  });

  it('stops on SIGTERM, flushing the inference log and leaving no replica behind', async () => {
    const pids = readdirSync(join(dataDir, 'runtime'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.json') && f.includes('state'))
      .map((f) => (JSON.parse(readFileSync(join(dataDir, 'runtime', f), 'utf8')) as { pid?: number }).pid)
      .filter((pid): pid is number => typeof pid === 'number');
    expect(pids).toHaveLength(2); // one replica each of v1 and v2
    expect(pids.every(alive)).toBe(true);
    // the replicas run the compiled runtime under plain node, not the sources under tsx
    for (const pid of pids) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv.some((a) => a.endsWith('dist/runtime/server.js'))).toBe(true);
      expect(argv.join(' ')).not.toContain('tsx');
    }
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    let answered = 0;
    for (let i = 0; i < 25; i++) {
      const r = await predict({ client_request_id: `load-${i}`, dataframe_split: { columns: COLUMNS, data: [ROWS[i % 3]] } }, { authorization: key });
      if (r.status === 200) answered++;
    }
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(child.exitCode).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);

    const objects = filesUnder(join(dataDir, 'objects', 'inference-logs', 'wine-quality'));
    expect(objects.every((f) => /\/v[12]\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[^/]+\.ndjson\.gz$/.test(f))).toBe(true);
    const records = objects.flatMap((f) => gunzipSync(readFileSync(f)).toString('utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { client_request_id?: string; request_id: string }));
    const loadRecords = records.filter((r) => r.client_request_id?.startsWith('load-'));
    expect(loadRecords).toHaveLength(answered);
    expect(new Set(records.map((r) => r.request_id)).size).toBe(records.length);
  }, 60_000);
});
