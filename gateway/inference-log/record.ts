// The inference record: one line per answered /predict request in the inference table, and
// how a captured exchange (bodies, status, timing) becomes one under a version's settings.
import type { InferenceTableSettings } from '../policy/port.ts';

export interface InferenceRecord {
  request_id: string;
  client_request_id: string | null;
  group: string;
  version: string;
  /** When the request arrived, ISO 8601 UTC; also decides the dt=/hour= partition. */
  timestamp: string;
  latency_ms: number | null;
  status_code: number | null;
  /** Request body as text (the /predict JSON), cut at maxBodyBytes. */
  request: string | null;
  response: string | null;
  error: string | null;
  sampling_fraction: number;
  request_truncated: boolean;
  response_truncated: boolean;
  /**
   * The protocol of `request`/`response`: absent for MLflow scoring (/predict); "oip" for an
   * Open Inference Protocol infer call (`{"inputs": [tensors]}` in, `{"outputs": [tensors]}`
   * out: platform/scoring/oip.ts reads the request into rows).
   */
  protocol?: 'oip';
  /** Present (true) only on the answer of a mirrored copy: the shadow version answered nobody. */
  shadow?: true;
}

/** What a data plane (Envoy capture or the local edge) knows about one answered request. */
export interface ExchangeInput {
  requestId: string;
  /** Taken from the request body's client_request_id when not given. */
  clientRequestId?: string | null;
  group: string;
  version: string;
  /** Arrival time: Date or epoch milliseconds. */
  startedAt: Date | number;
  latencyMs: number | null;
  statusCode: number | null;
  requestBody?: Buffer | string | null;
  responseBody?: Buffer | string | null;
  /** An error the data plane saw itself (upstream reset, timeout); else derived from a 4xx/5xx body. */
  error?: string | null;
  /** absent: MLflow scoring; 'oip': an Open Inference Protocol infer call */
  protocol?: 'oip';
  /** A mirrored copy's answer (shadow traffic): recorded with `"shadow": true`. */
  shadow?: boolean;
  /**
   * The data plane drew the sample itself (Envoy's capture filter, before copying any body):
   * true = record it without drawing again, false = not sampled. Absent: the recorder draws.
   */
  sampled?: boolean;
}

function cut(body: Buffer | string | null | undefined, max: number): { text: string | null; truncated: boolean } {
  if (body === null || body === undefined) return { text: null, truncated: false };
  // A string that fits goes through as is: no encode/decode round trip on every record.
  if (typeof body === 'string' && (body.length * 3 <= max || Buffer.byteLength(body, 'utf8') <= max)) return { text: body, truncated: false };
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (buf.length <= max) return { text: buf.toString('utf8'), truncated: false };
  // Step back to a UTF-8 character boundary so the cut text stays valid.
  let end = max;
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return { text: buf.subarray(0, end).toString('utf8'), truncated: true };
}

function parseJsonObject(text: string | null, truncated: boolean): Record<string, unknown> | undefined {
  if (text === null || truncated || text.length === 0 || text.trimStart()[0] !== '{') return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function clientRequestIdOf(request: Record<string, unknown> | undefined): string | null {
  const v = request?.client_request_id;
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

function errorOf(status: number | null, res: { text: string | null; truncated: boolean }): string | null {
  // Only a failed answer is parsed for its error: a 2xx body is never read again.
  if (status === null || status < 400) return null;
  const body = parseJsonObject(res.text, res.truncated);
  // MLflow/Databricks `{"error_code","message"}`, OIP `{"error": "...", "error_code"}`
  if (body && typeof body.error_code === 'string') {
    const message = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : '';
    return message ? `${body.error_code}: ${message}` : body.error_code;
  }
  const e = body?.error;
  if (typeof e === 'object' && e !== null) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    const parts = [typeof code === 'string' ? code : undefined, typeof message === 'string' ? message : undefined].filter(Boolean);
    if (parts.length) return parts.join(': ');
  }
  return `HTTP ${status}`;
}

export function buildInferenceRecord(input: ExchangeInput, settings: InferenceTableSettings, samplingFraction: number): InferenceRecord {
  const req = cut(input.requestBody, settings.maxBodyBytes);
  const res = cut(input.responseBody, settings.maxBodyBytes);
  const started = typeof input.startedAt === 'number' ? new Date(input.startedAt) : input.startedAt;
  return {
    request_id: input.requestId,
    client_request_id: input.clientRequestId ?? clientRequestIdOf(parseJsonObject(req.text, req.truncated)),
    group: input.group,
    version: input.version,
    timestamp: started.toISOString(),
    latency_ms: input.latencyMs === null ? null : Math.round(input.latencyMs * 1000) / 1000,
    status_code: input.statusCode,
    request: req.text,
    response: res.text,
    error: input.error ?? errorOf(input.statusCode, res),
    sampling_fraction: samplingFraction,
    request_truncated: req.truncated,
    response_truncated: res.truncated,
    ...(input.protocol ? { protocol: input.protocol } : {}),
    ...(input.shadow ? { shadow: true as const } : {}),
  };
}

/** `inference-logs/{group}/{version}/dt=YYYY-MM-DD/hour=HH/` for a record (UTC). */
// toISOString's own form (what every record carries): the date and hour are read off it as is
const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;

export function partitionPrefix(record: Pick<InferenceRecord, 'group' | 'version' | 'timestamp'>): string {
  const ts = record.timestamp;
  // (days past the 28th go through Date, which knows the month lengths)
  if (UTC_ISO.test(ts) && ts.slice(5, 7) >= '01' && ts.slice(5, 7) <= '12' && ts.slice(8, 10) >= '01' && ts.slice(8, 10) <= '28' && ts.slice(11, 13) <= '23') {
    return `inference-logs/${record.group}/${record.version}/dt=${ts.slice(0, 10)}/hour=${ts.slice(11, 13)}/`;
  }
  const t = new Date(ts);
  const iso = Number.isNaN(t.getTime()) ? new Date(0).toISOString() : t.toISOString();
  return `inference-logs/${record.group}/${record.version}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}
