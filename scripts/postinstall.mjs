// Runs after `npm install`: generates the Prisma clients (both providers) and the Envoy API
// types, compiles the program into dist/ (scripts/build.mjs), and builds the dashboard, so
// that `npm start` needs nothing else. Nothing here downloads a binary. The TypeScript
// generators run through esbuild (a dependency), not tsx, so a production install
// (`npm ci --omit=dev`) works too; there the dashboard build is skipped, since vite is a
// development tool — production images copy web/dist from their build stage.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { buildDist, runTs } from './build.mjs';

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true' };

function check(label, status) {
  if (status !== 0) {
    console.error(`[postinstall] ${label} failed (exit ${status})`);
    process.exit(status ?? 1);
  }
}

if (existsSync('prisma/generate.ts')) check('prisma generate', await runTs('prisma/generate.ts', [], env));
if (existsSync('proto/generate.ts')) check('Envoy API types', await runTs('proto/generate.ts', [], env));
{
  const { ms, files } = await buildDist();
  console.log(`[postinstall] build: ${files.length} files in dist/ (${ms} ms)`);
}
if (existsSync('web/vite.config.ts')) {
  if (existsSync('node_modules/vite/bin/vite.js')) {
    const res = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { stdio: 'inherit', env });
    check('dashboard build', res.status);
  } else {
    console.log('[postinstall] vite is not installed (production install): dashboard build skipped');
  }
}
