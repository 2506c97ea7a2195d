// Where the checkout (or the installed copy) lives, for files that ship beside the code: the
// dashboard build, migrations, the demo models, the runtime entry. The code runs either from
// source (TypeScript under tsx: tests, development) or bundled into dist/ by scripts/build.mjs,
// where modules land in entry files and shared chunks at other depths; so paths are never
// taken relative to a module's own URL, but from the package root found above it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sluice') return dir;
      } catch {
        // not ours (or unreadable): keep looking upwards
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no sluice package.json above ${start}`);
    dir = parent;
  }
}

const here = fileURLToPath(import.meta.url);

/** The package root: the folder holding Sluice's package.json. */
export const repoRoot: string = findPackageRoot(dirname(here));

/** True when this process runs the compiled build (dist/), false under tsx from source. */
export const runningBuilt: boolean = here.endsWith('.js');

/** Where `npm run build` writes the compiled entry points. */
export const distDir: string = join(repoRoot, 'dist');

/**
 * The file to run for one of the program's entry points, given its source path relative to
 * the root (e.g. `runtime/server.ts`, or a plain `.mjs` worker): its compiled twin under dist/ when this process runs
 * the build, else the source itself (to be run under tsx).
 */
export function entryPath(sourcePath: string): string {
  return runningBuilt ? join(distDir, sourcePath.replace(/\.(ts|mjs)$/, '.js')) : join(repoRoot, sourcePath);
}
