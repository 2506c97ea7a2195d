// `POST /models/upload?name=<model>&version=<version>[&signature=<JSON>][&description=…]`:
// the authenticated way to register a model file too large for a GraphQL body. The caller
// is identified from the Authorization header before a byte of the body is read; the body
// (the raw .onnx file, any content type) is streamed to a scratch file — the size limit is
// enforced while it streams, and a body over the limit or cut off midway leaves nothing
// behind — then handed to the same ModelRegistry.register as GraphQL's
// registerModelVersion (same rights, validation and audit), which streams the file on into
// the object store. The body is never whole in memory. Answers the registered version as JSON.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { GraphQLContext } from '../graphql/context.ts';
import { SluiceError } from '../../platform/errors.ts';
import { MAX_UPLOAD_BYTES } from '../registry/service.ts';

export const MODEL_UPLOAD_PATH = '/models/upload';

const STATUS: Record<string, number> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409 };

function answer(_req: IncomingMessage, res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}) });
  // with `connection: close` the rest of a refused body is discarded, never read into memory
  res.end(text);
}

const error = (code: string, message: string) => ({ error: { code, message } });

/** Passes bytes through, failing the stream once more than `limit` went by. */
class SizeLimit extends Transform {
  size = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) return done(new UploadTooLarge());
    done(null, chunk);
  }
}
class UploadTooLarge extends Error {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

export interface ModelUploadOptions {
  limitBytes?: number;
  /** where the body is streamed to before validation (a fresh folder per upload under it) */
  scratchDir?: string;
}

export async function handleModelUpload(
  req: IncomingMessage,
  res: ServerResponse,
  contextFor: (authorization: string | undefined) => Promise<GraphQLContext>,
  options: ModelUploadOptions = {},
): Promise<void> {
  const limitBytes = options.limitBytes ?? MAX_UPLOAD_BYTES;
  if (req.method !== 'POST') return answer(req, res, 405, error('METHOD_NOT_ALLOWED', 'POST the model file'), true);
  let ctx: GraphQLContext;
  try {
    ctx = await contextFor(req.headers.authorization);
  } catch (e) {
    return answer(req, res, 401, error('UNAUTHENTICATED', e instanceof Error ? e.message : 'bad credential'), true);
  }
  if (!ctx.actor) return answer(req, res, 401, error('UNAUTHENTICATED', 'send a bearer token in the Authorization header'), true);
  if (ctx.actor.role === 'VIEWER') return answer(req, res, 403, error('FORBIDDEN', `${ctx.actor.username} may not register models`), true);
  if (!ctx.registry) return answer(req, res, 503, error('UNAVAILABLE', 'the model registry is not configured on this server'), true);

  const url = new URL(req.url ?? '/', 'http://localhost');
  const name = url.searchParams.get('name');
  const version = url.searchParams.get('version');
  if (!name || !version) return answer(req, res, 400, error('BAD_USER_INPUT', 'name and version are required query parameters'), true);
  let signature: unknown = undefined;
  const rawSignature = url.searchParams.get('signature');
  if (rawSignature !== null) {
    try {
      signature = JSON.parse(rawSignature);
    } catch {
      return answer(req, res, 400, error('BAD_USER_INPUT', 'signature is not valid JSON'), true);
    }
  }
  if (Number(req.headers['content-length'] ?? 0) > limitBytes) {
    return answer(req, res, 413, error('PAYLOAD_TOO_LARGE', `the model file is over ${limitBytes} bytes`), true);
  }
  const scratch = mkdtempSync(join(options.scratchDir ?? tmpdir(), 'sluice-upload-'));
  try {
    const file = join(scratch, 'model.onnx');
    try {
      await pipeline(req, new SizeLimit(limitBytes), createWriteStream(file, { mode: 0o600 }));
    } catch (e) {
      if (e instanceof UploadTooLarge) return answer(req, res, 413, error('PAYLOAD_TOO_LARGE', `the model file is over ${limitBytes} bytes`), true);
      // the client went away (or the disk failed) midway: nothing is kept
      if (!res.headersSent && !req.destroyed) return answer(req, res, 400, error('UPLOAD_INCOMPLETE', `the upload did not complete: ${(e as Error).message}`), true);
      res.destroy();
      return;
    }
    const registered = await ctx.registry.register(ctx.actor, {
      name,
      version,
      file,
      signature,
      description: url.searchParams.get('description'),
    });
    answer(req, res, 201, registered);
  } catch (e) {
    if (e instanceof SluiceError) return answer(req, res, STATUS[e.code] ?? 400, error(e.code, e.message));
    throw e;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
