// Test helper: start `node --import tsx runtime/server.ts` (or the build, dist/runtime/server.js)
// as the orchestrator will, on a
// free port (PORT=0; the port is read from the "runtime listening" log line), and stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEMO_DIR = `${REPO_ROOT}runtime/demo`;

export interface SpawnedRuntime {
  url: string;
  proc: ChildProcess;
  /** Every line the process wrote, stdout and stderr. */
  output: string[];
  stop(): Promise<number | null>;
}

export function spawnRuntime(env: Record<string, string>, options: { built?: boolean } = {}): Promise<SpawnedRuntime> {
  const argv = options.built ? ['--enable-source-maps', 'dist/runtime/server.js'] : ['--import', 'tsx', 'runtime/server.ts'];
  const proc = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        output.push(line);
        if (line.includes('"runtime listening"')) {
          const { port } = JSON.parse(line) as { port: number };
          resolve({ url: `http://127.0.0.1:${port}`, proc, output, stop });
        }
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`runtime exited with ${code} before listening:\n${output.join('\n')}`)));
  });
}

/** Poll /ready until 200 (or fail after `timeoutMs`). */
export async function waitReady(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/ready`).catch(() => null);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`runtime at ${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function demoEnv(version: '1' | '2'): Record<string, string> {
  return {
    SLUICE_MODEL_PATH: `${DEMO_DIR}/wine-classifier/${version}/model.onnx`,
    SLUICE_MODEL_SIGNATURE: `${DEMO_DIR}/wine-classifier/${version}/signature.json`,
    SLUICE_MODEL_NAME: 'wine-classifier',
    SLUICE_MODEL_VERSION: version,
  };
}

export interface Heldout {
  columns: string[];
  rows: number[][];
  labels: number[];
  versions: Record<'1' | '2', { predictions: number[]; probabilities: number[][]; accuracy: number }>;
}
