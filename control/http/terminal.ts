// The instance terminal over WebSocket: bridges an operator's browser to
// `Orchestrator.openTerminal` (a shell in a local replica, `kubectl exec` into a pod).
// Admins only, every opening audited: the rules are in control/domain/terminals.ts.
//
// Protocol (`GET /terminal`, WebSocket upgrade; every frame is one JSON text message):
//
//   Browsers cannot set headers on a WebSocket, so the client authenticates in its first
//   message, which must arrive within `openTimeoutMs` (default 10 s):
//     client → {"type":"open","token":"<bearer token>","instanceId":"<Instance id>","cols":80,"rows":24}
//   (`token` is bare or "Bearer …"; `cols`/`rows` optional, 1–1000.)
//   Once the shell runs:
//     server → {"type":"opened","instance":"<instance name>","tty":bool}
//              tty false (local replicas: a shell over pipes): nothing echoes keystrokes,
//              so the client edits lines itself and sends each on Enter; tty true
//              (Kubernetes exec): send keys raw, the remote terminal echoes.
//     server → {"type":"output","data":"…"}        what the shell printed (stdout and stderr)
//     server → {"type":"exit","code":n|null}       the shell ended; the socket then closes 1000
//     client → {"type":"input","data":"…"}         keystrokes / text for the shell's stdin
//     client → {"type":"resize","cols":n,"rows":n} the window size (a no-op where the
//                                                  orchestrator has no pseudo-terminal)
//   Input sent after "open" but before "opened" is kept (up to one message size) and
//   delivered once the shell runs.
//
//   The credential is checked again before each message is delivered to the shell: an admin
//   disabled or demoted since "open" gets 4403 at the next message.
//   Refusals and failures: the server first sends {"type":"error","code":"…","message":"…"},
//   then closes with
//     4400 BAD_USER_INPUT   not JSON, unknown type, wrong fields, a second "open", a binary frame
//     4401 UNAUTHENTICATED  no token or a bad one
//     4403 FORBIDDEN        the token is not an admin's
//     4404 NOT_FOUND        no such instance (or the orchestrator no longer knows it)
//     4408 TIMEOUT          no "open" in time, or no input for `idleTimeoutMs` (default 30 min)
//     4409 CONFLICT         the instance is not RUNNING
//     4429 BACKLOG          the client reads output slower than the shell writes it
//     4500 INTERNAL         the orchestrator could not open a shell
//     1009                  a message over `maxMessageBytes` (64 KiB; closed by ws itself)
//     1001                  the control plane is shutting down
//   Closing the socket ends the shell (and what it started); the shell ending closes the
//   socket. A ping every `heartbeatMs` finds browsers that vanished without closing.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { GraphQLContext } from '../graphql/context.ts';
import type { TerminalSession } from '../orchestrator/port.ts';
import type { OpenedTerminal } from '../domain/terminals.ts';
import { SluiceError } from '../../platform/errors.ts';

export interface TerminalLimits {
  /** largest client message, in bytes */
  maxMessageBytes: number;
  /** how long a socket may stay open without an "open" message */
  openTimeoutMs: number;
  /** a session with no input or resize for this long is closed */
  idleTimeoutMs: number;
  /** ping interval; a client that misses one pong is dropped */
  heartbeatMs: number;
  /** output queued for a slow client beyond this closes the session */
  maxBacklogBytes: number;
}

export const DEFAULT_TERMINAL_LIMITS: TerminalLimits = {
  maxMessageBytes: 64 * 1024,
  openTimeoutMs: 10_000,
  idleTimeoutMs: 30 * 60_000,
  heartbeatMs: 30_000,
  maxBacklogBytes: 8 * 1024 * 1024,
};

export interface TerminalServerOptions {
  /** the same function the GraphQL server builds its context with */
  context: (authorization: string | undefined) => Promise<GraphQLContext>;
  limits?: Partial<TerminalLimits>;
  log?: (error: unknown) => void;
}

export interface TerminalServer {
  /** hands an HTTP upgrade request for /terminal to the terminal's WebSocket server */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** how many sockets are connected (opening or open) */
  readonly connections: number;
  /** closes every socket (1001) and ends every shell */
  close(): Promise<void>;
}

export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  badMessage: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  notFound: 4404,
  timeout: 4408,
  conflict: 4409,
  backlog: 4429,
  internal: 4500,
} as const;

type ErrorName = 'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'TIMEOUT' | 'CONFLICT' | 'BACKLOG' | 'INTERNAL';

const CLOSE_FOR: Record<ErrorName, number> = {
  BAD_USER_INPUT: CLOSE.badMessage,
  UNAUTHENTICATED: CLOSE.unauthenticated,
  FORBIDDEN: CLOSE.forbidden,
  NOT_FOUND: CLOSE.notFound,
  TIMEOUT: CLOSE.timeout,
  CONFLICT: CLOSE.conflict,
  BACKLOG: CLOSE.backlog,
  INTERNAL: CLOSE.internal,
};

