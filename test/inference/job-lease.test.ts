// One table run per group across processes: two real job processes started together, both
// past the "is a run in progress?" check at the same moment (held there by a test pause),
// race for the group's lease; exactly one runs, the other gets CONFLICT, and every row is
// in the table once. A lease held by a live holder refuses a run; an expired one (or one of
// a dead process) is taken over; a run releases its lease when done. Both databases.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { freshDatabase, providers, type TestDatabase } from '../fixtures/db.ts';
import { InferenceTableJob } from '../../control/inference/job.ts';
import { query, toNum } from '../../control/inference/duck.ts';
import { TableReader } from '../../control/inference/table.ts';
import { LocalMirror } from '../../control/inference/mirror.ts';
import { HELDOUT, putLogObject, record, seedGroup } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const G = 'wine-quality';

function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'control/inference/job-cli.ts', '--group', G, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

describe.each(providers)('the table job lease (%s)', (provider) => {
  let db: TestDatabase;
  let dir: string;

  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly one of two processes started together run a group', async () => {
    db = await freshDatabase(provider);
    dir = mkdtempSync(join(tmpdir(), `sluice-lease-${provider}-`));
    const store = new FsObjectStore(join(dir, 'objects'));
    const env = { SLUICE_OBJECT_STORE: `file://${join(dir, 'objects')}`, DATABASE_URL: db.url, SLUICE_DATA_DIR: dir };
    const { groupId } = await seedGroup(db.prisma, G);
    for (let i = 0; i < 6; i++) await putLogObject(store, [record(G, { rows: HELDOUT.rows.slice(i, i + 4), clientRequestId: `lease-${i}` })]);

    // both pass the running-run check, wait there, then claim; the winner also holds its first batch a while
    const args = ['--batch-objects', '2', '--pause-before-claim', '1500', '--pause-before-commit', '1500'];
    const [a, b] = await Promise.all([runCli(env, args), runCli(env, args)]);
    const codes = [a.code, b.code].sort();
    expect(codes, `${a.out}\n---\n${b.out}`).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.out).toMatch(/already in progress/);
    const runs = await db.prisma.inferenceJobRun.findMany({ where: { groupId } });
    expect(runs.map((r) => r.state)).toEqual(['SUCCEEDED']);
    expect(await db.prisma.inferenceJobLease.count()).toBe(0); // released

    const reader = new TableReader(store, new LocalMirror(store, join(dir, 'mirror')));
    const counts = await reader.withTable(G, async ({ conn }) => (await query(conn, 'SELECT count(*) AS n, count(DISTINCT (request_id, row_index)) AS keys FROM t_rows'))[0]!);
    expect(toNum(counts.n)).toBe(24);
    expect(toNum(counts.keys)).toBe(24);
  }, 120_000);

  it('refuses a run while another host holds a live lease, and takes over an expired one', async () => {
    const store = new FsObjectStore(join(dir, 'objects'));
    const { groupId } = await seedGroup(db.prisma, 'lease-takeover');
    await putLogObject(store, [record('lease-takeover', { rows: HELDOUT.rows.slice(0, 2), clientRequestId: 'takeover-0' })]);
    const job = new InferenceTableJob({ prisma: db.prisma, store, workDir: join(dir, 'work-takeover'), leaseMs: 5_000 });
    await db.prisma.inferenceJobLease.create({ data: { groupId, runId: 'elsewhere', holder: 'another-host:4242', expiresAt: new Date(Date.now() + 60_000) } });
    await expect(job.run(groupId, 'TEST')).rejects.toMatchObject({ code: 'CONFLICT' });
    await db.prisma.inferenceJobLease.update({ where: { groupId }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    const result = await job.run(groupId, 'TEST');
    expect(result.rowsWritten).toBe(2);
    expect(await db.prisma.inferenceJobLease.findUnique({ where: { groupId } })).toBeNull();
  }, 60_000);
});
