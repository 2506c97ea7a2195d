// Envoy's access-log service (envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs):
// turns each HTTP access-log entry into the access-log half of an inference exchange
// (request id, status, timings, which sluice/{group}/{version} cluster answered), and reads
// the bodies the `sluice.capture` Lua filter left in the entry's dynamic metadata
// (xds/contract.ts captureScript), so one entry on the long-lived, batched stream carries
// the whole exchange — no ext_proc stream per request.
import type * as grpc from '@grpc/grpc-js';
import type { HTTPAccessLogEntry__Output } from '../proto/generated/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { Duration__Output } from '../proto/generated/google/protobuf/Duration.ts';
import type { Timestamp__Output } from '../proto/generated/google/protobuf/Timestamp.ts';
import type { AccessLogServiceHandlers } from '../proto/generated/envoy/service/accesslog/v3/AccessLogService.ts';
import type { StreamAccessLogsMessage__Output } from '../proto/generated/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import type { StreamAccessLogsResponse } from '../proto/generated/envoy/service/accesslog/v3/StreamAccessLogsResponse.ts';
import { type AccessLogHalf } from './inference-log/join.ts';
import type { Struct__Output } from '../proto/generated/google/protobuf/Struct.ts';
import { CAPTURE_KEY, CAPTURE_METADATA_NAMESPACE, parseClusterName, parsePredictPath } from '../xds/contract.ts';

// proto3 leaves zero fields out of the message, so an absent seconds/nanos is 0
export const durationMs = (d: Duration__Output | null | undefined): number | null =>
  d ? Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6 : null;
export const timestampMs = (t: Timestamp__Output | null | undefined): number | null =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null;


export function accessLogHalf(entry: HTTPAccessLogEntry__Output, now: () => number = Date.now): AccessLogHalf | null {
  const requestId = entry.request?.request_id || entry.request?.request_headers?.['x-request-id'] || '';
  if (!requestId) return null;
  const common = entry.common_properties;
  const cluster = parseClusterName(common?.upstream_cluster);
  const code = entry.response?.response_code?.value;
  const details = entry.response?.response_code_details ?? '';
  const status = typeof code === 'number' && code > 0 ? code : null;
  return {
    requestId,
    group: cluster?.group ?? parsePredictPath(entry.request?.original_path || entry.request?.path),
    version: cluster?.version ?? null,
    startedAt: timestampMs(common?.start_time) ?? now(),
    latencyMs: durationMs(common?.time_to_last_downstream_tx_byte) ?? durationMs(common?.time_to_last_upstream_rx_byte),
    statusCode: status,
    // Envoy's own reason (e.g. upstream_reset_before_response_started) for a failure it produced.
    error: status === null || status >= 500 ? (details && details !== 'via_upstream' ? details : null) : null,
  };
}

/** What the capture filter left in an entry (CAPTURE_METADATA_NAMESPACE). */
export interface CapturedExchange {
  /** the filter's sample draw; undefined when it sent none (the recorder draws then) */
  sampled: boolean | undefined;
  group: string | null;
  version: string | null;
  requestBody: Buffer | null;
  responseBody: Buffer | null;
}

/** Default bound on a decoded body: the largest maxBodyBytes (10 MiB) plus the one byte that says "truncated". */
export const DEFAULT_MAX_CAPTURE_BYTES = 10 * 1024 * 1024 + 1;

const metaString = (s: Struct__Output, key: string): string | null => {
  const v = s.fields?.[key]?.stringValue;
  return typeof v === 'string' && v !== '' ? v : null;
};

/**
 * A base64 body, decoded to at most maxBytes: only the characters that can hold them are
 * read, so an oversized value costs no more than a full one. Buffer.from skips characters
 * outside the alphabet and never throws: malformed text yields what it can, never a crash.
 */
function metaBody(s: Struct__Output, key: string, maxBytes: number): Buffer | null {
  const v = s.fields?.[key]?.stringValue;
  if (typeof v !== 'string') return null;
  const chars = Math.ceil(maxBytes / 3) * 4;
  const buf = Buffer.from(v.length > chars ? v.slice(0, chars) : v, 'base64');
  return buf.length > maxBytes ? buf.subarray(0, maxBytes) : buf;
}

/** The capture filter's namespace of an entry, or null when the filter did not see the request. */
export function capturedExchange(entry: HTTPAccessLogEntry__Output, maxBytes = DEFAULT_MAX_CAPTURE_BYTES): CapturedExchange | null {
  const ns = entry.common_properties?.metadata?.filter_metadata?.[CAPTURE_METADATA_NAMESPACE];
  // present at all = the filter saw the request (an empty Struct arrives without `fields`)
  if (!ns) return null;
  const sampled = ns.fields?.[CAPTURE_KEY.sampled]?.boolValue;
  return {
    sampled: typeof sampled === 'boolean' ? sampled : undefined,
    group: metaString(ns, CAPTURE_KEY.group),
    version: metaString(ns, CAPTURE_KEY.version),
    requestBody: metaBody(ns, CAPTURE_KEY.request, maxBytes),
    responseBody: metaBody(ns, CAPTURE_KEY.response, maxBytes),
  };
}

export interface AccessLogServiceOptions {
  /** bodies are decoded up to this many bytes (the record cuts further to maxBodyBytes) */
  maxCaptureBytes?: number;
  /** an entry that could not be read (logged; the other entries of the message still count) */
  onBadEntry?: (err: Error) => void;
  /** called around each message's entries, so the sink can hand them on together */
  onMessageStart?: () => void;
  onMessageEnd?: () => void;
}

export function createAccessLogService(
  sink: (half: AccessLogHalf, captured: CapturedExchange | null) => void,
  options: AccessLogServiceOptions = {},
): AccessLogServiceHandlers {
  const maxBytes = options.maxCaptureBytes ?? DEFAULT_MAX_CAPTURE_BYTES;
  const onBadEntry = options.onBadEntry ?? ((err: Error) => console.error(`sluice access log: entry skipped: ${err.message}`));
  return {
    StreamAccessLogs(
      call: grpc.ServerReadableStream<StreamAccessLogsMessage__Output, StreamAccessLogsResponse>,
      callback: grpc.sendUnaryData<StreamAccessLogsResponse>,
    ) {
      call.on('data', (msg: StreamAccessLogsMessage__Output) => {
        options.onMessageStart?.();
        for (const entry of msg.http_logs?.log_entry ?? []) {
          // one bad entry must not cost the rest of the batch (nor the stream)
          try {
            const half = accessLogHalf(entry);
            if (half) sink(half, capturedExchange(entry, maxBytes));
          } catch (err) {
            onBadEntry(err instanceof Error ? err : new Error(String(err)));
          }
        }
        options.onMessageEnd?.();
      });
      call.on('end', () => callback(null, {}));
      call.on('error', () => {
        // Envoy went away mid-stream: what arrived is kept, nothing to answer.
      });
    },
  };
}
