// Migrations on both providers: apply on an empty database, idempotence, bookkeeping rows,
// the tables they build, and clear errors for bad URLs and unreachable servers.
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../platform/db/migrate.ts';
import { createDatabase, type Database } from '../../platform/db/client.ts';
import { DatabaseError } from '../../platform/db/errors.ts';
import { migrationNames, migrationsDirs } from '../../platform/db/migrations-folder.ts';
import { emptyDatabaseUrl, providers } from '../fixtures/db.ts';

const modelTables = [
  'ApiKey', 'AuditLog', 'Event', 'Instance', 'MetricRollup', 'ModelVersion', 'Project', 'ProjectMember', 'RegisteredModel',
  'ResourceGroup', 'ResourceGroupProject', 'ResourceNode', 'ServiceGroup', 'ServiceVersion', 'User',
  // the inference table and quality loop
  'InferenceJobLease', 'InferenceJobRun', 'InferenceSchedule', 'InferenceTableBatch', 'InferenceTableObject', 'QualityAlert', 'QualityRule',
  'QualitySnapshot', 'WebhookDelivery',
];

async function tableNames(db: Database): Promise<string[]> {
  const rows =
    db.provider === 'sqlite'
      ? await db.prisma.$queryRaw<{ name: string }[]>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
      : await db.prisma.$queryRaw<{ name: string }[]>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`;
  return rows.map((r) => r.name).sort();
}

describe.each(providers)('migrations on %s', (provider) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('apply every migration to an empty database, then nothing on the second run', async () => {
    const target = await emptyDatabaseUrl(provider);
    cleanups.push(target.remove);
    const expected = migrationNames(migrationsDirs[provider]);
    expect(expected.length).toBeGreaterThan(0);

    expect((await applyMigrations(target.url)).applied).toEqual(expected);
    expect((await applyMigrations(target.url)).applied).toEqual([]);

    const db = await createDatabase(target.url);
    cleanups.unshift(() => db.close());
    expect(await tableNames(db)).toEqual([...modelTables, '_prisma_migrations'].sort());
    const rows = await db.prisma.$queryRaw<{ migration_name: string; finished: boolean | number | bigint }[]>`
      SELECT migration_name, (finished_at IS NOT NULL AND rolled_back_at IS NULL) AS finished FROM _prisma_migrations ORDER BY migration_name`;
    expect(rows.map((r) => r.migration_name)).toEqual(expected);
    expect(rows.every((r) => Boolean(Number(r.finished)))).toBe(true);
  });

  it('concurrent apply calls in one process apply each migration once', async () => {
    const target = await emptyDatabaseUrl(provider);
    cleanups.push(target.remove);
    const [a, b] = await Promise.all([applyMigrations(target.url), applyMigrations(target.url)]);
    expect([...a.applied, ...b.applied]).toEqual(migrationNames(migrationsDirs[provider]));
  });

  it('a migrations folder without migrations is a typed error', async () => {
    const target = await emptyDatabaseUrl(provider);
    cleanups.push(target.remove);
    await expect(applyMigrations(target.url, { migrationsDir: '/nonexistent/sluice-migrations' })).rejects.toMatchObject({
      code: 'DB_MIGRATIONS_MISSING',
    });
  });
});

describe('migration errors', () => {
  it('rejects URLs of unsupported databases', async () => {
    for (const url of ['mysql://root@localhost/x', 'file:', 'file::memory:', 'nonsense']) {
      await expect(applyMigrations(url)).rejects.toBeInstanceOf(DatabaseError);
      await expect(createDatabase(url)).rejects.toMatchObject({ code: 'DB_URL_UNSUPPORTED' });
    }
  });

  it('reports an unreachable PostgreSQL server as a failed migration without leaking the password', async () => {
    const err = await applyMigrations('postgres://sluice:hunter2@127.0.0.1:1/none').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect(err).toMatchObject({ code: 'DB_MIGRATION_FAILED' });
    expect((err as Error).message).not.toContain('hunter2');
  });
});
