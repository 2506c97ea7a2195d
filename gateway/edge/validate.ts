// What the edge checks in a /predict body before it spends a backend call on it: exactly
// what the runtime checks before it looks at its model — the same code
// (platform/scoring/mlflow.ts), so the edge refuses a body only where the runtime would,
// with the same status, code and message. Whether columns and cells fit the model is the
// runtime's call (it knows the signature) and comes back through the edge as 422. The edge
// adds only its own field: `client_request_id`.
import { ProtocolError } from '../../platform/scoring/errors.ts';
import { decodeMlflowRequest, scoringContentType, type MlflowFormat, type ScoringContent } from '../../platform/scoring/mlflow.ts';
import { EdgeError } from './errors.ts';

const MAX_CLIENT_REQUEST_ID = 256;

export interface PredictBody {
  clientRequestId: string | null;
  format: MlflowFormat;
  /** rows in the request */
  rows: number;
}

export const asEdgeError = (e: ProtocolError) => new EdgeError(e.code, e.message, undefined, e.status);

/** The content type of a scoring request (JSON or CSV, as MLflow's server takes them); else EdgeError 415. */
export function scoringContent(header: string | undefined): ScoringContent {
  try {
    return scoringContentType(header);
  } catch (err) {
    throw err instanceof ProtocolError ? asEdgeError(err) : err;
  }
}

/** Reads the raw body as the runtime will. Throws EdgeError 400. */
export function parsePredictBody(raw: Buffer, content: ScoringContent = 'json'): { body: PredictBody; text: string } {
  const text = raw.toString('utf8');
  let decoded;
  try {
    decoded = decodeMlflowRequest(text, content);
  } catch (err) {
    throw err instanceof ProtocolError ? asEdgeError(err) : err;
  }
  let clientRequestId: string | null = null;
  const crid = decoded.body?.client_request_id;
  if (crid !== undefined && crid !== null) {
    if (typeof crid !== 'string' && typeof crid !== 'number') throw new EdgeError('BAD_REQUEST', 'client_request_id must be a string');
    clientRequestId = String(crid);
    if (clientRequestId.length > MAX_CLIENT_REQUEST_ID) throw new EdgeError('BAD_REQUEST', `client_request_id is longer than ${MAX_CLIENT_REQUEST_ID} characters`);
  }
  return { body: { clientRequestId, format: decoded.format, rows: decoded.rows }, text };
}