/** A refusal: becomes an error message and a close code, never an exception out of the socket. */
class TerminalRefusal extends Error {
  constructor(
    readonly code: ErrorName,
    message: string,
  ) {
    super(message);
    this.name = 'TerminalRefusal';
  }
}

export type ClientMessage =
  | { type: 'open'; token: string | null; instanceId: string; cols: number | null; rows: number | null }
  | { type: 'input'; data: string }
  | { type: 'resize'; cols: number; rows: number };

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1000;

/** Parses one client frame; throws TerminalRefusal(BAD_USER_INPUT) on anything else. */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TerminalRefusal('BAD_USER_INPUT', 'messages must be JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TerminalRefusal('BAD_USER_INPUT', 'messages must be JSON objects');
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case 'open': {
      if (typeof m.instanceId !== 'string' || m.instanceId.length === 0 || m.instanceId.length > 200) throw new TerminalRefusal('BAD_USER_INPUT', '"open" needs an instanceId');
      if (m.token !== undefined && m.token !== null && typeof m.token !== 'string') throw new TerminalRefusal('BAD_USER_INPUT', '"token" must be a string');
      for (const key of ['cols', 'rows'] as const) {
        if (m[key] !== undefined && m[key] !== null && !isSize(m[key])) throw new TerminalRefusal('BAD_USER_INPUT', `"${key}" must be an integer from 1 to 1000`);
      }
      return {
        type: 'open',
        token: typeof m.token === 'string' && m.token.length > 0 ? m.token : null,
        instanceId: m.instanceId,
        cols: isSize(m.cols) ? m.cols : null,
        rows: isSize(m.rows) ? m.rows : null,
      };
    }
    case 'input':
      if (typeof m.data !== 'string') throw new TerminalRefusal('BAD_USER_INPUT', '"input" needs a string "data"');
      return { type: 'input', data: m.data };
    case 'resize':
      if (!isSize(m.cols) || !isSize(m.rows)) throw new TerminalRefusal('BAD_USER_INPUT', '"resize" needs integer "cols" and "rows" from 1 to 1000');
      return { type: 'resize', cols: m.cols, rows: m.rows };
    default:
      throw new TerminalRefusal('BAD_USER_INPUT', `unknown message type ${JSON.stringify(typeof m.type === 'string' ? m.type.slice(0, 40) : m.type ?? null)}`);
  }
}

/** Authenticates the opener, then asks the domain to open (authorize, check, audit). */
async function openSession(
  contextFor: TerminalServerOptions['context'],
  open: Extract<ClientMessage, { type: 'open' }>,
): Promise<OpenedTerminal & { authorization: string; userId: string }> {
  if (!open.token) throw new TerminalRefusal('UNAUTHENTICATED', 'send a bearer token in the "open" message');
  const authorization = /^bearer\s/i.test(open.token) ? open.token : `Bearer ${open.token}`;
  let ctx: GraphQLContext;
  try {
    ctx = await contextFor(authorization);
  } catch (error) {
    if (error instanceof SluiceError && error.code !== 'UNAUTHENTICATED') throw error;
    throw new TerminalRefusal('UNAUTHENTICATED', error instanceof Error ? error.message : 'bad credential');
  }
  const actor = ctx.actor;
  if (!actor) throw new TerminalRefusal('UNAUTHENTICATED', 'bad credential');
  // the rules (admin only, RUNNING instance, audited) are the domain's: domain/terminals.ts;
  // the credential is kept to check it again before each message
  return { ...(await ctx.domain.terminals.open(actor, open.instanceId)), authorization, userId: actor.userId };
}

