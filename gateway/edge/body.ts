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

/**
 * Reads and drops the rest of a refused body. The socket is destroyed past the byte cap, when
 * the sender stalls for the body deadline, or past a longer overall budget: a client that
 * keeps sending at any reasonable pace (a 20 MB upload on a busy machine) finishes its write
 * and keeps its connection, a trickling one does not hold the socket for long.
 */
export function drain(req: IncomingMessage, limits: BodyLimits, alreadyRead = 0): void {
  if (req.complete) return;
  let dropped = alreadyRead;
  const cutOff = () => req.socket.destroy();
  const idle = setTimeout(cutOff, limits.timeoutMs);
  idle.unref();
  const overall = setTimeout(cutOff, Math.max(10 * limits.timeoutMs, 30_000));
  overall.unref();
  const stop = () => {
    clearTimeout(idle);
    clearTimeout(overall);
  };
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limits.drainCapBytes) {
      stop();
      req.socket.destroy();
      return;
    }
    idle.refresh();
  });
  req.once('end', stop);
  req.once('close', stop);
  req.resume();
}

/**
 * The body when the parser already holds all of it (the usual case for a small /predict
 * body that came in the same packets as the headers): read at once, without the listeners,
 * timer and promise a streamed read needs. null when more is to come or it is over the limit.
 */
function bufferedBody(req: IncomingMessage, maxBytes: number): Buffer | null {
  if (!req.complete || req.readableFlowing || req.readableLength > maxBytes) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for (let c: Buffer | null = req.read() as Buffer | null; c !== null; c = req.read() as Buffer | null) {
    chunks.push(c);
    size += c.length;
  }
  // the last read() found the stream ended and empty, so 'end' follows as for a streamed read
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

/**
 * Buffers the body (returned at once when it is already all here). Rejects with EdgeError
 * PAYLOAD_TOO_LARGE as soon as the limit is passed (the rest is drained), REQUEST_TIMEOUT
 * when it does not arrive in time, and BAD_REQUEST when the client goes away mid-body.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> | Buffer {
  const whole = bufferedBody(req, limits.maxBytes);
  if (whole) return whole;
  return new Promise((resolve, reject) => new StreamedBody(req, limits, resolve, reject));
}

/**
 * One streamed body read. A class with bound methods rather than closures: under tsx every
 * named closure made per request costs a defineProperty (esbuild's keepNames), ~0.3 µs each.
 */
class StreamedBody {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.end.bind(this);
  private readonly onError = this.error.bind(this);
  private readonly onClose = this.close.bind(this);

  constructor(
    private readonly req: IncomingMessage,
    private readonly limits: BodyLimits,
    private readonly resolve: (body: Buffer) => void,
    private readonly reject: (err: EdgeError) => void,
  ) {
    this.timer = setTimeout(StreamedBody.expire, limits.timeoutMs, this);
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onError);
    req.on('close', this.onClose);
  }

  private static expire(self: StreamedBody): void {
    if (self.settle()) self.reject(new EdgeError('REQUEST_TIMEOUT', `the body did not arrive within ${self.limits.timeoutMs} ms`));
  }

  /** true the first time: the read is over, listeners and timer are gone. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.req.off('error', this.onError);
    this.req.off('close', this.onClose);
    return true;
  }

  private data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size <= this.limits.maxBytes) {
      this.chunks.push(chunk);
      return;
    }
    if (!this.settle()) return;
    this.chunks.length = 0;
    drain(this.req, this.limits, this.size);
    this.reject(new EdgeError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${this.limits.maxBytes} bytes`));
  }

  private end(): void {
    if (this.settle()) this.resolve(this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size));
  }

  private error(err: Error): void {
    if (this.settle()) this.reject(new EdgeError('BAD_REQUEST', `the body could not be read: ${err.message}`));
  }

  private close(): void {
    if (this.settle()) this.reject(new EdgeError('BAD_REQUEST', 'the client went away before the body ended'));
  }
}
