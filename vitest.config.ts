import { defineConfig } from 'vitest/config';

// One config for the whole suite: integration tests talk to real PostgreSQL, Redis,
// child processes and gRPC servers, so they get generous timeouts and run files in
// separate forks (each suite owns its own database and ports).
export default defineConfig({
  // Node resolves `graphql` (no "exports" map) to its CommonJS build, and so do the
  // libraries built on it (Pothos, Apollo); Vite would pick the .mjs build for our own
  // files. One build only, or schema objects fail graphql's cross-realm checks.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    // the spawned product runs from dist/: rebuild it first when the sources changed
    globalSetup: ['test/global-build.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
