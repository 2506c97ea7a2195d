// The errors a scoring request can fail with, as MLflow's scoring server and Databricks
// Model Serving name them, and the two bodies they are written as: MLflow's
// `{"error_code", "message"}` (plus `request_id` at the edge) and the Open Inference
// Protocol's `{"error": "<message>"}` (with the same `error_code` beside it, so a caller of
// either protocol can branch on a stable code). One class for the runtime and the edge, so
// the two can never name the same failure differently.

/** Databricks / MLflow error codes (mlflow/protos/databricks.proto) that Sluice answers with. */
export type ProtocolErrorCode =
  | 'BAD_REQUEST' // a body in none of the accepted shapes; a content type not served
  | 'MALFORMED_REQUEST' // a body that could not be read as it arrived
  | 'INVALID_PARAMETER_VALUE' // values that do not fit the model's signature (or a bad `params`)
  | 'RESOURCE_DOES_NOT_EXIST' // no such service, model or version
  | 'ENDPOINT_NOT_FOUND' // no such path, or not with that method
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'REQUEST_LIMIT_EXCEEDED' // throttled
  | 'RESOURCE_LIMIT_EXCEEDED' // body or row count over the limit
  | 'DEADLINE_EXCEEDED'
  | 'TEMPORARILY_UNAVAILABLE' // not loaded yet, stopped, no running version, unreachable
  | 'INTERNAL_ERROR';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly status: number;
  /** Where the problem is ({column, row, input, ...}) for clients that want to point at it. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ProtocolErrorCode, status: number, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

// The usual status of each code; a caller may pick another (415 is BAD_REQUEST too).
const STATUS: Record<ProtocolErrorCode, number> = {
  BAD_REQUEST: 400,
  MALFORMED_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 422,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_LIMIT_EXCEEDED: 413,
  DEADLINE_EXCEEDED: 504,
  TEMPORARILY_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

export const protocolError = (code: ProtocolErrorCode, message: string, details?: Record<string, unknown>, status?: number) =>
  new ProtocolError(code, status ?? STATUS[code], message, details);

/** `{"error_code","message"[,"details"][,"request_id"]}`: what MLflow and Databricks clients read. */
export function mlflowErrorBody(code: string, message: string, requestId?: string, details?: Record<string, unknown>): string {
  const body: Record<string, unknown> = { error_code: code, message };
  if (details !== undefined) body.details = details;
  if (requestId !== undefined) body.request_id = requestId;
  return JSON.stringify(body);
}

/** The Open Inference Protocol's `{"error": "<message>"}`, with the stable code beside it. */
export function oipErrorBody(code: string, message: string, requestId?: string): string {
  const body: Record<string, unknown> = { error: message, error_code: code };
  if (requestId !== undefined) body.request_id = requestId;
  return JSON.stringify(body);
}

/**
 * Reads an error body of either shape (a runtime's answer, an xDS direct response) back
 * into code and message; null when it is neither.
 */
export function readErrorBody(text: string): { code: string; message: string; details?: Record<string, unknown> } | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const details = typeof o.details === 'object' && o.details !== null && !Array.isArray(o.details) ? (o.details as Record<string, unknown>) : undefined;
  if (typeof o.error_code === 'string') {
    const message = typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : '';
    return details ? { code: o.error_code, message, details } : { code: o.error_code, message };
  }
  return null;
}

/**
 * The wire code of a data-plane failure named by its kind (the names the policy code, the
 * xDS routes and the edge use inside Sluice) — MLflow/Databricks codes, which pass as they are.
 */
const WIRE: Record<string, ProtocolErrorCode> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'PERMISSION_DENIED',
  NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  VERSION_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  METHOD_NOT_ALLOWED: 'ENDPOINT_NOT_FOUND',
  REQUEST_TIMEOUT: 'DEADLINE_EXCEEDED',
  PAYLOAD_TOO_LARGE: 'RESOURCE_LIMIT_EXCEEDED',
  UNSUPPORTED_MEDIA_TYPE: 'BAD_REQUEST',
  SCHEMA_MISMATCH: 'INVALID_PARAMETER_VALUE',
  THROTTLED: 'REQUEST_LIMIT_EXCEEDED',
  // a version's max concurrency (gateway/ratelimit/admission.ts): a 429 like the QPS limit
  CONCURRENCY_LIMIT: 'REQUEST_LIMIT_EXCEEDED',
  HEADERS_TOO_LARGE: 'BAD_REQUEST',
  INTERNAL: 'INTERNAL_ERROR',
  UPSTREAM_ERROR: 'INTERNAL_ERROR',
  UPSTREAM_UNREACHABLE: 'TEMPORARILY_UNAVAILABLE',
  NO_RUNNING_VERSION: 'TEMPORARILY_UNAVAILABLE',
  NO_HEALTHY_ENDPOINT: 'TEMPORARILY_UNAVAILABLE',
  EDGE_NOT_READY: 'TEMPORARILY_UNAVAILABLE',
  AUTH_UNAVAILABLE: 'TEMPORARILY_UNAVAILABLE',
  UNAVAILABLE: 'TEMPORARILY_UNAVAILABLE',
  NOT_READY: 'TEMPORARILY_UNAVAILABLE',
  UPSTREAM_TIMEOUT: 'DEADLINE_EXCEEDED',
};

export const wireCode = (kind: string): string => WIRE[kind] ?? kind;
