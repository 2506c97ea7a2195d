// Cross-origin calls to the edge from the dashboard (its debugger sends /predict from the control
// plane's origin, another port). Only the listed origins get CORS headers; there is never a
// wildcard and never Access-Control-Allow-Credentials (callers authenticate with the
// Authorization header, which the preflight allows, not with cookies). A request without an
// Origin header costs one header lookup and gets nothing added.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EdgeError } from './errors.ts';

/** Request headers a cross-origin caller may send (the preflight's allow list). */
const ALLOW_HEADERS = 'authorization, content-type, x-sluice-version, x-request-id';
/** Answer headers a cross-origin caller may read. */
const EXPOSE_HEADERS = 'x-request-id, x-sluice-version, retry-after';
const ALLOW_METHODS = 'GET, POST, OPTIONS';

export interface EdgeCors {
  /**
   * Adds the CORS headers for an allowed Origin; answers a preflight (OPTIONS with
   * Access-Control-Request-Method) itself and returns true then — the request is done.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * @param origins exact origins (`scheme://host[:port]`, as browsers send them)
 * @param extraHeaders request headers to allow besides the standard ones (the sticky header)
 */
export function createEdgeCors(origins: readonly string[], extraHeaders: readonly string[] = []): EdgeCors | null {
  if (origins.length === 0) return null;
  const allowed = new Set(origins);
  const allowHeaders = [ALLOW_HEADERS, ...extraHeaders.map((h) => h.toLowerCase())].join(', ');
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      if (origin === undefined) return false;
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (!allowed.has(origin)) {
        if (!preflight) return false; // no CORS headers: the browser keeps the answer from the page
        const body = new EdgeError('FORBIDDEN', `origin ${JSON.stringify(origin)} may not call this edge (SLUICE_EDGE_CORS_ORIGINS)`).body(randomUUID());
        res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), vary: 'origin' });
        res.end(body);
        return true;
      }
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
      if (!preflight) {
        res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
        return false;
      }
      res.writeHead(204, {
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': allowHeaders,
        'access-control-max-age': '600',
        'content-length': 0,
      });
      res.end();
      return true;
    },
  };
}
