// The two providers' schemas and migration histories stay one: the PostgreSQL schema is the
// SQLite source with only provider/output changed, both migration folders hold the same
// migrations and tables, the committed migrations cover schema.prisma, and `create` writes
// a working second migration for both providers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { derivePostgresSchema, modelsOnly, postgresSchemaPath, sourceSchemaPath, SchemaDerivationError } from '../../prisma/generate.ts';
import { createMigration, migrationSlug, pendingChanges, type MigrationPaths } from '../../platform/db/create-migration.ts';
import { LOCKFILE, lockfileContent, migrationNames, migrationsDirs } from '../../platform/db/migrations-folder.ts';
import { applyMigrations } from '../../platform/db/migrate.ts';
import { createDatabase } from '../../platform/db/client.ts';
import { emptyDatabaseUrl, providers } from '../fixtures/db.ts';

const source = readFileSync(sourceSchemaPath, 'utf8');

function createdTables(sql: string): string[] {
  // SQLite migrations that add columns redefine the table: CREATE TABLE "new_X", copy, rename to X
  return [...sql.matchAll(/CREATE TABLE "(\w+)"/g)].map((m) => m[1]!).filter((t) => !t.startsWith('new_')).sort();
}

describe('generated PostgreSQL schema', () => {
  it('is what prisma/generate.ts derives from schema.prisma now', () => {
    expect(existsSync(postgresSchemaPath)).toBe(true);
    expect(readFileSync(postgresSchemaPath, 'utf8')).toBe(derivePostgresSchema(source));
  });

  it('differs from the SQLite source only in provider and client output', () => {
    const pg = derivePostgresSchema(source);
    expect(modelsOnly(pg)).toBe(modelsOnly(source));
    expect(pg).toMatch(/datasource db \{\s*provider = "postgresql"\s*\}/);
    expect(pg).toContain('output       = "../generated/postgresql"');
    expect(pg).not.toContain('prisma-pothos-types');
    expect(pg).not.toContain('"sqlite"');
  });

  it('refuses a source it cannot derive from', () => {
    expect(() => derivePostgresSchema(source.replace('provider = "sqlite"', 'provider = "mysql"'))).toThrow(SchemaDerivationError);
    expect(() => derivePostgresSchema(source.replace(/datasource db \{[^}]*\}/, ''))).toThrow(/datasource/);
  });
});

