// Part of the `lint` project: the sources pass ESLint (eslint.config.js) at zero warnings, as
// part of `npm test`. `npm run lint` runs the same check directly; this file is what makes a lint
// problem fail the test command (svelte-check runs beside it in svelte-check.test.ts).
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

it('ESLint reports no error and no warning', async () => {
  const eslint = new ESLint({ cwd: root });
  const results = await eslint.lintFiles(['.']);
  const withProblems = results.filter((r) => r.errorCount + r.warningCount + r.fatalErrorCount > 0);
  const report = withProblems.length ? await (await eslint.loadFormatter('stylish')).format(withProblems) : '';
  expect(report).toBe('');
  // the config really linted the tree (an ignore pattern gone wrong would pass trivially)
  expect(results.length).toBeGreaterThan(100);
});
