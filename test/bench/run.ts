// `npm run bench`: runs every benchmark script in this folder (each prints its table and
// writes bench-results/<name>.json), one after another so they do not disturb each other.
// `npm run bench -- xds edge` runs only the named ones; anything from the first `--flag` on
// is passed to each of them (`npm run bench -- table --rows 200000 --batch 1`).
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith('--'));
const only = firstFlag < 0 ? args : args.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
const known = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'));
const unknown = only.filter((n) => !known.includes(`${n}.ts`));
if (unknown.length > 0) {
  console.error(`no benchmark named ${unknown.join(', ')}; there are: ${known.map((f) => f.replace(/\.ts$/, '')).join(', ')}`);
  process.exit(2);
}
const scripts = known
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))
  .sort();

let failed = 0;
for (const script of scripts) {
  console.log(`\n=== ${script} ===`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(here, script), ...flags], { stdio: 'inherit', env: process.env });
  if (res.status !== 0) {
    failed++;
    console.error(`${script} failed (exit ${res.status})`);
  }
}
console.log(`\n${scripts.length - failed} benchmarks finished, ${failed} failed; results in bench-results/`);
process.exit(failed > 0 ? 1 : 0);