describe('committed migrations', () => {
  it('exist for both providers with the same names, lock files and tables', () => {
    const sqlite = migrationNames(migrationsDirs.sqlite);
    const pg = migrationNames(migrationsDirs.postgresql);
    expect(sqlite.length).toBeGreaterThan(0);
    expect(pg).toEqual(sqlite);
    expect(sqlite[0]).toMatch(/^\d{14}_init$/);
    for (const provider of providers) {
      expect(readFileSync(join(migrationsDirs[provider], LOCKFILE), 'utf8')).toBe(lockfileContent(provider));
    }
    const tables = (dir: string) => createdTables(migrationNames(dir).map((n) => readFileSync(join(dir, n, 'migration.sql'), 'utf8')).join('\n'));
    const models = [...source.matchAll(/^model (\w+) \{/gm)].map((m) => m[1]!).sort();
    expect(tables(migrationsDirs.sqlite)).toEqual(models);
    expect(tables(migrationsDirs.postgresql)).toEqual(models);
  });

  it('cover every change in schema.prisma (run `npm run db:migration -- <name>` when this fails)', async () => {
    const pending = await pendingChanges();
    expect(pending.sqlite).toBe('');
    expect(pending.postgresql).toBe('');
  });
});

describe('creating a migration', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-migration-create-'));
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
    rmSync(scratch, { recursive: true, force: true });
  });
  const paths: MigrationPaths = {
    sqlite: join(scratch, 'migrations'),
    postgresql: join(scratch, 'postgresql', 'migrations'),
    lastMigrated: join(scratch, 'postgresql', 'last-migrated.prisma'),
  };
  const header = `generator client {\n  provider = "prisma-client"\n  output   = "./generated/sqlite"\n}\n\ndatasource db {\n  provider = "sqlite"\n}\n`;
  const v1 = `${header}
enum Color {
  RED
  BLUE
}

model Widget {
  id    String @id @default(cuid())
  name  String @unique
  color Color  @default(RED)
  meta  Json?
}
`;
  const v2 = v1.replace('  meta  Json?\n', '  meta  Json?\n  size  BigInt @default(0)\n  parts Part[]\n') +
    `
model Part {
  id       String @id @default(cuid())
  widgetId String
  widget   Widget @relation(fields: [widgetId], references: [id], onDelete: Cascade)
}
`;

  it('writes init, then only the change, for both providers, and both apply in order', async () => {
    const init = await createMigration('Init', { sourceSchema: v1, paths, now: new Date('2030-01-01T00:00:00Z') });
    expect(init.name).toBe('20300101000000_init');
    expect(await createMigration('again', { sourceSchema: v1, paths })).toEqual({ name: null, dirs: null });

    // Same clock: the second migration still sorts after the first.
    const second = await createMigration('add parts', { sourceSchema: v2, paths, now: new Date('2030-01-01T00:00:00Z') });
    expect(second.name).toBe('20300101000001_add_parts');
    const sqliteSql = readFileSync(join(paths.sqlite, second.name!, 'migration.sql'), 'utf8');
    const pgSql = readFileSync(join(paths.postgresql, second.name!, 'migration.sql'), 'utf8');
    expect(createdTables(sqliteSql)).toContain('Part');
    expect(createdTables(pgSql)).toEqual(['Part']);
    expect(pgSql).toMatch(/ALTER TABLE "Widget" ADD COLUMN\s+"size" BIGINT NOT NULL DEFAULT 0/);
    expect(pgSql).not.toContain('CREATE TYPE "Color"');
    expect(readFileSync(paths.lastMigrated, 'utf8')).toBe(derivePostgresSchema(v2));
    expect(await pendingChanges({ sourceSchema: v2, paths })).toMatchObject({ sqlite: '', postgresql: '' });

    for (const provider of providers) {
      const target = await emptyDatabaseUrl(provider);
      cleanups.push(target.remove);
      const dir = paths[provider];
      expect((await applyMigrations(target.url, { migrationsDir: dir })).applied).toEqual([init.name, second.name]);
      const db = await createDatabase(target.url);
      try {
        const cols = provider === 'sqlite'
          ? await db.prisma.$queryRaw<{ name: string }[]>`SELECT name FROM pragma_table_info('Widget')`
          : await db.prisma.$queryRaw<{ name: string }[]>`SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'Widget'`;
        expect(cols.map((c) => c.name).sort()).toEqual(['color', 'id', 'meta', 'name', 'size']);
      } finally {
        await db.close();
      }
    }
  });

  it('refuses histories that drifted apart', async () => {
    const drift = join(scratch, 'drift');
    const p: MigrationPaths = { sqlite: join(drift, 'm'), postgresql: join(drift, 'pg'), lastMigrated: join(drift, 'last.prisma') };
    mkdirSync(join(p.sqlite, '20300101000000_init'), { recursive: true });
    writeFileSync(join(p.sqlite, '20300101000000_init', 'migration.sql'), '-- nothing\n');
    await expect(pendingChanges({ sourceSchema: v1, paths: p })).rejects.toMatchObject({ code: 'DB_MIGRATION_DRIFT' });
    mkdirSync(join(p.postgresql, '20300101000000_init'), { recursive: true });
    writeFileSync(join(p.postgresql, '20300101000000_init', 'migration.sql'), '-- nothing\n');
    await expect(pendingChanges({ sourceSchema: v1, paths: p })).rejects.toThrow(/last\.prisma is missing/);
  });

  it('turns names into safe folder names and rejects empty ones', () => {
    expect(migrationSlug('Add API-key index')).toBe('add_api_key_index');
    expect(() => migrationSlug(' -- ')).toThrow(/invalid migration name/);
  });
});
