// Inference capture as Envoy drives it: ext_proc Process streams (buffered mode) and ALS
// StreamAccessLogs messages built from the Envoy protos, joined by request id into exactly
// one record per request in the object store, including when one half never comes; and the
// capture the pushed configuration uses now — the `sluice.capture` Lua filter's dynamic
// metadata in the access-log entry alone — making the same records.
import type * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HTTPAccessLogEntry } from '../../proto/generated/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { ProcessingRequest } from '../../proto/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse__Output } from '../../proto/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { StaticPolicySource } from '../../gateway/policy/port.ts';
import { CAPTURE_KEY, CAPTURE_METADATA_NAMESPACE, METADATA_NAMESPACE } from '../../xds/contract.ts';
import type { Value } from '../../proto/generated/google/protobuf/Value.ts';
import { capturedExchange } from '../../gateway/accesslog.ts';
import { demoPolicies, readRecords, startTestGateway, version, type TestGateway } from './helpers.ts';

const hdrs = (h: Record<string, string>, raw = false) => ({
  headers: Object.entries(h).map(([key, value]) => (raw ? { key, raw_value: Buffer.from(value) } : { key, value })),
});

const predictBody = (crid: string) =>
  JSON.stringify({ client_request_id: crid, dataframe_split: { columns: ['alcohol', 'proline'], data: [[13.2, 1050]] } });

interface Exchange {
  requestId: string;
  path?: string;
  pin?: string;
  requestBody?: string;
  status?: number;
  answeringVersion?: string;
  responseBody?: string;
  raw?: boolean;
  observability?: boolean;
  /** Send the body in several chunks (streamed mode) */
  chunks?: number;
  /** what Envoy attaches to the first message: forwarded dynamic metadata, requested attributes */
  metadataContext?: ProcessingRequest['metadata_context'];
  attributes?: ProcessingRequest['attributes'];
}

/** One ext_proc stream, message by message as Envoy sends them; returns Envoy's view of the replies. */
async function runExtProc(gw: TestGateway, ex: Exchange): Promise<ProcessingResponse__Output[]> {
  const call: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output> = gw.clients.extProc.Process();
  const replies: ProcessingResponse__Output[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (r: ProcessingResponse__Output) => replies.push(r));
    call.on('end', resolve);
    call.on('error', reject);
  });
  const obs = ex.observability ?? false;
  const send = (m: ProcessingRequest) => call.write({ ...m, observability_mode: obs });
  const reqHeaders: Record<string, string> = {
    ':method': 'POST',
    ':path': ex.path ?? '/services/wine-quality/predict',
    'content-type': 'application/json',
    'x-request-id': ex.requestId,
  };
  if (ex.pin) reqHeaders['x-sluice-version'] = ex.pin;
  send({
    request_headers: { headers: hdrs(reqHeaders, ex.raw), end_of_stream: ex.requestBody === undefined },
    metadata_context: ex.metadataContext,
    attributes: ex.attributes,
  });
  if (ex.requestBody !== undefined) {
    const body = Buffer.from(ex.requestBody);
    const n = ex.chunks ?? 1;
    const size = Math.ceil(body.length / n);
    for (let i = 0; i < n; i++) send({ request_body: { body: body.subarray(i * size, (i + 1) * size), end_of_stream: i === n - 1 } });
  }
  const resHeaders: Record<string, string> = { ':status': String(ex.status ?? 200), 'content-type': 'application/json' };
  if (ex.answeringVersion) resHeaders['x-sluice-version'] = ex.answeringVersion;
  send({ response_headers: { headers: hdrs(resHeaders, ex.raw), end_of_stream: ex.responseBody === undefined } });
  if (ex.responseBody !== undefined) send({ response_body: { body: Buffer.from(ex.responseBody), end_of_stream: true } });
  call.end();
  await done;
  return replies;
}

