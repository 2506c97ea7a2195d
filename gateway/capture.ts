// Inference capture from Envoy. The pushed configuration captures with the `sluice.capture`
// Lua filter and the access log alone (xds/contract.ts captureScript): each ALS entry then
// carries the bodies and becomes a record at once. ext_proc
// (envoy.service.ext_proc.v3.ExternalProcessor/Process, one stream per request: request
// headers, body, response headers, body, each answered "no change") stays served for
// Envoys configured to use it (an Envoy whose Lua filter lacks filterContext), whose
// processor half is joined with the access-log half by request id. EnvoyCapture wires
// ext_proc + ALS → join → InferenceRecorder.
import type * as grpc from '@grpc/grpc-js';
import { createAccessLogService } from './accesslog.ts';
import type { AccessLogServiceHandlers } from '../proto/generated/envoy/service/accesslog/v3/AccessLogService.ts';
import type { HeaderMap__Output } from '../proto/generated/envoy/config/core/v3/HeaderMap.ts';
import type { ExternalProcessorHandlers } from '../proto/generated/envoy/service/ext_proc/v3/ExternalProcessor.ts';
import type { ProcessingRequest__Output } from '../proto/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../proto/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { Struct__Output } from '../proto/generated/google/protobuf/Struct.ts';
import { headerValueOf } from './envoy-headers.ts';
import { ExchangeJoiner, type ProcessorHalf } from './inference-log/join.ts';
import type { ExchangeInput } from './inference-log/record.ts';
import type { InferenceRecorder } from './inference-log/recorder.ts';
import { METADATA_NAMESPACE, PIN_HEADER, parseClusterName, parsePredictPath } from '../xds/contract.ts';

export function headerMapToObject(map: HeaderMap__Output | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of map?.headers ?? []) {
    out[(h.key ?? '').toLowerCase()] = headerValueOf(h);
  }
  return out;
}

const structString = (s: Struct__Output | undefined, field: string): string | null => {
  const v = s?.fields?.[field];
  return v && typeof v.stringValue === 'string' && v.stringValue !== '' ? v.stringValue : null;
};
const structStruct = (s: Struct__Output | undefined, field: string): Struct__Output | undefined =>
  s?.fields?.[field]?.structValue;

/**
 * The `sluice` namespace of an Envoy Metadata that arrived as an attribute value: Envoy
 * turns the message into a Struct through its JSON form, so the map is `filterMetadata`
 * (accepting the proto name too costs nothing).
 */
function sluiceOfMetadataValue(metadata: Struct__Output | undefined): Struct__Output | undefined {
  const filterMetadata = structStruct(metadata, 'filterMetadata') ?? structStruct(metadata, 'filter_metadata');
  return structStruct(filterMetadata, METADATA_NAMESPACE);
}

/**
 * Group/version the route or cluster names. Sources, first found wins: dynamic metadata
 * forwarded in `metadata_context` (namespace `sluice`), then the requested attributes
 * (EXT_PROC_ATTRIBUTES): the route's own metadata (xds/translate.ts puts the group, and on
 * a pin route the version, there) and the picked cluster `sluice/{group}/{version}`.
 */
function routeNames(msg: ProcessingRequest__Output): { group: string | null; version: string | null } {
  const meta = msg.metadata_context?.filter_metadata?.[METADATA_NAMESPACE];
  let group = structString(meta, 'group');
  let version = structString(meta, 'version');
  for (const attrs of Object.values(msg.attributes ?? {})) {
    const route = sluiceOfMetadataValue(structStruct(attrs, 'xds.route_metadata'));
    group ??= structString(route, 'group');
    version ??= structString(route, 'version');
    const cluster = parseClusterName(structString(attrs, 'xds.cluster_name'));
    if (cluster) {
      group ??= cluster.group;
      version ??= cluster.version;
    }
  }
  return { group, version };
}

