import { defineConfig } from 'vitest/config';

// Three projects:
// - `lint`: ESLint and svelte-check at zero warnings (test/lint), so lint is part of `npm test`.
// - `unit`: pure files (no PostgreSQL, Redis, Chromium, child processes; in-process loopback
//   servers are fine). `npm test -- --project unit` runs them in seconds on any machine.
// - `integration`: everything else, by default, so a new test file lands here unless it is
//   named *.unit.test.ts or listed below. Its global setup (test/setup/services.ts) provides
//   PostgreSQL, Redis and Chromium (the environment's, the running ones, or private ones) and
//   tests read them through test/fixtures/services.ts. Real servers, child processes and gRPC,
//   so generous timeouts; files run in separate forks, each owning its database and ports.
const unitFiles = [
  'test/**/*.unit.test.ts',
  'test/auth/*.test.ts',
  'test/control/contract.test.ts',
  'test/control/schema-sdl.test.ts',
  'test/control/settings.test.ts',
  'test/control/status.test.ts',
  'test/control/version-rules.test.ts',
  'test/edge/envelope.test.ts',
  'test/edge/routing.test.ts',
  'test/edge/xds-client.test.ts',
  'test/orchestrator/kubernetes.test.ts',
  'test/orchestrator/local-units.test.ts',
  'test/protocols/records.test.ts',
  'test/pubsub/memory.test.ts',
  'test/runtime/config.test.ts',
  'test/runtime/scoring.test.ts',
  'test/xds/ads.test.ts',
  'test/xds/cache.test.ts',
  'test/xds/delta.test.ts',
  'test/xds/proto.test.ts',
  'test/xds/publisher.test.ts',
  'test/xds/translate.test.ts',
];
const lintFiles = ['test/lint/*.test.ts'];
const notTests = ['test/bench/**', 'node_modules/**'];

export default defineConfig({
  // Node resolves `graphql` (no "exports" map) to its CommonJS build, and so do the
  // libraries built on it (Pothos, Apollo); Vite would pick the .mjs build for our own
  // files. One build only, or schema objects fail graphql's cross-realm checks.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'lint', include: lintFiles, exclude: notTests, testTimeout: 300_000 },
      },
      {
        extends: true,
        // pure files share module instances within a worker (isolate: false): the Envoy protos
        // and the GraphQL schema load once per worker instead of once per file
        test: { name: 'unit', include: unitFiles, exclude: notTests, isolate: false, testTimeout: 20_000, hookTimeout: 30_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...notTests, ...unitFiles, ...lintFiles],
          // the spawned product runs from dist/: rebuild it first when the sources changed
          globalSetup: ['test/global-build.ts', 'test/setup/services.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