function logEntry(o: { requestId: string; cluster?: string; status?: number; startMs?: number; latencyMs?: number; details?: string; path?: string }): HTTPAccessLogEntry {
  const start = o.startMs ?? Date.parse('2026-11-27T21:15:30.250Z');
  const lat = o.latencyMs ?? 12.5;
  return {
    common_properties: {
      start_time: { seconds: String(Math.floor(start / 1000)), nanos: (start % 1000) * 1e6 },
      time_to_last_downstream_tx_byte: { seconds: String(Math.floor(lat / 1000)), nanos: Math.round((lat % 1000) * 1e6) },
      upstream_cluster: o.cluster ?? '',
    },
    request: { request_id: o.requestId, path: o.path ?? '/services/wine-quality/predict', request_body_bytes: '120' },
    response: { response_code: { value: o.status ?? 200 }, response_body_bytes: '80', response_code_details: o.details ?? 'via_upstream' },
  };
}

async function sendAccessLogs(gw: TestGateway, entries: HTTPAccessLogEntry[], batches = 1): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const call = gw.clients.als.StreamAccessLogs((err) => (err ? reject(err) : resolve()));
    const per = Math.ceil(entries.length / batches);
    for (let i = 0; i < batches; i++) {
      call.write({
        identifier: i === 0 ? { node: { id: 'envoy-1', cluster: 'edge' }, log_name: 'sluice' } : undefined,
        http_logs: { log_entry: entries.slice(i * per, (i + 1) * per) },
      });
    }
    call.end();
  });
}

let gw: TestGateway;
let policies: StaticPolicySource;
beforeEach(async () => {
  policies = demoPolicies();
  policies.setVersion(version('wine-quality', 'v2', { inference: { enabled: true, sampleRate: 1, maxBodyBytes: 64 } }));
  policies.setVersion(version('quiet', 'v1', { inference: { enabled: false, sampleRate: 1, maxBodyBytes: 1024 } }));
  gw = await startTestGateway(policies, { joinTimeoutMs: 300 });
});
afterEach(async () => {
  await gw.close();
});

const settle = async () => {
  await gw.capture.flush();
  expect(await gw.writer.flush(10_000)).toBe(true);
};

describe('ext_proc adapter', () => {
  it('answers every phase with an empty (no-change) response of the same kind', async () => {
    const replies = await runExtProc(gw, { requestId: 'p1', requestBody: predictBody('c1'), responseBody: '{"predictions":[1]}' });
    expect(replies.map((r) => r.response)).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body']);
    for (const r of replies) {
      const inner = r[r.response as 'request_headers'];
      expect(inner?.response ?? null).toBeNull();
    }
  });

  it('sends nothing back in observability mode', async () => {
    const replies = await runExtProc(gw, { requestId: 'p2', requestBody: '{}', responseBody: '{}', observability: true });
    expect(replies).toEqual([]);
  });
});

