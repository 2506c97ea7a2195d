// The build (scripts/build.mjs → dist/): each program's entry is its own file that runs under
// plain node (no tsx), the CLIs do their one job from dist/ (a module bundled into another
// entry must not act as a script there: the migrate CLI used to regenerate the Prisma
// clients on every run), and files beside the code are found from the package root.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../platform/paths.ts';

const run = promisify(execFile);
const node = (script: string, args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--enable-source-maps', join(repoRoot, 'dist', script), ...args], { cwd: repoRoot, env: { ...process.env, ...env } });

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('dist/', () => {
  it('holds one file per program, next to its source path', () => {
    for (const f of ['control/main.js', 'gateway/edge/main.js', 'runtime/server.js', 'xds/bootstrap-cli.js', 'control/orchestrator/kubernetes/render-cli.js', 'prisma/migrate.js', 'control/logs/search-worker.js']) {
      expect(existsSync(join(repoRoot, 'dist', f)), f).toBe(true);
      expect(existsSync(join(repoRoot, 'dist', `${f}.map`)), `${f}.map`).toBe(true);
    }
  });

  it('the log search worker thread starts from dist/ (the built control plane once looked for it beside its bundle, and every search failed)', async () => {
    const worker = new Worker(join(repoRoot, 'dist', 'control', 'logs', 'search-worker.js'));
    try {
      const first = await new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(first).toMatchObject({ ready: true });
    } finally {
      await worker.terminate();
    }
  });

  it('npm run db:migrate applies migrations from dist/ and does nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dist-'));
    dirs.push(dir);
    const { stdout, stderr } = await node('prisma/migrate.js', ['apply'], { DATABASE_URL: `file:${join(dir, 'db.sqlite')}` });
    expect(stdout).toMatch(/applied to file:.*_init/);
    expect(stdout + stderr).not.toContain('Generated Prisma Client');
  });

  it('npm run envoy:bootstrap and npm run k8s:render answer from dist/', async () => {
    expect((await node('xds/bootstrap-cli.js', ['--json'])).stdout).toContain('"sluice_xds"');
    expect((await node('control/orchestrator/kubernetes/render-cli.js', ['--help'])).stdout).toContain('usage: npm run k8s:render');
  });
});
