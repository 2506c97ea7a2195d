// Prisma CLI configuration (used by `prisma generate`, and by production users who run the
// `prisma` CLI themselves on the same migration folders). The schema carries no URL.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'file:./.sluice/sluice.db' },
});
