// `node scripts/run-ts.mjs <file.ts> [args]`: runs one TypeScript script with plain node (via
// esbuild, see build.mjs runTs), for tools that must work without tsx.
import { runTs } from './build.mjs';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args…]');
  process.exit(2);
}
process.exitCode = await runTs(file, args, { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true' });
