// DATABASE_URL handling: provider choice, SQLite paths, PostgreSQL ?schema= (end to end on
// the local server), and password redaction.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { parseDatabaseUrl, redactUrl } from '../../platform/db/url.ts';
import { applyMigrations } from '../../platform/db/migrate.ts';
import { createDatabase } from '../../platform/db/client.ts';
import { emptyDatabaseUrl } from '../fixtures/db.ts';

describe('parseDatabaseUrl', () => {
  it('reads SQLite file URLs relative to the working directory, without query parameters', () => {
    expect(parseDatabaseUrl('file:./.sluice/sluice.db')).toEqual({ provider: 'sqlite', path: resolve('.sluice/sluice.db') });
    expect(parseDatabaseUrl('file:/var/lib/sluice/db.sqlite?connection_limit=1')).toEqual({ provider: 'sqlite', path: '/var/lib/sluice/db.sqlite' });
  });

  it('reads PostgreSQL URLs and takes ?schema= out of the connection string', () => {
    expect(parseDatabaseUrl('postgresql://u:p@db:5432/sluice?schema=tenant&sslmode=disable')).toEqual({
      provider: 'postgresql',
      connectionString: 'postgresql://u:p@db:5432/sluice?sslmode=disable',
      schema: 'tenant',
    });
    expect(parseDatabaseUrl('postgres://db/sluice')).toMatchObject({ provider: 'postgresql', schema: undefined });
  });

  it('rejects what it cannot serve with a typed error', () => {
    for (const url of ['mysql://x/y', 'file:', 'file::memory:', '', 'postgres://db/x?schema=a;drop']) {
      expect(() => parseDatabaseUrl(url)).toThrow(expect.objectContaining({ code: 'DB_URL_UNSUPPORTED' }));
    }
  });

  it('masks passwords for printing', () => {
    expect(redactUrl('postgres://sluice:s3cret@db:5432/x')).toBe('postgres://sluice:***@db:5432/x');
    expect(redactUrl('postgres://sluice@db/x')).toBe('postgres://sluice@db/x');
    expect(redactUrl('file:./a.db')).toBe('file:./a.db');
  });
});

describe('PostgreSQL ?schema=', () => {
  it('migrates into and queries the named schema', async () => {
    const target = await emptyDatabaseUrl('postgresql');
    try {
      const url = `${target.url}?schema=tenant_a`;
      expect((await applyMigrations(url)).applied.length).toBeGreaterThan(0);
      const db = await createDatabase(url);
      try {
        await db.prisma.user.create({ data: { username: 'in-tenant' } });
        expect(await db.prisma.user.count()).toBe(1);
      } finally {
        await db.close();
      }
      const client = new pg.Client({ connectionString: target.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ table_schema: string }>(
          `SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name IN ('User', '_prisma_migrations')`,
        );
        expect(rows.map((r) => r.table_schema)).toEqual(['tenant_a']);
      } finally {
        await client.end();
      }
    } finally {
      await target.remove();
    }
  });
});
