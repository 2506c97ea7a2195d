// Part of the `lint` project: the dashboard's Svelte components and TypeScript pass svelte-check
// at zero warnings, as part of `npm test` (`npm run lint` runs the same command directly).
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

it('svelte-check reports no error and no warning in the dashboard', async () => {
  const bin = resolve(root, 'node_modules/svelte-check/bin/svelte-check');
  const run = promisify(execFile)(process.execPath, [bin, '--tsconfig', './web/tsconfig.json', '--fail-on-warnings', '--output', 'machine'], { cwd: root, maxBuffer: 16 << 20 });
  const { stdout } = await run.catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`svelte-check failed:\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
  });
  // machine output ends with: <time> COMPLETED <files> FILES <errors> ERRORS <warnings> WARNINGS ...
  const summary = /COMPLETED (\d+) FILES (\d+) ERRORS (\d+) WARNINGS/.exec(stdout);
  expect(summary, stdout).not.toBeNull();
  const [, files, errors, warnings] = summary!.map(Number);
  expect({ errors, warnings }).toEqual({ errors: 0, warnings: 0 });
  expect(files).toBeGreaterThan(10);
});
