// `npm run build`: compiles the TypeScript program into dist/ with esbuild, so that
// `npm start`, `npm run edge`, the CLIs and every local model replica run plain JavaScript
// under node (tsx is for tests and development only). Each entry point below becomes
// dist/<same path>.js; code shared between them goes to dist/chunks/. npm packages stay
// external (resolved from node_modules at run time, native addons included). Source maps
// are written beside each file; the npm scripts run node with --enable-source-maps.
//
// Also exports runTs(), which postinstall uses to run the TypeScript generators (Prisma
// clients, Envoy types) before any build exists and without tsx (npm ci --omit=dev).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every program the package runs, by source path (their dist/ twin keeps the path). */
export const ENTRY_POINTS = [
  'control/main.ts', // npm start
  'gateway/edge/main.ts', // npm run edge
  'runtime/server.ts', // each local model replica, and the runtime image
  'xds/bootstrap-cli.ts', // npm run envoy:bootstrap
  'control/orchestrator/kubernetes/render-cli.ts', // npm run k8s:render
  'control/monitoring/prometheus-config-cli.ts', // npm run prometheus:config
  'control/inference/job-cli.ts', // npm run inference:job
  'prisma/migrate.ts', // npm run db:migrate
  'control/logs/search-worker.mjs', // the log search's worker thread (control/logs/search.ts)
];

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  // keep class and function names: they appear in logs, errors and stack traces
  keepNames: true,
};

/**
 * Compiles ENTRY_POINTS into dist/. The new build is written beside the old one and swapped in
 * by renames, so no stale chunk survives and a process starting meanwhile sees one whole build.
 */
export async function buildDist({ outdir = join(root, 'dist') } = {}) {
  const next = `${outdir}.next-${process.pid}`;
  const old = `${outdir}.old-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  const started = Date.now();
  let result;
  try {
    result = await build({
      ...common,
      absWorkingDir: root,
      entryPoints: ENTRY_POINTS,
      outdir: next,
      outbase: '.',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      metafile: true,
    });
    checkEntriesStayed(result.metafile, next);
  } catch (err) {
    rmSync(next, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(join(next, STAMP), `${new Date().toISOString()}\n`);
  if (existsSync(outdir)) renameSync(outdir, old);
  renameSync(next, outdir);
  rmSync(old, { recursive: true, force: true });
  const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
  return { ms: Date.now() - started, files };
}

/**
 * An entry module that another module imports is moved into a shared chunk, and its dist/
 * file only re-exports it: its "am I the script node runs?" check then compares the chunk's
 * URL and the program silently does nothing. Fail the build instead.
 */
function checkEntriesStayed(metafile, outdir) {
  const rel = relative(root, outdir);
  for (const entry of ENTRY_POINTS) {
    const out = join(rel, entry.replace(/\.(ts|mjs)$/, '.js'));
    const bytes = metafile.outputs[out]?.inputs?.[entry]?.bytesInOutput ?? 0;
    if (bytes === 0) {
      throw new Error(`${entry} is imported by another module, so the build moved it into a shared chunk; import what it exports from a module of its own instead`);
    }
  }
}

const STAMP = '.build-stamp';
const SOURCE_DIRS = ['control', 'gateway', 'runtime', 'xds', 'platform', 'prisma', 'proto'];

function newestSource(dir, newest = 0) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = newestSource(p, newest);
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.mjs')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds unless dist/ is newer than every TypeScript source (the test suite's global setup). */
export async function buildIfStale({ outdir = join(root, 'dist') } = {}) {
  const stamp = join(outdir, STAMP);
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  let newest = 0;
  for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) newest = newestSource(join(root, dir), newest);
  if (built > newest) return null;
  return buildDist({ outdir });
}

/** Bundles one TypeScript script into one .mjs with the build's options (benchmarks compare it with tsx). */
export async function bundleScript(sourcePath, outfile) {
  await build({ ...common, absWorkingDir: root, entryPoints: [resolve(root, sourcePath)], outfile });
  return outfile;
}

/**
 * Runs one TypeScript script with plain node: bundles it into a single .mjs next to the
 * source (so its import.meta.url-relative paths stay true), runs it, deletes it.
 */
export async function runTs(sourcePath, args = [], env = process.env) {
  const abs = resolve(root, sourcePath);
  const out = join(dirname(abs), `.${basename(abs, '.ts')}.build.mjs`);
  await build({ ...common, absWorkingDir: root, entryPoints: [abs], outfile: out, sourcemap: 'inline' });
  try {
    const res = spawnSync(process.execPath, ['--enable-source-maps', out, ...args], { stdio: 'inherit', env, cwd: root });
    return res.status ?? 1;
  } finally {
    rmSync(out, { force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { ms, files } = await buildDist();
  console.log(`[build] ${files.length} files in dist/ (${ms} ms)`);
}
