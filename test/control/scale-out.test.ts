// Several control-plane processes agree through Redis: a change made through one reaches a
// GraphQL subscriber connected to another.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createRedisPubSub } from '../../platform/pubsub/index.ts';
import { topics, type PubSub } from '../../platform/pubsub/port.ts';
import { testRedisUrl } from '../fixtures/services.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

const REDIS_URL = testRedisUrl();

describe('control planes sharing Redis pub/sub', () => {
  let db: TestDatabase;
  let dataDir: string;
  let pubsub: PubSub;
  let local: TestControlPlane;
  let child: ChildProcess;
  let childUrl: string;

  beforeAll(async () => {
    db = await freshDatabase('postgresql');
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-scale-'));
    pubsub = await createRedisPubSub(REDIS_URL);
    local = await startTestControlPlane({ provider: 'postgresql', db, pubsub, dataDir });
    child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/control-plane-child.ts'], {
      env: { ...process.env, DATABASE_URL: db.url, REDIS_URL, SLUICE_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    childUrl = await new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        try {
          resolve((JSON.parse(line) as { url: string }).url);
        } catch {
          /* other output */
        }
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await local?.close();
    await pubsub?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers a change made through one process to a subscriber of the other', async () => {
    const created = await local.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "shared" }) { id } }`);
    const id = created.data!.createServiceGroup.id;

    const client = createClient({
      url: `${childUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${local.adminToken}` },
      retryAttempts: 0,
    });
    const seen: string[] = [];
    const received = new Promise<void>((resolve, reject) => {
      client.subscribe<{ serviceGroupChanged: { description: string } }>(
        { query: `subscription($id: ID!) { serviceGroupChanged(id: $id) { description } }`, variables: { id } },
        {
          next: (msg) => {
            seen.push(msg.data!.serviceGroupChanged.description);
            if (seen.includes('changed in the other process')) resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    // the child's subscription is live once its SUBSCRIBE reached Redis (default prefix sluice:)
    const admin = new Redis(REDIS_URL);
    try {
      await vi.waitFor(async () => expect(await admin.pubsub('NUMSUB', `sluice:${topics.group(id)}`)).toEqual([`sluice:${topics.group(id)}`, 1]), { timeout: 10_000 });
    } finally {
      admin.disconnect();
    }
    await local.gql(`mutation($id: ID!) { updateServiceGroup(id: $id, input: { description: "changed in the other process" }) { id } }`, { id });
    await received;
    await client.dispose();
    expect(seen).toContain('changed in the other process');
  });
});
