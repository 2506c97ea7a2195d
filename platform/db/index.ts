// The database layer's public surface: open a database for a DATABASE_URL, bring its schema
// up to date, recognise Prisma's errors.
export { createDatabase, Prisma, PrismaClient, type Database, type DatabaseOptions, type Provider } from './client.ts';
export { applyMigrations } from './migrate.ts';
export { DatabaseError, isPrismaError, isUniqueViolation, type DatabaseErrorCode } from './errors.ts';
export { parseDatabaseUrl, redactUrl } from './url.ts';
export { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from './unavailable.ts';
