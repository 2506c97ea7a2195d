// The table job killed with SIGKILL as a real process in the worst place — after a batch's
// Parquet files are stored, before its checkpoint commits — then run again: every request
// row is in the table exactly once (no duplicate, none missing), and a third run is a
// no-op. Against the folder store and against an S3 API server (s3rver), with the job
// staging S3 objects through the AWS SDK.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { startS3rver, type S3Fixture } from '../objectstore/s3rver-fixture.ts';
import { InferenceService } from '../../control/inference/service.ts';
import { query, toNum } from '../../control/inference/duck.ts';
import { HELDOUT, putLogObject, record, seedGroup } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const G = 'wine-quality';

function runCli(env: NodeJS.ProcessEnv, args: string[]): { child: ChildProcess; lines: string[]; exited: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, ['--max-old-space-size=192', '--enable-source-maps', 'dist/control/inference/job-cli.js', '--group', G, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    lines.push(...d.toString().split('\n').filter(Boolean));
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited, output: () => out };
}

async function until(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const kinds = ['folder', 's3rver'] as const;

describe.each(kinds)('SIGKILL mid-run, then rerun (%s store)', (kind) => {
  let db: TestDatabase;
  let dir: string;
  let s3: S3Fixture | undefined;

  afterAll(async () => {
    await db?.drop();
    await s3?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves every row exactly once', async () => {
    db = await freshDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), `sluice-kill-${kind}-`));
    let store: ObjectStore;
    let env: NodeJS.ProcessEnv;
    if (kind === 'folder') {
      store = new FsObjectStore(join(dir, 'objects'));
      env = { SLUICE_OBJECT_STORE: `file://${join(dir, 'objects')}` };
    } else {
      s3 = await startS3rver('sluice-kill');
      store = s3.store();
      env = { SLUICE_OBJECT_STORE: 's3://sluice-kill', S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
    }
    env = { ...env, DATABASE_URL: db.url, SLUICE_DATA_DIR: dir };
    const { groupId } = await seedGroup(db.prisma, G);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(`kill-${i}`);
      await putLogObject(store, [record(G, { rows: HELDOUT.rows.slice(i, i + 3), clientRequestId: `kill-${i}`, version: i % 2 ? 'v2' : 'v1' })]);
    }

    // 1. killed after the second batch's files are stored, before that batch commits
    const first = runCli(env, ['--batch-objects', '3', '--pause-before-commit', '60000', '--pause-at-batch', '2']);
    await until(() => first.lines.filter((l) => l.includes('"stored"')).length >= 2, 60_000, () => first.output());
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const pending = await db.prisma.inferenceTableBatch.findMany({ where: { groupId, state: 'PENDING' } });
    expect(pending).toHaveLength(1);
    const stored = await store.list(`inference-table/group=${G}/`);
    expect(stored.some((o) => o.key.includes(pending[0]!.id))).toBe(true); // the crash left files of an uncommitted batch
    expect(await db.prisma.inferenceJobRun.count({ where: { groupId, state: 'RUNNING' } })).toBe(1);

    // 2. the rerun takes over (the killed holder is gone) and finishes exactly once
    const second = runCli(env, ['--batch-objects', '3']);
    expect(await second.exited, second.output()).toBe(0);
    const summary = JSON.parse(second.lines.at(-1)!) as { objectsProcessed: number; rowsWritten: number };
    expect(summary.objectsProcessed).toBe(12 - 3);

    const service = new InferenceService({ prisma: db.prisma, store, pubsub: createMemoryPubSub(), secrets: { seal: (s) => s, open: (s) => s }, workDir: join(dir, 'reader') });
    const counts = await service.table.withTable(G, async ({ conn }) =>
      (await query(conn, `SELECT count(*) AS n, count(DISTINCT (request_id, row_index)) AS keys FROM t_rows`))[0]!,
    );
    expect(toNum(counts.n)).toBe(36);
    expect(toNum(counts.keys)).toBe(36);
    for (const id of ids) {
      const rows = await service.rows(groupId, { clientRequestId: id });
      expect(rows.map((r) => r.rowIndex).sort(), id).toEqual([0, 1, 2]);
    }
    expect(await db.prisma.inferenceJobRun.findFirst({ where: { groupId, trigger: 'CLI', state: 'FAILED' } })).toMatchObject({ error: expect.stringMatching(/stopped before finishing/) });

    // 3. nothing new: a no-op
    const third = runCli(env, []);
    expect(await third.exited, third.output()).toBe(0);
    expect(JSON.parse(third.lines.at(-1)!)).toMatchObject({ objectsProcessed: 0, rowsWritten: 0 });
    await service.close();
  }, 180_000);
});
