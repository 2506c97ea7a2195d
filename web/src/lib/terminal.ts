// The browser side of the instance terminal (control/http/terminal.ts documents the
// protocol): a WebSocket to /terminal that authenticates in its first message, and the
// line editor used where the replica's shell runs over pipes (no pseudo-terminal, so
// nothing echoes keystrokes or handles backspace but us).

export interface TerminalHandlers {
  onOpened(instance: string, tty: boolean): void;
  onOutput(data: string): void;
  onExit(code: number | null): void;
  /** the socket closed; `message` is the server's reason when it refused or failed */
  onClosed(code: number, message: string | null): void;
}

export interface TerminalConnection {
  input(data: string): void;
  resize(cols: number, rows: number): void;
  close(): void;
}

type ServerMessage =
  | { type: 'opened'; instance: string; tty?: boolean }
  | { type: 'output'; data: string }
  | { type: 'exit'; code: number | null }
  | { type: 'error'; code: string; message: string };

/** What a close code means to an operator, when the server sent no message of its own. */
export function describeClose(code: number): string {
  switch (code) {
    case 1000: return 'The shell ended.';
    case 1001: return 'The control plane is shutting down.';
    case 1006: return 'The connection was lost.';
    case 1009: return 'That input was too large to send at once.';
    case 4400: return 'The terminal received a message it did not understand.';
    case 4401: return 'Your session is no longer valid; sign in again.';
    case 4403: return 'Only admins may open a terminal.';
    case 4404: return 'This instance no longer exists.';
    case 4408: return 'The terminal was closed after a period without input.';
    case 4409: return 'This instance is not running.';
    case 4429: return 'The terminal fell behind the shell\'s output and was closed.';
    case 4500: return 'The terminal could not be opened on this instance.';
    default: return `The terminal closed (code ${code}).`;
  }
}

export function terminalUrl(loc: Location = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/terminal`;
}

export function connectTerminal(
  options: { url: string; token: string; instanceId: string; cols: number; rows: number },
  handlers: TerminalHandlers,
): TerminalConnection {
  const ws = new WebSocket(options.url);
  let refusal: string | null = null;
  const send = (message: unknown) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  ws.onopen = () => send({ type: 'open', token: options.token, instanceId: options.instanceId, cols: options.cols, rows: options.rows });
  ws.onmessage = (event: MessageEvent) => {
    let message: ServerMessage;
    try {
      message = JSON.parse(String(event.data)) as ServerMessage;
    } catch {
      return;
    }
    if (message.type === 'opened') handlers.onOpened(message.instance, message.tty === true);
    else if (message.type === 'output') handlers.onOutput(message.data);
    else if (message.type === 'exit') handlers.onExit(message.code);
    else if (message.type === 'error') refusal = message.message;
  };
  ws.onclose = (event: CloseEvent) => handlers.onClosed(event.code, refusal);
  return {
    input: (data) => send({ type: 'input', data }),
    resize: (cols, rows) => send({ type: 'resize', cols, rows }),
    close: () => ws.close(1000),
  };
}

/**
 * Local line editing for a shell over pipes: keys are echoed here and a line goes to the
 * shell on Enter. Ctrl-C and Ctrl-U drop the line being typed (pipes carry no signals).
 */
export class LineEditor {
  private line = '';

  /** Feeds what xterm reports as typed or pasted; returns what to echo and the lines to send. */
  feed(data: string): { echo: string; lines: string[] } {
    let echo = '';
    const lines: string[] = [];
    // escape sequences (arrows, function keys) have no meaning in line mode
    // eslint-disable-next-line no-control-regex -- matching ESC (\x1b) is the point
    const keys = data.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1bO./g, '').replace(/\r\n/g, '\r');
    for (const ch of keys) {
      if (ch === '\r' || ch === '\n') {
        echo += '\r\n';
        lines.push(`${this.line}\n`);
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length > 0) {
          this.line = [...this.line].slice(0, -1).join('');
          echo += '\b \b';
        }
      } else if (ch === '\x03' || ch === '\x15') {
        echo += ch === '\x03' ? '^C\r\n' : '\b \b'.repeat([...this.line].length);
        this.line = '';
      } else if (ch === '\t') {
        this.line += ' ';
        echo += ' ';
      } else if (ch >= ' ') {
        this.line += ch;
        echo += ch;
      }
    }
    return { echo, lines };
  }
}
