// The Open Inference Protocol (v2) REST routes at the edge, with the model name = the
// service group's name:
//
//   GET  /v2/health/live | /v2/health/ready | /v2          the edge itself (no credential)
//   GET  /v2/models/{group}[/versions/{version}]           model metadata
//   GET  /v2/models/{group}[/versions/{version}]/ready     model readiness
//   POST /v2/models/{group}[/versions/{version}]/infer     inference
//
// Each model route goes through the stages /predict does — route (404 unknown group, 503
// nothing running, weighted pick, or the version pinned by the path or by x-sluice-version)
// → credential (401/403) → for infer: rate limit (429), body (413/408/415/400, checked by
// the same code the runtime runs: platform/scoring/oip.ts) → the picked version's runtime
// (its own OIP route, named by group and version) → the inference record (protocol "oip").
// Errors are the protocol's `{"error": "...", "error_code", "request_id"}`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimiter } from '../ratelimit/limiter.ts';
import type { AuthzDecision } from '../authz.ts';
import { ProtocolError, readErrorBody, oipErrorBody } from '../../platform/scoring/errors.ts';
import { decodeInferRequest, parseOipPath, type OipRoute } from '../../platform/scoring/oip.ts';
import { drain, readBody, type BodyLimits } from './body.ts';
import { EdgeError } from './errors.ts';
import type { EdgeMetrics } from './metrics.ts';
import { PIN_HEADER, pickVersion, type EdgeGroup, type EdgeVersion, type RoutingTable } from './routing.ts';
import { stickyValue } from './sticky.ts';
import type { Exchange } from './server.ts';
import type { UpstreamCall, UpstreamResponse } from './upstream.ts';
import { asEdgeError } from './validate.ts';

/** The edge's stages, as server.ts has them. */
export interface EdgeStages {
  routing: { current(): RoutingTable };
  random: () => number;
  bodyLimits: BodyLimits;
  rateLimiter: RateLimiter | undefined;
  metrics: EdgeMetrics;
  /** (synchronous when nothing has to be waited for; a refusal is thrown) */
  authorize(req: IncomingMessage, group: string, version: EdgeVersion): AuthzDecision | null | Promise<AuthzDecision>;
  throttle(group: string, version: EdgeVersion, keyId: string | null): Promise<void> | undefined;
  forward(ex: Exchange, version: EdgeVersion, body: string, contentType?: string, call?: (version: EdgeVersion) => UpstreamCall): Promise<UpstreamResponse>;
  /** (a promise only when it waits for the inference record) */
  answer(res: ServerResponse, ex: Exchange, status: number, body: string, headers?: Record<string, string>): Promise<void> | undefined;
  send(res: ServerResponse, status: number, body: string, requestId?: string, extra?: Record<string, string>, version?: string): number;
  internal(err: unknown, ex: Exchange): EdgeError;
}

export const isOipPath = (path: string) => path === '/v2' || path.startsWith('/v2/');

const JSON_TYPE = 'application/json';
type ModelRoute = Extract<OipRoute, { model: string }>;

/** The runtime's own OIP path for a routed call: group and service version (the runtime takes both from a gateway). */
function runtimePath(route: ModelRoute, version: EdgeVersion): string {
  const base = `/v2/models/${encodeURIComponent(route.model)}/versions/${encodeURIComponent(version.name)}`;
  return route.kind === 'infer' ? `${base}/infer` : route.kind === 'model-ready' ? `${base}/ready` : base;
}

