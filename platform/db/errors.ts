// Typed errors of the database layer, with stable codes, and the one check domain code
// needs on Prisma's errors (the same error class comes from the shared Prisma runtime for
// both generated clients, so `instanceof` works whichever provider threw).
import { Prisma } from '../../prisma/generated/sqlite/client.ts';

export type DatabaseErrorCode =
  | 'DB_URL_UNSUPPORTED' // DATABASE_URL is neither file: nor postgres(ql)://
  | 'DB_MIGRATION_FAILED' // a migration could not be applied (database left as the engine left it)
  | 'DB_MIGRATIONS_MISSING' // the migrations folder is absent or empty
  | 'DB_MIGRATION_DRIFT'; // creating a migration found nothing coherent to diff from

export class DatabaseError extends Error {
  readonly code: DatabaseErrorCode;
  constructor(code: DatabaseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseError';
    this.code = code;
  }
}

/** Prisma's known request error with the given code (P2002 unique violation, P2025 not found, …). */
export function isPrismaError(err: unknown, code: string): err is Prisma.PrismaClientKnownRequestError {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === code;
}

/** A unique constraint violation (P2002), on SQLite and PostgreSQL alike. */
export const isUniqueViolation = (err: unknown) => isPrismaError(err, 'P2002');
