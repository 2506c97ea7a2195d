// MLflow's scoring formats for the runtime: the shared reading of a body
// (platform/scoring/mlflow.ts, which the edge runs too) followed by the signature step.
// `parseScoringRequest` takes an already JSON-parsed body and returns its rows in the
// signature's column order, or throws a ProtocolError (400 / 413 / 422) naming the field,
// column and row at fault. Pure: no I/O, no model.
import type { SignatureColumn } from '../platform/model-signature.ts';
import { DEFAULT_MAX_ROWS, decodeMlflowJson, frameRows, type Cell, type MlflowFormat, type ScoringLimits } from '../platform/scoring/mlflow.ts';

export { DEFAULT_MAX_ROWS, type Cell, type ScoringLimits } from '../platform/scoring/mlflow.ts';
export type ScoringFormat = MlflowFormat;

export interface ScoringRequest {
  format: ScoringFormat;
  /** One array per row, values in the signature's input order. */
  rows: Cell[][];
  params?: Record<string, unknown>;
}

export function parseScoringRequest(
  body: unknown,
  signature: { readonly inputs: readonly SignatureColumn[] },
  limits: ScoringLimits = { maxRows: DEFAULT_MAX_ROWS },
): ScoringRequest {
  const request = decodeMlflowJson(body);
  const out: ScoringRequest = { format: request.format, rows: frameRows(request, signature, limits) };
  if (request.params) out.params = request.params;
  return out;
}