export function createEdgeOip(s: EdgeStages) {
  const fail = (res: ServerResponse, ex: Exchange, err: EdgeError): Promise<void> | undefined => {
    ex.error ??= `${err.code}: ${err.message}`;
    return s.answer(res, ex, err.status, err.oipBody(ex.requestId), err.headers);
  };

  /** The runtime's answer as the edge's: errors get the request id; metadata names the group's versions. */
  function translate(ex: Exchange, route: ModelRoute, group: EdgeGroup, up: UpstreamResponse): { status: number; body: string } {
    const text = up.body.toString('utf8');
    const version = ex.version?.name ?? '';
    if (up.status === 200) {
      if (route.kind !== 'model-metadata') return { status: 200, body: text };
      try {
        const meta = JSON.parse(text) as Record<string, unknown>;
        meta.name = group.name;
        meta.versions = [...group.pins.keys()];
        return { status: 200, body: JSON.stringify(meta) };
      } catch {
        throw new EdgeError('UPSTREAM_ERROR', `version ${version} answered metadata that is not JSON`);
      }
    }
    const e = up.status >= 400 && up.status < 500 ? readErrorBody(text) : null;
    if (e) {
      ex.error = `${e.code}: ${e.message}`;
      return { status: up.status, body: oipErrorBody(e.code, e.message, ex.requestId) };
    }
    if (up.status === 503) throw new EdgeError('NO_HEALTHY_ENDPOINT', `version ${version} has no ready instance`);
    throw new EdgeError('UPSTREAM_ERROR', `version ${version} failed (HTTP ${up.status})`);
  }

  async function model(req: IncomingMessage, res: ServerResponse, ex: Exchange, route: ModelRoute): Promise<void> {
    const table = s.routing.current();
    if (!table.configured) throw new EdgeError('EDGE_NOT_READY', 'the edge has no routes yet; try again shortly', { 'retry-after': '1' });
    const group = table.groups.get(route.model);
    // 404 before anything else: no credential reveals whether a name exists
    if (!group) throw new EdgeError('NOT_FOUND', `no model (service) ${JSON.stringify(route.model)}`);
    ex.group = group.name;
    const method = req.method ?? 'GET';
    const wantGet = route.kind !== 'infer';
    if (wantGet ? method !== 'GET' && method !== 'HEAD' : method !== 'POST') {
      throw new EdgeError('METHOD_NOT_ALLOWED', `${req.url ?? ''} takes ${wantGet ? 'GET' : 'POST'}`, { allow: wantGet ? 'GET' : 'POST' });
    }
    // a version in the path pins as the header does (and wins over it)
    const header = req.headers[PIN_HEADER];
    const pin = route.version ?? (typeof header === 'string' ? header : undefined);
    // sticky A/B applies to OIP calls as to /predict
    const pick = pickVersion(group, pin, s.random, group.stickyHeader === null ? undefined : stickyValue(req.headers[group.stickyHeader]));
    if (pick.kind === 'answer') throw new EdgeError(pick.answer.code, pick.answer.message, undefined, pick.answer.status);
    const version = pick.version;
    ex.version = version;
    const decision = version.policy.auth ? await s.authorize(req, group.name, version) : null;
    const call = (v: EdgeVersion): UpstreamCall => ({ path: runtimePath(route, v), method: wantGet ? 'GET' : 'POST' });
    if (wantGet) {
      const up = await s.forward(ex, version, '', JSON_TYPE, call);
      const out = translate(ex, route, group, up);
      return s.answer(res, ex, out.status, out.body);
    }
    // infer: rate limit, body, capture, as /predict
    ex.capture = version.policy.capture;
    ex.protocol = 'oip';
    if (version.policy.rateLimited && s.rateLimiter) await s.throttle(group.name, version, decision?.allowed ? decision.keyId : null);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > s.bodyLimits.maxBytes) {
      drain(req, s.bodyLimits);
      throw new EdgeError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${s.bodyLimits.maxBytes} bytes`);
    }
    const type = req.headers['content-type'];
    if (type !== undefined && type !== '' && (type.split(';')[0] ?? '').trim().toLowerCase() !== JSON_TYPE) {
      throw new EdgeError('UNSUPPORTED_MEDIA_TYPE', `content-type must be ${JSON_TYPE} (got ${type})`);
    }
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const raw = await readBody(req, s.bodyLimits);
    ex.bytesIn = raw.length;
    ex.requestBody = raw;
    const text = raw.toString('utf8');
    ex.requestBody = text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new EdgeError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
    }
    const request = decodeInferRequest(parsed);
    ex.clientRequestId = request.id ?? null;
    const up = await s.forward(ex, version, text, JSON_TYPE, call);
    const out = translate(ex, route, group, up);
    await s.answer(res, ex, out.status, out.body);
  }

  return async function handle(req: IncomingMessage, res: ServerResponse, ex: Exchange, path: string): Promise<void> {
    const route = parseOipPath(path) as OipRoute;
    const method = req.method ?? 'GET';
    const json = (status: number, body: string) => {
      s.send(res, status, body, ex.requestId);
    };
    if (route.kind === 'server-live' || route.kind === 'server-ready' || route.kind === 'server-metadata') {
      if (method !== 'GET' && method !== 'HEAD') return fail(res, ex, new EdgeError('METHOD_NOT_ALLOWED', `${path} takes GET`, { allow: 'GET' }));
      if (route.kind === 'server-live') return json(200, '{"live":true}');
      if (route.kind === 'server-metadata') return json(200, JSON.stringify({ name: 'sluice-edge', version: '1', extensions: [] }));
      const ready = s.routing.current().configured;
      return json(ready ? 200 : 503, JSON.stringify({ ready }));
    }
    if (route.kind === 'unknown') return fail(res, ex, new EdgeError('ENDPOINT_NOT_FOUND', `no endpoint ${path}`, undefined, 404));
    try {
      await model(req, res, ex, route);
    } catch (err) {
      const e = err instanceof EdgeError ? err : err instanceof ProtocolError ? asEdgeError(err) : s.internal(err, ex);
      const closeAfter = e.kind === 'REQUEST_TIMEOUT';
      if (closeAfter) res.setHeader('connection', 'close');
      await fail(res, ex, e);
      if (closeAfter) res.once('finish', () => req.socket.destroy());
    }
  };
}
