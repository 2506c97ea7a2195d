// Writes a new migration for both providers from the current prisma/schema.prisma, offline:
//  - SQLite: the engine replays prisma/migrations into an in-memory shadow database and diffs
//    it against the schema, so the diff starts from what the SQL really builds;
//  - PostgreSQL: the previous datamodel (prisma/postgresql/last-migrated.prisma, written with
//    every migration) is diffed against the current one; no server is needed.
// Both folders get the same `<timestamp>_<name>` so the two histories stay in lockstep.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../paths.ts';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { DiffTarget } from '@prisma/schema-engine-wasm';
import { derivePostgresSchema, sourceSchemaPath } from '../../prisma/generate.ts';
import { DatabaseError } from './errors.ts';
import { LOCKFILE, lockfileContent, migrationNames, migrationsDirs, readMigrationList } from './migrations-folder.ts';
import { noSchemaFilter, trackedFactory } from './migrate.ts';
import { offlinePostgresFactory } from './offline-postgres.ts';
import { openSchemaEngine, sqliteScriptAware } from './schema-engine.ts';
import type { Provider } from './url.ts';

export const lastMigratedPath = join(repoRoot, 'prisma', 'postgresql', 'last-migrated.prisma');

/** Where the migration history lives; tests point these at a scratch folder. */
export interface MigrationPaths {
  sqlite: string;
  postgresql: string;
  lastMigrated: string;
}

export const defaultMigrationPaths: MigrationPaths = { ...migrationsDirs, lastMigrated: lastMigratedPath };

export interface PendingChanges {
  sqlite: string; // SQL script, '' when nothing changed
  postgresql: string;
  /** the PostgreSQL schema text the diff went to (saved as last-migrated on create) */
  postgresSchema: string;
}

async function diff(factory: Parameters<typeof trackedFactory>[0], from: DiffTarget, to: DiffTarget): Promise<string> {
  const tracked = trackedFactory(factory);
  const opened = await openSchemaEngine(tracked.factory);
  try {
    const out = await opened.engine.diff({ from, to, script: true, exitCode: null, filters: noSchemaFilter });
    return emptyIfNoChanges(out.stdout ?? '');
  } finally {
    opened.close();
    await tracked.disposeAll();
  }
}

// The engine writes a comment (not nothing) when the two sides are equal.
function emptyIfNoChanges(script: string): string {
  const meaningful = script.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('--'));
  return meaningful.length === 0 ? '' : script;
}

const datamodel = (content: string): DiffTarget => ({ tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content }] });

/** What a new migration would contain for each provider, given the schema and migration folders. */
export async function pendingChanges(
  options: { sourceSchema?: string; paths?: MigrationPaths } = {},
): Promise<PendingChanges> {
  const sourceSchema = options.sourceSchema ?? readFileSync(sourceSchemaPath, 'utf8');
  const paths = options.paths ?? defaultMigrationPaths;
  const lastPath = paths.lastMigrated;
  const postgresSchema = derivePostgresSchema(sourceSchema);
  const sqliteHistory = migrationNames(paths.sqlite);
  const pgHistory = migrationNames(paths.postgresql);
  if (sqliteHistory.join('\n') !== pgHistory.join('\n')) {
    throw new DatabaseError('DB_MIGRATION_DRIFT', `the SQLite and PostgreSQL migration folders differ (${sqliteHistory.length} vs ${pgHistory.length} migrations); they must hold the same names`);
  }
  const hasLast = existsSync(lastPath);
  if (pgHistory.length > 0 && !hasLast) {
    throw new DatabaseError('DB_MIGRATION_DRIFT', `${lastPath} is missing: it records the schema the last PostgreSQL migration produced`);
  }
  if (pgHistory.length === 0 && hasLast) {
    throw new DatabaseError('DB_MIGRATION_DRIFT', `${lastPath} exists but there are no PostgreSQL migrations; delete it to start over`);
  }

  const sqliteFrom: DiffTarget = sqliteHistory.length > 0 ? { tag: 'migrations', ...readMigrationList(paths.sqlite) } : { tag: 'empty' };
  const sqlite = await diff(
    sqliteScriptAware(new PrismaBetterSqlite3({ url: ':memory:' }, { shadowDatabaseUrl: ':memory:' })),
    sqliteFrom,
    datamodel(sourceSchema),
  );
  const pgFrom: DiffTarget = hasLast ? datamodel(readFileSync(lastPath, 'utf8')) : { tag: 'empty' };
  const postgresql = await diff(offlinePostgresFactory(), pgFrom, datamodel(postgresSchema));
  return { sqlite, postgresql, postgresSchema };
}

/** UTC yyyyMMddHHmmss, after every existing migration's timestamp (prisma CLI format). */
function nextTimestamp(existing: string[], now: Date): string {
  const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  let candidate = stamp(now);
  const last = existing.at(-1)?.slice(0, 14);
  if (last && candidate <= last) {
    const t = new Date(Date.UTC(+last.slice(0, 4), +last.slice(4, 6) - 1, +last.slice(6, 8), +last.slice(8, 10), +last.slice(10, 12), +last.slice(12, 14)) + 1000);
    candidate = stamp(t);
  }
  return candidate;
}

export function migrationSlug(name: string): string {
  const slug = name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (slug === '' || slug.length > 100) throw new DatabaseError('DB_MIGRATION_DRIFT', `invalid migration name "${name}": use letters, digits and underscores`);
  return slug;
}

const noChangeNote = (provider: Provider) => `-- This migration has no changes for ${provider}; it keeps both migration histories in lockstep.\n`;

export interface CreatedMigration {
  name: string | null; // null: the schema had no changes, nothing was written
  dirs: Record<Provider, string> | null;
}

export async function createMigration(
  name: string,
  options: { now?: Date; sourceSchema?: string; paths?: MigrationPaths } = {},
): Promise<CreatedMigration> {
  const slug = migrationSlug(name);
  const paths = options.paths ?? defaultMigrationPaths;
  const changes = await pendingChanges({ paths, ...(options.sourceSchema !== undefined ? { sourceSchema: options.sourceSchema } : {}) });
  if (changes.sqlite === '' && changes.postgresql === '') return { name: null, dirs: null };

  const folder = `${nextTimestamp(migrationNames(paths.sqlite), options.now ?? new Date())}_${slug}`;
  const dirs: Record<Provider, string> = {
    sqlite: join(paths.sqlite, folder),
    postgresql: join(paths.postgresql, folder),
  };
  for (const provider of ['sqlite', 'postgresql'] as const) {
    mkdirSync(dirs[provider], { recursive: true });
    writeFileSync(join(dirs[provider], 'migration.sql'), changes[provider] || noChangeNote(provider));
    writeFileSync(join(paths[provider], LOCKFILE), lockfileContent(provider));
  }
  mkdirSync(dirname(paths.lastMigrated), { recursive: true });
  writeFileSync(paths.lastMigrated, changes.postgresSchema);
  return { name: folder, dirs };
}
