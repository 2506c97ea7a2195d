// ESLint (flat config) for the TypeScript and JavaScript sources; `npm run lint` runs it at zero
// warnings and `npm test` runs lint first. typescript-eslint's recommended rules (syntax only,
// no type information: fast enough for every test run) plus a few that guard real mistakes:
// the layering rule (data-plane modules never import the control plane), committed `.only`
// in tests (it silently skips the rest of the suite), and loose equality. The Svelte files are
// checked by svelte-check (`npm run lint` runs both).
import js from '@eslint/js';
import globals from 'globals';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // generated code and what git ignores (build output, data dirs, reports)
    ignores: ['**/node_modules/**', 'web/dist/**', 'dist/**', 'prisma/generated/**', 'proto/generated/**', 'web/src/lib/types.ts', 'test/e2e/__screenshots__/**', '.sluice/**', 'bench-results/**', 'coverage/**', '.tmp/**', '**/.*.build.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // gateway/, runtime/ and xds/ are the data plane: they depend on platform/, never on control/
    files: ['gateway/**', 'runtime/**', 'xds/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/control/**', '../control', '../../control'], message: 'the data plane must not import control/: move shared code to platform/' }] }],
    },
  },
  {
    files: ['test/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'a committed .only skips the rest of the suite' },
        { object: 'test', property: 'only', message: 'a committed .only skips the rest of the suite' },
        { object: 'describe', property: 'only', message: 'a committed .only skips the rest of the suite' },
      ],
    },
  },
  {
    files: ['web/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
