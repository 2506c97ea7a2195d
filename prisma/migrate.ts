// Migration commands, offline (WebAssembly schema engine, no engine binary):
//   create <name>  write prisma/migrations/<ts>_<name> (SQLite) and
//                  prisma/postgresql/migrations/<ts>_<name> (PostgreSQL) from schema.prisma
//   apply          apply pending migrations to DATABASE_URL (default file:./.sluice/sluice.db)
//   check          exit 1 if schema.prisma has changes no migration covers (for CI)
import { loadSettings } from '../platform/settings.ts';
import { createMigration, pendingChanges } from '../platform/db/create-migration.ts';
import { applyMigrations } from '../platform/db/migrate.ts';
import { redactUrl } from '../platform/db/url.ts';
import { writePostgresSchema } from './generate.ts';

const usage = 'usage: node --import tsx prisma/migrate.ts create <name> | apply | check';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'create': {
      const name = rest.join('_');
      if (!name) {
        console.error(`a migration name is required: npm run db:migration -- <name>\n${usage}`);
        return 2;
      }
      // Keep the derived schema (used by `prisma generate` and the prisma CLI) in step.
      writePostgresSchema();
      const created = await createMigration(name);
      if (!created.name || !created.dirs) {
        console.log('schema.prisma has no changes since the last migration; nothing written');
        return 0;
      }
      console.log(`wrote ${created.dirs.sqlite}/migration.sql\nwrote ${created.dirs.postgresql}/migration.sql`);
      return 0;
    }
    case 'apply': {
      const url = loadSettings().databaseUrl;
      const { applied } = await applyMigrations(url);
      console.log(applied.length ? `applied to ${redactUrl(url)}: ${applied.join(', ')}` : `${redactUrl(url)} is up to date`);
      return 0;
    }
    case 'check': {
      const changes = await pendingChanges();
      if (changes.sqlite === '' && changes.postgresql === '') {
        console.log('migrations are up to date with schema.prisma');
        return 0;
      }
      console.error('schema.prisma has changes that no migration covers; run npm run db:migration -- <name>');
      if (changes.sqlite) console.error(`-- SQLite:\n${changes.sqlite}`);
      if (changes.postgresql) console.error(`-- PostgreSQL:\n${changes.postgresql}`);
      return 1;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    console.error(`[db] ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`);
    process.exit(1);
  },
);