describe('join of ext_proc and access log into one record', () => {
  it('writes one complete record per request under inference-logs/{group}/{version}/dt=/hour=/', async () => {
    const start = Date.parse('2026-11-27T21:15:30.250Z');
    await runExtProc(gw, {
      requestId: 'r-1',
      requestBody: predictBody('client-1'),
      answeringVersion: 'v1',
      responseBody: JSON.stringify({ client_request_id: 'client-1', request_id: 'r-1', version: 'v1', predictions: [2] }),
      chunks: 3,
    });
    await sendAccessLogs(gw, [logEntry({ requestId: 'r-1', cluster: 'sluice/wine-quality/v1', startMs: start, latencyMs: 12.5 })]);
    await settle();
    const recs = await readRecords(gw.store);
    expect(recs).toHaveLength(1);
    const { key, record } = recs[0]!;
    expect(key).toMatch(/^inference-logs\/wine-quality\/v1\/dt=2026-11-27\/hour=21\/[^/]+\.ndjson\.gz$/);
    expect(record).toEqual({
      request_id: 'r-1',
      client_request_id: 'client-1',
      group: 'wine-quality',
      version: 'v1',
      timestamp: '2026-11-27T21:15:30.250Z',
      latency_ms: 12.5,
      status_code: 200,
      request: predictBody('client-1'),
      response: JSON.stringify({ client_request_id: 'client-1', request_id: 'r-1', version: 'v1', predictions: [2] }),
      error: null,
      sampling_fraction: 1,
      request_truncated: false,
      response_truncated: false,
    });
  });

  it('joins in either order, with raw header values, and trusts the ALS cluster for the version', async () => {
    await sendAccessLogs(gw, [logEntry({ requestId: 'r-2', cluster: 'sluice/wine-quality/v1' })]);
    await runExtProc(gw, { requestId: 'r-2', pin: 'v2', requestBody: predictBody('c2'), responseBody: '{"predictions":[0]}', raw: true });
    await settle();
    const recs = await readRecords(gw.store);
    expect(recs.map((r) => [r.record.request_id, r.record.version, r.record.client_request_id])).toEqual([['r-2', 'v1', 'c2']]);
  });

  it('still records a request when one half never arrives (join timeout), and drops the late half', async () => {
    // ALS only: an ext_authz 401 never reaches ext_proc
    await sendAccessLogs(gw, [logEntry({ requestId: 'only-als', cluster: 'sluice/wine-quality/v1', status: 401, details: 'ext_authz_denied' })]);
    // ext_proc only: the ALS entry was lost
    await runExtProc(gw, { requestId: 'only-proc', answeringVersion: 'v1', requestBody: predictBody('c3'), status: 422, responseBody: JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message: 'columns do not match', request_id: 'only-proc' }) });
    // the 300 ms join timeout emitted both halves alone
    await vi.waitFor(() => expect(gw.capture.joiner.pendingCount).toBe(0), { timeout: 10_000 });
    await runExtProc(gw, { requestId: 'only-als', requestBody: '{}', responseBody: '{}' }); // too late: dropped
    await settle();
    const recs = (await readRecords(gw.store)).map((r) => r.record).sort((a, b) => a.request_id.localeCompare(b.request_id));
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ request_id: 'only-als', version: 'v1', status_code: 401, request: null, response: null, error: 'HTTP 401' });
    expect(recs[1]).toMatchObject({ request_id: 'only-proc', version: 'v1', status_code: 422, client_request_id: 'c3', error: 'INVALID_PARAMETER_VALUE: columns do not match' });
    expect(recs[1]?.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('takes group and version from the route metadata attribute, or forwarded dynamic metadata', async () => {
    const str = (v: string) => ({ stringValue: v });
    // as Envoy sends `xds.route_metadata` (a Metadata, through its JSON form) and `xds.cluster_name`
    const routeMeta = (group: string, version?: string) => ({
      structValue: {
        fields: {
          filterMetadata: {
            structValue: {
              fields: { [METADATA_NAMESPACE]: { structValue: { fields: { group: str(group), ...(version ? { version: str(version) } : {}) } } } },
            },
          },
        },
      },
    });
    const attrs = (fields: Record<string, unknown>) => ({ 'envoy.filters.http.ext_proc': { fields } }) as ProcessingRequest['attributes'];
    // a path that does not name the group, no pin, no answering version: only the metadata can tell
    await runExtProc(gw, { requestId: 'rm-pin', path: '/alias', attributes: attrs({ 'xds.route_metadata': routeMeta('wine-quality', 'v2') }), requestBody: '{}', responseBody: '{}' });
    await runExtProc(gw, {
      requestId: 'rm-split',
      path: '/alias',
      attributes: attrs({ 'xds.route_metadata': routeMeta('wine-quality'), 'xds.cluster_name': str('sluice/wine-quality/v1') }),
      requestBody: '{}',
      responseBody: '{}',
    });
    await runExtProc(gw, {
      requestId: 'dyn',
      path: '/alias',
      metadataContext: { filter_metadata: { [METADATA_NAMESPACE]: { fields: { group: str('wine-quality'), version: str('v2') } } } },
      requestBody: '{}',
      responseBody: '{}',
    });
    // no ALS half: each is emitted alone once the join timeout passes
    await vi.waitFor(() => expect(gw.capture.joiner.pendingCount).toBe(0), { timeout: 10_000 });
    await settle();
    const recs = (await readRecords(gw.store)).map((r) => [r.record.request_id, r.record.group, r.record.version]);
    expect(recs.sort()).toEqual([
      ['dyn', 'wine-quality', 'v2'],
      ['rm-pin', 'wine-quality', 'v2'],
      ['rm-split', 'wine-quality', 'v1'],
    ]);
  });

  it('cuts bodies over maxBodyBytes and flags them', async () => {
    const big = predictBody('x'.repeat(200));
    await runExtProc(gw, { requestId: 'big', answeringVersion: 'v2', requestBody: big, responseBody: 'é'.repeat(100) });
    await sendAccessLogs(gw, [logEntry({ requestId: 'big', cluster: 'sluice/wine-quality/v2' })]);
    await settle();
    const [rec] = (await readRecords(gw.store)).map((r) => r.record);
    expect(rec?.request_truncated).toBe(true);
    expect(rec?.response_truncated).toBe(true);
    expect(Buffer.byteLength(rec?.request ?? '')).toBe(64);
    expect(rec?.request).toBe(big.slice(0, 64));
    expect(rec?.response).toBe('é'.repeat(32)); // cut on a character boundary
    expect(rec?.client_request_id).toBeNull(); // a cut body is not parsed
  });

  it('records nothing for versions with the table off, unknown versions, or foreign traffic', async () => {
    await runExtProc(gw, { requestId: 'q1', path: '/services/quiet/predict', requestBody: '{}', responseBody: '{}' });
    await sendAccessLogs(gw, [
      logEntry({ requestId: 'q1', cluster: 'sluice/quiet/v1' }),
      logEntry({ requestId: 'ghost', cluster: 'sluice/wine-quality/v7' }),
      logEntry({ requestId: 'foreign', cluster: 'some-other-cluster', path: '/healthz' }),
    ]);
    await settle();
    expect(await readRecords(gw.store)).toEqual([]);
    expect(gw.capture.unroutable).toBe(1);
  });

  it('many interleaved requests over a few ALS batches: exactly one record each', async () => {
    const n = 60;
    const ids = Array.from({ length: n }, (_, i) => `m-${i}`);
    await Promise.all(ids.map((id, i) => runExtProc(gw, { requestId: id, answeringVersion: i % 5 === 0 ? 'v2' : 'v1', requestBody: predictBody(id), responseBody: '{"predictions":[1]}' })));
    await sendAccessLogs(
      gw,
      ids.map((id, i) => logEntry({ requestId: id, cluster: `sluice/wine-quality/${i % 5 === 0 ? 'v2' : 'v1'}` })),
      4,
    );
    // a duplicate ALS delivery must not duplicate records
    await sendAccessLogs(gw, [logEntry({ requestId: 'm-1', cluster: 'sluice/wine-quality/v1' })]);
    await settle();
    const recs = await readRecords(gw.store);
    expect(recs.map((r) => r.record.request_id).sort()).toEqual([...ids].sort());
    for (const { key, record } of recs) expect(key.startsWith(`inference-logs/wine-quality/${record.version}/`)).toBe(true);
  });
});

