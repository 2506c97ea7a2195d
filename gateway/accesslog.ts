// Envoy's access-log service (envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs):
// turns each HTTP access-log entry into the access-log half of an inference exchange
// (request id, status, timings, which sluice/{group}/{version} cluster answered).
import type * as grpc from '@grpc/grpc-js';
import type { HTTPAccessLogEntry__Output } from '../proto/generated/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { Duration__Output } from '../proto/generated/google/protobuf/Duration.ts';
import type { Timestamp__Output } from '../proto/generated/google/protobuf/Timestamp.ts';
import type { AccessLogServiceHandlers } from '../proto/generated/envoy/service/accesslog/v3/AccessLogService.ts';
import type { StreamAccessLogsMessage__Output } from '../proto/generated/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import type { StreamAccessLogsResponse } from '../proto/generated/envoy/service/accesslog/v3/StreamAccessLogsResponse.ts';
import { type AccessLogHalf } from './inference-log/join.ts';
import { parseClusterName, parsePredictPath } from '../xds/contract.ts';

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

export function createAccessLogService(sink: (half: AccessLogHalf) => void): AccessLogServiceHandlers {
  return {
    StreamAccessLogs(
      call: grpc.ServerReadableStream<StreamAccessLogsMessage__Output, StreamAccessLogsResponse>,
      callback: grpc.sendUnaryData<StreamAccessLogsResponse>,
    ) {
      call.on('data', (msg: StreamAccessLogsMessage__Output) => {
        for (const entry of msg.http_logs?.log_entry ?? []) {
          const half = accessLogHalf(entry);
          if (half) sink(half);
        }
      });
      call.on('end', () => callback(null, {}));
      call.on('error', () => {
        // Envoy went away mid-stream: what arrived is kept, nothing to answer.
      });
    },
  };
}
