// `npm run edge` wiring (gateway/edge/main.ts) on each database: routes over xDS from a
// control loop, version policies and API keys from the database (SQLite and PostgreSQL),
// inference records into the object store named by SLUICE_OBJECT_STORE.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { generateApiKey } from '../../gateway/authz.ts';
import { main } from '../../gateway/edge/main.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { freshDatabase, providers, type TestDatabase } from '../fixtures/db.ts';
import { SETTINGS, dpVersion, post, row, startFakeRuntime, type FakeRuntime } from './helpers.ts';
import { makeKey, sign, startJwksServer, unsignedToken, type JwksServer, type TestKey } from '../auth/helpers/jwks-server.ts';

describe.each(providers)('npm run edge on %s', (provider) => {
  let db: TestDatabase;
  let rt: FakeRuntime;
  let xds: XdsControl;
  let stop: () => Promise<void>;
  let dir: string;
  let url: string;
  let key: string;
  let jwks: JwksServer;
  let signer: TestKey;

  beforeAll(async () => {
    signer = await makeKey('edge-k1', 'ES256');
    jwks = await startJwksServer([signer]);
    db = await freshDatabase(provider);
    rt = await startFakeRuntime('v1');
    const prisma = db.prisma;
    const project = await prisma.project.create({ data: { name: `p-${provider}` } });
    const group = await prisma.serviceGroup.create({ data: { name: 'wine', projectId: project.id, status: 'RUNNING' } });
    const version = await prisma.serviceVersion.create({
      data: { groupId: group.id, name: 'v1', modelSource: 'REGISTRY', status: 'RUNNING', authEnabled: true, qpsLimit: 2, inferenceTableEnabled: true },
    });
    const k = generateApiKey();
    key = k.key;
    await prisma.apiKey.create({ data: { groupId: group.id, prefix: key.slice(0, 12), hash: k.hash } });

    const model = { groups: [{ groupId: group.id, name: 'wine', versions: [{ ...dpVersion({ name: 'v1', weight: 100, ports: [rt.port], auth: true, qps: 2, capture: true }), versionId: version.id }] }] };
    xds = createXdsControl({ loadModel: async () => model, settings: SETTINGS, debounceMs: 1 });
    const xdsPort = await xds.start(0, '127.0.0.1');
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-edge-main-'));
    const edge = await main({
      SLUICE_DATA_DIR: dir,
      DATABASE_URL: db.url,
      SLUICE_OBJECT_STORE: `file://${path.join(dir, 'objects')}`,
      SLUICE_XDS_ADDRESS: `127.0.0.1:${xdsPort}`,
      SLUICE_EDGE_PORT: '0',
      SLUICE_HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      // the same issuer variables the GraphQL API reads
      SLUICE_JWT_JWKS_URL: jwks.url,
      SLUICE_JWT_ISSUER: 'https://idp.test',
      SLUICE_JWT_AUDIENCE: 'sluice-predict',
    });
    stop = () => edge.close();
    url = `http://127.0.0.1:${edge.port}`;
  });
  afterAll(async () => {
    await stop?.();
    await xds?.close();
    await jwks?.close();
    await rt?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a JWT from the issuer named in the environment for the groups it grants', async () => {
    const predict = `${url}/services/wine/predict`;
    const claims = { iss: 'https://idp.test', aud: 'sluice-predict', sub: 'svc-1' };
    const granted = await sign(signer, { sluice_groups: ['wine'] }, claims);
    const other = await sign(signer, { sluice_groups: ['beer'] }, claims);
    const none = unsignedToken({ ...claims, sluice_groups: ['wine'], exp: Math.floor(Date.now() / 1000) + 60 });
    expect((await post(predict, row(), { authorization: `Bearer ${granted}` })).status).toBe(200);
    expect((await post(predict, row(), { authorization: `Bearer ${other}` })).status).toBe(403);
    expect((await post(predict, row(), { authorization: `Bearer ${none}` })).status).toBe(403);
    // let the version's bucket (2/s) refill before the next test counts on it
    await new Promise((r) => setTimeout(r, 1100));
  });

  it('serves /predict with the key from the database, throttles by its QPS limit, records', async () => {
    const predict = `${url}/services/wine/predict`;
    expect((await post(predict, row())).status).toBe(401);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(predict, row(), { authorization: `Bearer ${key}` })).status);
    // a bucket of 2, refilling at 2/s: the first two pass, a quick burst after is throttled
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    expect((await post(predict, row(), { authorization: 'sk_sluice_' + 'A'.repeat(43) })).status).toBe(403);
    await stop();
    stop = async () => {};
    const store = new FsObjectStore(path.join(dir, 'objects'));
    const objects = await store.list('inference-logs/wine/v1/');
    const lines = [];
    for (const o of objects) lines.push(...gunzipSync((await store.get(o.key)).body).toString('utf8').split('\n').filter(Boolean));
    // every answered request that reached a version: 3 (JWT test) + 1 + 5 + 1
    expect(lines.length).toBe(10);
  });
});

