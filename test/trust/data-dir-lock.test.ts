// One Sluice per data dir. The attack (well, the accident): a second `npm start` on a data dir
// in use used to get half-way through start-up and die of SQLite's busy error. Now it fails
// at once with DATA_DIR_IN_USE ("another Sluice (pid N) is using data dir X"); a lock left by
// a killed process is taken over; and `npm start` delivers SIGTERM to node (the script execs
// it), so stopping the npm process stops everything: control plane, edge, lock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, isAlive, lockDataDir } from '../../platform/data-dir-lock.ts';
import { freePort } from '../fixtures/sluice-process.ts';

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

describe('the data dir lock', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sluice-lock-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a data dir a live process holds, with the holder pid and a stable code', () => {
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, LOCK_FILE), `${holder.pid}\n`);
      let error: unknown;
      try { lockDataDir(dir); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(DataDirInUseError);
      expect((error as DataDirInUseError).code).toBe('DATA_DIR_IN_USE');
      expect((error as Error).message).toContain(`another Sluice (pid ${holder.pid}) is using data dir ${dir}`);
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(holder.pid));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over a stale lock (its process is gone) and releases its own', async () => {
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    await until(() => !isAlive(dead.pid!), 5_000);
    writeFileSync(join(dir, LOCK_FILE), `${dead.pid}\n`);
    const lock = lockDataDir(dir);
    expect(lock.tookOverFrom).toBe(dead.pid);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});

describe('npm start on a data dir in use', () => {
  let dataDir: string;
  let first: ChildProcess;
  let output = '';

  const start = async () => {
    const ports = { SLUICE_PORT: await freePort(), SLUICE_EDGE_PORT: await freePort(), SLUICE_XDS_PORT: await freePort(), SLUICE_GATEWAY_PORT: await freePort() };
    return spawn('npm', ['start', '--silent'], {
      env: {
        ...process.env, SLUICE_DATA_DIR: dataDir, SLUICE_DEMO: '0', DATABASE_URL: '', REDIS_URL: '', SLUICE_OBJECT_STORE: '', SLUICE_ADMIN_TOKEN: '',
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-lock-start-'));
    first = await start();
    first.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    first.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    if (!(await until(() => output.includes('[sluice] ready'), 150_000))) throw new Error(`not ready:\n${output}`);
  }, 180_000);

  afterAll(() => {
    if (first.exitCode === null) first.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a second start fails at once with DATA_DIR_IN_USE and the holder pid', async () => {
    const holder = Number(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim());
    expect(isAlive(holder)).toBe(true);
    const second = await start();
    let err = '';
    second.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    second.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    expect(err).toContain('DATA_DIR_IN_USE');
    expect(err).toContain(`another Sluice (pid ${holder}) is using data dir ${dataDir}`);
    expect(err).not.toMatch(/SQLITE_BUSY|database is locked|SocketTimeout/);
    // the first one is untouched
    expect(isAlive(holder)).toBe(true);
  }, 120_000);

  it('SIGTERM to the npm process stops node, its edge, and releases the lock', async () => {
    const holder = Number(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim());
    const edgePid = Number(readFileSync(join(dataDir, 'edge.pid'), 'utf8').trim());
    expect(isAlive(edgePid)).toBe(true);
    const exited = new Promise<void>((r) => first.once('exit', () => r()));
    first.kill('SIGTERM');
    await exited;
    expect(await until(() => !isAlive(holder) && !isAlive(edgePid), 60_000)).toBe(true);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 90_000);
});
