// The logger shape the edge writes to: pino's (obj, msg) form, so `npm run edge` passes a
// pino logger and tests pass nothing.
export interface EdgeLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: EdgeLogger = { debug() {}, info() {}, warn() {}, error() {} };
