// The edge's own answers: every failure is `{"error_code","message","request_id"}` (the
// shape MLflow and Databricks clients read) with the status DESIGN.md gives it. Inside the
// edge a failure is named by its kind (the keys below); on the wire it carries the
// MLflow/Databricks code of that kind (platform/scoring/errors.ts). One table, so codes
// never drift.
import { errorBody } from '../policy/port.ts';
import { oipErrorBody, wireCode } from '../../platform/scoring/errors.ts';

export const EDGE_ERRORS = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SCHEMA_MISMATCH: 422,
  THROTTLED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UPSTREAM_ERROR: 502,
  UPSTREAM_UNREACHABLE: 502,
  NO_RUNNING_VERSION: 503,
  NO_HEALTHY_ENDPOINT: 503,
  EDGE_NOT_READY: 503,
  AUTH_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
} as const;

export type EdgeErrorCode = keyof typeof EDGE_ERRORS;

/** A request the edge answers itself, with a stable code. */
export class EdgeError extends Error {
  /** what went wrong, in the edge's words (the keys of EDGE_ERRORS, or a policy's code) */
  readonly kind: string;
  /** the MLflow/Databricks code the client reads */
  readonly code: string;
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  constructor(code: EdgeErrorCode, message: string, headers?: Record<string, string>);
  constructor(code: string, message: string, headers: Record<string, string> | undefined, status: number);
  constructor(code: string, message: string, headers?: Record<string, string>, status?: number) {
    super(message);
    this.name = 'EdgeError';
    this.kind = code;
    this.code = wireCode(code);
    this.status = status ?? EDGE_ERRORS[code as EdgeErrorCode] ?? 500;
    this.headers = headers;
  }

  body(requestId: string): string {
    return errorBody(this.code, this.message, requestId);
  }

  /** The Open Inference Protocol's error body (`{"error","error_code","request_id"}`). */
  oipBody(requestId: string): string {
    return oipErrorBody(this.code, this.message, requestId);
  }
}
