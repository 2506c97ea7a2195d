// Typed errors of the model runtime. Scoring errors carry the stable code and HTTP status
// that a client of `/invocations` (or of the edge) sees; model errors are what loading or
// inspecting an artifact can fail with, for the registry to report.

// Scoring errors are the protocol errors every data-plane stage shares (MLflow/Databricks
// codes, one body shape): the runtime and the edge answer the same failure the same way.
export { ProtocolError as ScoringError, protocolError, type ProtocolErrorCode as ScoringErrorCode } from '../platform/scoring/errors.ts';

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
