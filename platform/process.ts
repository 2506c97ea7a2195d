// How a Sluice process runs from its composition root: start it, stop it cleanly on SIGINT
// or SIGTERM (once, however many signals arrive), and exit non-zero with a one-line reason
// when it cannot start. Shared by `npm start` (control/main.ts) and `npm run edge`.
import { ConfigError } from './settings.ts';

export function runUntilSignalled(name: string, start: () => Promise<() => Promise<void>>): void {
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
