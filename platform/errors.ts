// Typed errors shared by every stage. The code is stable: GraphQL puts it in
// `extensions.code`, the edge maps it to an HTTP status, tests assert on it.

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  /** a peer the answer depends on (Prometheus, ...) cannot be reached */
  | 'UNAVAILABLE'
  /** the control plane's database cannot be reached right now (retryable) */
  | 'DATABASE_UNAVAILABLE'
  | 'TOO_MANY_REQUESTS'
  /** the caller took too long to send its request */
  | 'REQUEST_TIMEOUT'
  | 'INTERNAL';

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
    this.details = details;
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new SluiceError('BAD_USER_INPUT', message, details);
export const notFound = (message: string) => new SluiceError('NOT_FOUND', message);
export const conflict = (message: string) => new SluiceError('CONFLICT', message);
export const forbidden = (message: string) => new SluiceError('FORBIDDEN', message);
export const unauthenticated = (message: string) => new SluiceError('UNAUTHENTICATED', message);
