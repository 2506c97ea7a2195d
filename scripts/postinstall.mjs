// Runs after `npm install`: generates the Prisma clients (both providers) and the Envoy API
// types, and builds the dashboard, so that `npm start` needs nothing else. Nothing here
// downloads a binary.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

function run(label, cmd, args) {
  const res = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true' } });
  if (res.status !== 0) {
    console.error(`[postinstall] ${label} failed (exit ${res.status})`);
    process.exit(res.status ?? 1);
  }
}

if (existsSync('prisma/generate.ts')) run('prisma generate', process.execPath, ['--import', 'tsx', 'prisma/generate.ts']);
if (existsSync('proto/generate.ts')) run('Envoy API types', process.execPath, ['--import', 'tsx', 'proto/generate.ts']);
if (existsSync('web/vite.config.ts')) run('dashboard build', process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