/** The `sluice.capture` namespace as the capture filter leaves it (xds/contract.ts captureScript). */
function captured(o: { sampled?: boolean; group?: string; version?: string; request?: string | Buffer; response?: string | Buffer }): Record<string, Value> {
  const b64 = (x: string | Buffer) => ({ stringValue: Buffer.from(x).toString('base64') });
  const fields: Record<string, Value> = {};
  if (o.sampled !== undefined) fields[CAPTURE_KEY.sampled] = { boolValue: o.sampled };
  if (o.group !== undefined) fields[CAPTURE_KEY.group] = { stringValue: o.group };
  if (o.version !== undefined) fields[CAPTURE_KEY.version] = { stringValue: o.version };
  if (o.request !== undefined) fields[CAPTURE_KEY.request] = b64(o.request);
  if (o.response !== undefined) fields[CAPTURE_KEY.response] = b64(o.response);
  return fields;
}

/** An access-log entry carrying a capture namespace with these fields. */
function capturedEntry(base: Parameters<typeof logEntry>[0], fields: Record<string, Value>): HTTPAccessLogEntry {
  const e = logEntry(base);
  e.common_properties = { ...e.common_properties, metadata: { filter_metadata: { [CAPTURE_METADATA_NAMESPACE]: { fields } } } };
  return e;
}