export function createTerminalServer(options: TerminalServerOptions): TerminalServer {
  const limits: TerminalLimits = { ...DEFAULT_TERMINAL_LIMITS, ...options.limits };
  const log = options.log ?? ((e: unknown) => console.error(e));
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  const sessions = new Set<TerminalSession>();

  function send(ws: WebSocket, message: unknown): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function refuse(ws: WebSocket, code: ErrorName, message: string): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    send(ws, { type: 'error', code, message });
    // a close reason is at most 123 bytes
    ws.close(CLOSE_FOR[code], Buffer.from(message).subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, ''));
  }

  function attach(ws: WebSocket): void {
    let phase: 'awaiting-open' | 'opening' | 'open' | 'closed' = 'awaiting-open';
    let session: TerminalSession | null = null;
    let pending: ClientMessage[] = [];
    let pendingBytes = 0;
    let alive = true;
    // read through a call: TypeScript would keep `phase` narrowed across the await in start()
    const closed = () => phase === 'closed';
    let timer: NodeJS.Timeout | null = null;

    const arm = (ms: number, message: string) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => refuse(ws, 'TIMEOUT', message), ms);
      timer.unref();
    };
    arm(limits.openTimeoutMs, `no "open" message within ${limits.openTimeoutMs} ms`);

    const heartbeat = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, limits.heartbeatMs);
    heartbeat.unref();
    ws.on('pong', () => (alive = true));

    const deliverNow = (m: ClientMessage) => {
      if (!session) return;
      if (m.type === 'input') session.write(m.data);
      else if (m.type === 'resize') session.resize(m.cols, m.rows);
    };
    // Each message is delivered only after the caller's credential is checked again, in
    // order: an admin disabled, demoted or signed out mid-session is cut off (4401/4403)
    // at their next keystroke, not when the socket happens to close.
    let identity: { authorization: string; userId: string } | null = null;
    let checked: Promise<void> = Promise.resolve();
    const deliver = (m: ClientMessage) => {
      checked = checked.then(async () => {
        if (closed() || !identity) return;
        let ok: boolean;
        try {
          const ctx = await options.context(identity.authorization);
          ok = ctx.actor?.userId === identity.userId && ctx.actor.role === 'ADMIN';
        } catch {
          ok = false;
        }
        if (closed()) return;
        if (!ok) {
          refuse(ws, 'FORBIDDEN', 'the credential no longer grants a terminal');
          session?.close();
          return;
        }
        deliverNow(m);
      });
    };

    const start = async (open: Extract<ClientMessage, { type: 'open' }>) => {
      phase = 'opening';
      if (timer) clearTimeout(timer);
      let opened: Awaited<ReturnType<typeof openSession>>;
      try {
        opened = await openSession(options.context, open);
      } catch (error) {
        if (error instanceof TerminalRefusal) return refuse(ws, error.code, error.message);
        if (error instanceof SluiceError && error.code in CLOSE_FOR) return refuse(ws, error.code as ErrorName, error.message);
        log(error);
        return refuse(ws, 'INTERNAL', 'could not open a terminal on this instance');
      }
      const s = opened.session;
      identity = { authorization: opened.authorization, userId: opened.userId };
      if (closed()) {
        s.close(); // the client left while the shell was starting
        return;
      }
      session = s;
      sessions.add(s);
      phase = 'open';
      send(ws, { type: 'opened', instance: opened.instanceName, tty: opened.tty }); // before the held output
      s.onData((data) => {
        if (ws.bufferedAmount > limits.maxBacklogBytes) {
          refuse(ws, 'BACKLOG', 'the client reads output too slowly');
          s.close();
          return;
        }
        send(ws, { type: 'output', data });
      });
      s.onExit((code) => {
        sessions.delete(s);
        send(ws, { type: 'exit', code });
        if (ws.readyState === WebSocket.OPEN) ws.close(CLOSE.normal, 'the shell exited');
      });
      if (open.cols && open.rows) s.resize(open.cols, open.rows);
      for (const m of pending) deliver(m);
      pending = [];
      arm(limits.idleTimeoutMs, `no input for ${Math.round(limits.idleTimeoutMs / 1000)} s`);
    };

    ws.on('message', (raw: RawData, isBinary: boolean) => {
      if (phase === 'closed') return;
      try {
        if (isBinary) throw new TerminalRefusal('BAD_USER_INPUT', 'send JSON text frames, not binary');
        const text = (Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).toString('utf8');
        const m = parseClientMessage(text);
        if (m.type === 'open') {
          if (phase !== 'awaiting-open') throw new TerminalRefusal('BAD_USER_INPUT', 'the terminal is already open');
          start(m).catch((error: unknown) => {
            log(error);
            session?.close();
            refuse(ws, 'INTERNAL', 'the terminal failed');
          });
          return;
        }
        if (phase === 'awaiting-open') throw new TerminalRefusal('BAD_USER_INPUT', 'the first message must be "open"');
        if (phase === 'opening') {
          pendingBytes += text.length;
          if (pendingBytes > limits.maxMessageBytes) throw new TerminalRefusal('BAD_USER_INPUT', 'too much input before the terminal opened');
          pending.push(m);
          return;
        }
        arm(limits.idleTimeoutMs, `no input for ${Math.round(limits.idleTimeoutMs / 1000)} s`);
        deliver(m);
      } catch (error) {
        if (error instanceof TerminalRefusal) refuse(ws, error.code, error.message);
        else {
          log(error);
          refuse(ws, 'INTERNAL', 'the terminal failed');
        }
      }
    });

    ws.on('error', () => undefined); // e.g. a frame over maxPayload: ws closes with 1009 itself
    ws.on('close', () => {
      phase = 'closed';
      if (timer) clearTimeout(timer);
      clearInterval(heartbeat);
      if (session) {
        sessions.delete(session);
        session.close();
      }
    });
  }

  wss.on('connection', attach);

  return {
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    get connections() {
      return wss.clients.size;
    },
    async close() {
      for (const ws of wss.clients) {
        if (ws.readyState === WebSocket.OPEN) ws.close(CLOSE.goingAway, 'the control plane is shutting down');
        else ws.terminate();
      }
      for (const s of sessions) s.close();
      sessions.clear();
      // give clean closes a moment, then cut whatever is left
      await new Promise((r) => setTimeout(r, 50).unref());
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
    },
  };
}
