// Maps every error a resolver can throw to a GraphQL error with a stable
// `extensions.code`; unexpected errors are logged and masked.
import { PothosValidationError } from '@pothos/core';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { SluiceError } from '../../platform/errors.ts';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../../platform/db/unavailable.ts';

function prismaCode(error: unknown): string | null {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    const code = (error as { code: string }).code;
    if (code === 'P2002') return 'CONFLICT';
    if (code === 'P2025') return 'NOT_FOUND';
    if (code === 'P2003') return 'CONFLICT';
  }
  return null;
}

/** Errors of other parts (MLflow, the model runtime) that know their control-plane code. */
function asSluiceError(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && 'toSluiceError' in error && typeof (error as { toSluiceError: unknown }).toSluiceError === 'function') {
    return (error as { toSluiceError(): unknown }).toSluiceError();
  }
  return error;
}

export function formatError(formatted: GraphQLFormattedError, error: unknown, log: (e: unknown) => void = console.error): GraphQLFormattedError {
  const original = asSluiceError(unwrapResolverError(error));
  if (original instanceof SluiceError) {
    return { ...formatted, message: original.message, extensions: { ...formatted.extensions, code: original.code, ...(original.details ?? {}) } };
  }
  // an argument refused by its schema (the validation plugin's InputValidationError names
  // itself PothosValidationError, so match the class, not the name)
  if (original instanceof PothosValidationError) {
    return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_USER_INPUT' } };
  }
  // PostgreSQL stopped or frozen: a stable, retryable code instead of an internal error
  if (isDatabaseUnavailable(original)) {
    return { message: DATABASE_UNAVAILABLE_MESSAGE, locations: formatted.locations, path: formatted.path, extensions: { code: 'DATABASE_UNAVAILABLE' } };
  }
  const prisma = prismaCode(original);
  if (prisma === 'CONFLICT') return { ...formatted, message: 'this conflicts with an existing record', extensions: { code: 'CONFLICT' } };
  if (prisma === 'NOT_FOUND') return { ...formatted, message: 'not found', extensions: { code: 'NOT_FOUND' } };
  // an operation over the limits (limits.ts): Apollo files it as a validation failure;
  // it keeps its own code so clients can tell "too big" from "wrong"
  if (formatted.extensions?.limit !== undefined && formatted.extensions?.code === 'GRAPHQL_VALIDATION_FAILED') {
    return { ...formatted, extensions: { ...formatted.extensions, code: 'QUERY_TOO_COMPLEX' } };
  }
  const code = formatted.extensions?.code;
  if (code === 'INTERNAL_SERVER_ERROR' || code === undefined) {
    if (!(original instanceof GraphQLError)) log(original);
    return { message: 'internal error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL' } };
  }
  return formatted;
}
