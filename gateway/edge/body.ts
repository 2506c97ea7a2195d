// Reading a request body under a byte limit and a time limit. Past the limit the caller
// answers 413 at once while the rest of the body is read and dropped, so the client can
// finish its write, read the answer and reuse the connection; a sender that keeps going
// far beyond (or stalls) is cut off instead of tying the socket up.
import type { IncomingMessage } from 'node:http';
import { EdgeError } from './errors.ts';

export interface BodyLimits {
  maxBytes: number;
  /** whole-body deadline from the first read (ms) */
  timeoutMs: number;
  /** past this many dropped bytes the connection is closed rather than drained */
  drainCapBytes: number;
}

/** Reads and drops the rest of a refused body; the socket is destroyed past the cap or deadline. */
export function drain(req: IncomingMessage, limits: BodyLimits, alreadyRead = 0): void {
  if (req.complete) return;
  let dropped = alreadyRead;
  const timer = setTimeout(() => req.socket.destroy(), limits.timeoutMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limits.drainCapBytes) {
      clearTimeout(timer);
      req.socket.destroy();
    }
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/**
 * Buffers the body. Rejects with EdgeError PAYLOAD_TOO_LARGE as soon as the limit is
 * passed (the rest is drained), REQUEST_TIMEOUT when it does not arrive in time, and
 * BAD_REQUEST when the client goes away mid-body.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      fn();
    };
    const timer = setTimeout(() => {
      finish(() => reject(new EdgeError('REQUEST_TIMEOUT', `the body did not arrive within ${limits.timeoutMs} ms`)));
    }, limits.timeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        finish(() => {
          chunks.length = 0;
          drain(req, limits, size);
          reject(new EdgeError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${limits.maxBytes} bytes`));
        });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(() => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    const onError = (err: Error) => finish(() => reject(new EdgeError('BAD_REQUEST', `the body could not be read: ${err.message}`)));
    const onClose = () => finish(() => reject(new EdgeError('BAD_REQUEST', 'the client went away before the body ended')));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
