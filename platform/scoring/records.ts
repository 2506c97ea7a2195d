// A recorded request (an inference-log record's `request` text) back into feature rows,
// whichever protocol it spoke, for the inference table: one {column: value} object per row.
// MLflow bodies are read by the same decoder the runtime uses (JSON or CSV); OIP bodies are
// read tensor by tensor — one tensor per column gives its name, one [N, k] matrix needs the
// model's column names (`columns`), else its columns are named `{tensor}[j]`.
// Returns null for a request that cannot be read (it was refused, or cut at the size limit).
import { ProtocolError } from './errors.ts';
import { decodeMlflowRequest, type Frame } from './mlflow.ts';
import { decodeInferRequest } from './oip.ts';

export type FeatureRow = Record<string, unknown>;

function frameFeatures(frame: Frame, columns?: readonly string[]): FeatureRow[] {
  switch (frame.kind) {
    case 'table': {
      const names = frame.columns ?? (frame.rows[0] ?? []).map((_, j) => columns?.[j] ?? String(j));
      return frame.rows.map((row) => Object.fromEntries(names.map((n, j) => [n, row[j]])));
    }
    case 'records':
      return frame.records.map((r) => ({ ...r }));
    case 'columnar':
      return Array.from({ length: frame.count }, (_, r) => Object.fromEntries(frame.columns.map((c, j) => [c, (frame.lists[j] as unknown[])[r]])));
    case 'list':
      return frame.items.map((item) => {
        if (Array.isArray(item)) return Object.fromEntries(item.map((v, j) => [columns?.[j] ?? String(j), v]));
        return { [columns?.[0] ?? '0']: item };
      });
  }
}

export function requestFeatures(request: string, protocol: 'mlflow' | 'oip' = 'mlflow', options: { contentType?: 'json' | 'csv'; columns?: readonly string[] } = {}): FeatureRow[] | null {
  try {
    if (protocol === 'mlflow') return frameFeatures(decodeMlflowRequest(request, options.contentType ?? (request.trimStart().startsWith('{') ? 'json' : 'csv')).frame, options.columns);
    const infer = decodeInferRequest(JSON.parse(request));
    const only = infer.inputs.length === 1 ? infer.inputs[0] : undefined;
    if (only && only.shape.length === 2 && (only.shape[1] ?? 0) > 1) {
      const [n, k] = only.shape as [number, number];
      return Array.from({ length: n }, (_, r) =>
        Object.fromEntries(Array.from({ length: k }, (_, j) => [options.columns?.[j] ?? `${only.name}[${j}]`, only.data[r * k + j]])),
      );
    }
    const n = infer.inputs[0]?.shape[0] ?? 0;
    return Array.from({ length: n }, (_, r) => Object.fromEntries(infer.inputs.map((t) => [t.name, t.data[r]])));
  } catch (err) {
    if (err instanceof ProtocolError || err instanceof SyntaxError) return null;
    throw err;
  }
}
