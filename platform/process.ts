// How a Sluice process runs from its composition root: start it, stop it cleanly on SIGINT
// or SIGTERM (once, however many signals arrive), and exit non-zero with a one-line reason
// when it cannot start. Shared by `npm start` (control/main.ts) and `npm run edge`.
import { ConfigError } from './settings.ts';
import { isDatabaseUnavailable } from './db/unavailable.ts';

/**
 * The last line of defence during a database outage: a background task whose query failed
 * because PostgreSQL is unreachable and whose rejection nobody handled is logged (with the
 * error, so the task can be found and fixed) instead of ending the process — an outage of
 * the database must not take the control plane or the edge down. Any other unhandled
 * rejection still ends the process, as Node does by default.
 */
export function surviveDatabaseOutages(name: string, write: (line: string) => void = (l) => process.stderr.write(l)): (reason: unknown) => void {
  const handler = (reason: unknown) => {
    if (!isDatabaseUnavailable(reason)) throw reason;
    const err = reason instanceof Error ? { type: reason.name, message: reason.message, stack: reason.stack } : { message: String(reason) };
    write(`${JSON.stringify({ level: 50, time: Date.now(), name, code: 'DATABASE_UNAVAILABLE', err, msg: 'unhandled rejection of a background task: the database is unavailable; going on' })}\n`);
  };
  process.on('unhandledRejection', handler);
  return handler;
}

export function runUntilSignalled(name: string, start: () => Promise<() => Promise<void>>): void {
  surviveDatabaseOutages(name);
  start()
    .then((stop) => {
      let stopping = false;
      const shutdown = () => {
        if (stopping) return;
        stopping = true;
        stop().then(
          () => process.exit(0),
          (error: unknown) => {
            console.error(error);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    })
    .catch((error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      const coded = typeof code === 'string' && /^[A-Z_]+$/.test(code);
      console.error(`[${name}] failed to start${coded ? ` (${code})` : ''}: ${error instanceof Error ? error.message : String(error)}`);
      // a bad setting or a coded refusal (DATA_DIR_IN_USE, ...) is explained by its message;
      // anything else gets its stack too
      if (error instanceof Error && error.stack && !(error instanceof ConfigError) && !coded) console.error(error.stack);
      process.exit(1);
    });
}