class Body {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly cap: number) {}
  add(b: Buffer): void {
    if (this.size >= this.cap) return;
    const part = b.length > this.cap - this.size ? b.subarray(0, this.cap - this.size) : b;
    this.chunks.push(part);
    this.size += part.length;
  }
  get seen(): boolean {
    return this.chunks.length > 0;
  }
  value(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface ExternalProcessorOptions {
  /** Bodies are kept up to this many bytes (the record cuts further to maxBodyBytes). */
  maxCaptureBytes?: number;
  now?: () => number;
}

export function createExternalProcessorService(sink: (half: ProcessorHalf) => void, options: ExternalProcessorOptions = {}): ExternalProcessorHandlers {
  const cap = options.maxCaptureBytes ?? 10 * 1024 * 1024 + 1;
  const now = options.now ?? Date.now;
  return {
    Process(call: grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>) {
      let requestId = '';
      let group: string | null = null;
      let version: string | null = null;
      let status: number | null = null;
      let startedAt = now();
      const reqBody = new Body(cap);
      const resBody = new Body(cap);
      let done = false;
      const finish = (error: string | null) => {
        if (done || !requestId) return;
        done = true;
        sink({
          requestId,
          group,
          version,
          startedAt,
          endedAt: now(),
          statusCode: status,
          requestBody: reqBody.seen ? reqBody.value() : null,
          responseBody: resBody.seen ? resBody.value() : null,
          error,
        });
      };
      const reply = (msg: ProcessingRequest__Output, res: ProcessingResponse) => {
        if (!msg.observability_mode && call.writable) call.write(res);
      };

      call.on('data', (msg: ProcessingRequest__Output) => {
        const names = routeNames(msg);
        group ??= names.group;
        version ??= names.version;
        switch (msg.request) {
          case 'request_headers': {
            startedAt = now();
            const h = headerMapToObject(msg.request_headers?.headers);
            requestId = h['x-request-id'] ?? '';
            group ??= parsePredictPath(h[':path']);
            version ??= h[PIN_HEADER] || null;
            reply(msg, { request_headers: {} });
            break;
          }
          case 'request_body':
            reqBody.add(msg.request_body?.body ?? Buffer.alloc(0));
            reply(msg, { request_body: {} });
            break;
          case 'response_headers': {
            const h = headerMapToObject(msg.response_headers?.headers);
            const code = Number(h[':status']);
            status = Number.isInteger(code) && code > 0 ? code : null;
            // The answering version names itself; that beats a pin the client asked for.
            if (h[PIN_HEADER]) version = h[PIN_HEADER];
            reply(msg, { response_headers: {} });
            if (msg.response_headers?.end_of_stream) finish(null);
            break;
          }
          case 'response_body':
            resBody.add(msg.response_body?.body ?? Buffer.alloc(0));
            reply(msg, { response_body: {} });
            if (msg.response_body?.end_of_stream) finish(null);
            break;
          case 'request_trailers':
            reply(msg, { request_trailers: {} });
            break;
          case 'response_trailers':
            reply(msg, { response_trailers: {} });
            finish(null);
            break;
          default:
            break;
        }
      });
      call.on('end', () => {
        finish(status === null ? 'stream ended before a response' : null);
        call.end();
      });
      call.on('error', () => finish('ext_proc stream broken'));
      call.on('cancelled', () => finish('ext_proc stream cancelled'));
    },
  };
}

export interface EnvoyCaptureOptions {
  recorder: InferenceRecorder;
  joinTimeoutMs?: number;
  maxCaptureBytes?: number;
  /** A record that could not be written (spool failure); default: a line on stderr. */
  onError?: (err: Error) => void;
  now?: () => number;
}

/** ext_proc + access log → join by request id → InferenceRecorder. */
export class EnvoyCapture {
  readonly joiner: ExchangeJoiner;
  readonly processor: ExternalProcessorHandlers;
  readonly accessLog: AccessLogServiceHandlers;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** exchanges completed by the access-log message being read: recorded together at its end */
  private collecting: ExchangeInput[] | null = null;
  unroutable = 0;

  constructor(options: EnvoyCaptureOptions) {
    this.joiner = new ExchangeJoiner({
      timeoutMs: options.joinTimeoutMs,
      now: options.now,
      onUnroutable: () => {
        this.unroutable++;
      },
      onExchange: (ex) => {
        if (this.collecting) {
          this.collecting.push(ex);
          return;
        }
        const onError = options.onError ?? ((err: Error) => console.error(`sluice capture: inference record ${ex.requestId} not written: ${err.message}`));
        this.track(options.recorder.record(ex).catch((err: unknown) => onError(err as Error)));
      },
    });
    this.processor = createExternalProcessorService((h) => this.joiner.addProcessorHalf(h), {
      maxCaptureBytes: options.maxCaptureBytes,
      now: options.now,
    });
    this.accessLog = createAccessLogService(
      (half, captured) => {
        if (captured) {
          // the entry is the whole exchange: its processor half is in it, so the join
          // completes now (and a late ext_proc half for the same request is dropped)
          this.joiner.addProcessorHalf({
            requestId: half.requestId,
            group: captured.group,
            version: captured.version,
            startedAt: half.startedAt,
            endedAt: half.startedAt + (half.latencyMs ?? 0),
            statusCode: half.statusCode,
            requestBody: captured.requestBody,
            responseBody: captured.responseBody,
            error: null,
            ...(captured.sampled !== undefined ? { sampled: captured.sampled } : {}),
          });
        }
        this.joiner.addAccessLogHalf(half);
      },
      {
        maxCaptureBytes: options.maxCaptureBytes,
        // one spool write for every record an access-log message completes (up to ~100 a message)
        onMessageStart: () => {
          this.collecting = [];
        },
        onMessageEnd: () => {
          const batch = this.collecting ?? [];
          this.collecting = null;
          if (batch.length === 0) return;
          const onError = options.onError ?? ((err: Error) => console.error(`sluice capture: ${batch.length} inference record(s) not written: ${err.message}`));
          this.track(options.recorder.recordMany(batch).catch((err: unknown) => onError(err as Error)));
        },
      },
    );
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Emits every half-joined request now and waits until their records are written. */
  async flush(): Promise<void> {
    this.joiner.flush();
    await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.joiner.close();
    await Promise.all([...this.inFlight]);
  }
}
