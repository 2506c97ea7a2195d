// Typed errors of the model runtime. Scoring errors carry the stable code and HTTP status
// that a client of `/invocations` (or the edge reusing the validation) sees; model errors
// are what loading or inspecting an artifact can fail with, for the registry to report.

export type ScoringErrorCode =
  | 'BAD_REQUEST' // malformed JSON or a body in none of the scoring formats
  | 'NOT_FOUND' // no such endpoint
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE' // body over the byte limit, or more rows than the row limit
  | 'UNSUPPORTED_MEDIA_TYPE' // not application/json
  | 'SCHEMA_MISMATCH' // columns, counts or value types that do not match the signature
  | 'NOT_READY' // the model is still loading
  | 'INTERNAL'; // the model itself failed

const STATUS: Record<ScoringErrorCode, number> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SCHEMA_MISMATCH: 422,
  NOT_READY: 503,
  INTERNAL: 500,
};

export class ScoringError extends Error {
  readonly code: ScoringErrorCode;
  readonly status: number;
  /** Where the problem is, for clients that want to point at it: {column, row, ...}. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ScoringErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ScoringError';
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }

  toJSON(): { error: { code: ScoringErrorCode; message: string; details?: Record<string, unknown> } } {
    return this.details === undefined
      ? { error: { code: this.code, message: this.message } }
      : { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export type ModelErrorCode =
  | 'ARTIFACT_NOT_FOUND' // no file at the artifact path
  | 'INVALID_ARTIFACT' // the file is not a model ONNX Runtime can load
  | 'SIGNATURE_REQUIRED' // the graph does not name its columns, so a signature must be given
  | 'INVALID_SIGNATURE'; // the signature is malformed or does not fit the graph's inputs

export class ModelError extends Error {
  readonly code: ModelErrorCode;
  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelError';
    this.code = code;
  }
}