const byId = async () => new Map((await readRecords(gw.store)).map((r) => [r.record.request_id, r.record]));
const withoutId = <T extends { request_id: string }>(r: T | undefined) => {
  const { request_id: _, ...rest } = r!;
  return rest;
};
const recordsTotal = async (outcome: string) =>
  (await gw.registry.getSingleMetric('sluice_inference_records_total')!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

describe('capture by the access log alone (the capture filter\'s dynamic metadata)', () => {
  // a join window no busy test machine outlasts: the ext_proc records compared against must be
  // joined ones (settle() emits anything still pending)
  beforeEach(async () => {
    await gw.close();
    gw = await startTestGateway(policies, { joinTimeoutMs: 60_000 });
  });

  it('an entry carrying both bodies becomes the record the ext_proc + access-log join made, at once (no join wait)', async () => {
    const start = Date.parse('2026-11-27T21:15:30.250Z');
    const response = JSON.stringify({ client_request_id: 'client-1', predictions: [2] });
    // before: ext_proc stream + bodiless entry
    await runExtProc(gw, { requestId: 'old', requestBody: predictBody('client-1'), answeringVersion: 'v1', responseBody: response, chunks: 2 });
    await sendAccessLogs(gw, [logEntry({ requestId: 'old', cluster: 'sluice/wine-quality/v1', startMs: start, latencyMs: 12.5 })]);
    // now: the entry alone
    await sendAccessLogs(gw, [
      capturedEntry(
        { requestId: 'new', cluster: 'sluice/wine-quality/v1', startMs: start, latencyMs: 12.5 },
        captured({ sampled: true, group: 'wine-quality', version: 'v1', request: predictBody('client-1'), response }),
      ),
    ]);
    // complete from the one entry: nothing waits for an ext_proc half
    expect(gw.capture.joiner.pendingCount).toBe(0);
    await settle();
    const recs = await byId();
    expect(recs.size).toBe(2);
    expect(withoutId(recs.get('new'))).toEqual(withoutId(recs.get('old')));
    expect(recs.get('new')).toMatchObject({ request: predictBody('client-1'), response, client_request_id: 'client-1', status_code: 200, latency_ms: 12.5, sampling_fraction: 1 });
  });

  it('a body over maxBodyBytes is cut there and flagged truncated, as ext_proc capture did', async () => {
    // wine-quality/v2 keeps 64 bytes; the filter copies 65 (max_bytes = maxBodyBytes + 1)
    const long = predictBody('x'.repeat(100));
    await runExtProc(gw, { requestId: 'old-long', requestBody: long, answeringVersion: 'v2', responseBody: '{"predictions":[1]}' });
    await sendAccessLogs(gw, [
      logEntry({ requestId: 'old-long', cluster: 'sluice/wine-quality/v2' }),
      capturedEntry(
        { requestId: 'new-long', cluster: 'sluice/wine-quality/v2' },
        captured({ sampled: true, group: 'wine-quality', version: 'v2', request: Buffer.from(long).subarray(0, 65), response: '{"predictions":[1]}' }),
      ),
      // a filter that sent more than it was told to (or a hand-made entry) is cut all the same
      capturedEntry({ requestId: 'huge', cluster: 'sluice/wine-quality/v2' }, captured({ sampled: true, request: Buffer.alloc(3 * 1024 * 1024, 0x61) })),
    ]);
    await settle();
    const recs = await byId();
    expect(recs.get('new-long')).toMatchObject({ request: long.slice(0, 64), request_truncated: true, response_truncated: false, client_request_id: null });
    expect(withoutId(recs.get('new-long'))).toEqual(withoutId(recs.get('old-long')));
    expect(recs.get('huge')).toMatchObject({ request: 'a'.repeat(64), request_truncated: true });
  });

  it('sampling is the filter\'s draw: sampled entries are all recorded at the version\'s rate, unsampled ones not at all', async () => {
    policies.setVersion(version('sampled', 'v1', { inference: { enabled: true, sampleRate: 0.25, maxBodyBytes: 1024 } }));
    const entry = (id: string, sampled: boolean) =>
      capturedEntry({ requestId: id, cluster: 'sluice/sampled/v1', path: '/services/sampled/predict' }, captured(sampled ? { sampled, request: '{}', response: '{}' } : { sampled }));
    const drawn = Array.from({ length: 20 }, (_, i) => entry(`in-${i}`, true));
    const skipped = Array.from({ length: 20 }, (_, i) => entry(`out-${i}`, false));
    const unsampledBefore = await recordsTotal('unsampled');
    await sendAccessLogs(gw, [...drawn, ...skipped], 3);
    // an unsampled entry is settled too: no record will come for it, so nothing waits
    expect(gw.capture.joiner.pendingCount).toBe(0);
    await settle();
    const recs = [...(await byId()).values()];
    // drawing again at 0.25 would keep all 20 with probability 0.25^20
    expect(recs.map((r) => r.request_id).sort()).toEqual(drawn.map((e) => e.request!.request_id!).sort());
    for (const r of recs) expect(r).toMatchObject({ group: 'sampled', version: 'v1', sampling_fraction: 0.25, request: '{}', response: '{}' });
    expect((await recordsTotal('unsampled')) - unsampledBefore).toBe(20);
  });

  it('a request the filter never saw (refused before it) is recorded from the access log alone, bodiless, as before', async () => {
    await sendAccessLogs(gw, [logEntry({ requestId: 'refused', cluster: 'sluice/wine-quality/v1', status: 401, details: 'ext_authz_denied' })]);
    // it waits for an ext_proc half that will not come (the join window), as before
    expect(gw.capture.joiner.pendingCount).toBe(1);
    await settle();
    expect((await byId()).get('refused')).toMatchObject({ status_code: 401, request: null, response: null, error: 'HTTP 401' });
  });

  it('malformed or oversized capture metadata neither breaks the stream nor costs the other entries of its message', async () => {
    const good = capturedEntry({ requestId: 'good', cluster: 'sluice/wine-quality/v1' }, captured({ sampled: true, request: predictBody('g'), response: '{"predictions":[0]}' }));
    const entries: HTTPAccessLogEntry[] = [
      // bodies of the wrong type, a nested struct for the group, a sampled flag as text
      capturedEntry({ requestId: 'wrong-types', cluster: 'sluice/wine-quality/v1' }, {
        [CAPTURE_KEY.sampled]: { stringValue: 'yes' },
        [CAPTURE_KEY.group]: { structValue: { fields: {} } },
        [CAPTURE_KEY.request]: { numberValue: 42 },
        [CAPTURE_KEY.response]: { listValue: { values: [{ stringValue: 'x' }] } },
      }),
      // not base64 at all
      capturedEntry({ requestId: 'not-base64', cluster: 'sluice/wine-quality/v1' }, { [CAPTURE_KEY.sampled]: { boolValue: true }, [CAPTURE_KEY.request]: { stringValue: '!!!\u0000%%%' } }),
      // an empty namespace
      capturedEntry({ requestId: 'empty-ns', cluster: 'sluice/wine-quality/v1' }, {}),
      // no request id: nothing to key a record on
      capturedEntry({ requestId: '', cluster: 'sluice/wine-quality/v1' }, captured({ sampled: true, request: '{}' })),
      good,
    ];
    await sendAccessLogs(gw, entries);
    // every entry with a namespace settled at once, however malformed
    expect(gw.capture.joiner.pendingCount).toBe(0);
    await settle();
    const recs = await byId();
    expect([...recs.keys()].sort()).toEqual(['empty-ns', 'good', 'not-base64', 'wrong-types']);
    expect(recs.get('good')).toMatchObject({ request: predictBody('g'), response: '{"predictions":[0]}', client_request_id: 'g' });
    expect(recs.get('wrong-types')).toMatchObject({ group: 'wine-quality', version: 'v1', request: null, response: null });
    expect(recs.get('not-base64')).toMatchObject({ request: '', request_truncated: false });
    // the stream still takes entries afterwards
    await sendAccessLogs(gw, [capturedEntry({ requestId: 'after', cluster: 'sluice/wine-quality/v1' }, captured({ sampled: true, request: '{}' }))]);
    await settle();
    expect((await byId()).get('after')).toMatchObject({ request: '{}' });
  });

  it('decodes a body only up to the capture bound, whatever the entry holds', () => {
    const e = capturedEntry({ requestId: 'b', cluster: 'sluice/wine-quality/v1' }, captured({ sampled: true, request: Buffer.alloc(1000, 0x62) }));
    const c = capturedExchange(e as never, 10);
    expect(c?.requestBody?.toString()).toBe('b'.repeat(10));
    expect(c?.responseBody).toBeNull();
    expect(c?.sampled).toBe(true);
    expect(capturedExchange(logEntry({ requestId: 'plain' }) as never)).toBeNull();
  });
});
