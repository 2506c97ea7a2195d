// The runtime the protocol tests score with: test/runtime/fixtures/per-column.onnx
// (x double[N,1], n int64[N,1] → y = x * n) under the signature {x: double, n: long}, spawned
// as the orchestrator spawns runtimes. Its answers are easy to check by hand: y = x * n.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, spawnRuntime, waitReady, type SpawnedRuntime } from '../runtime/spawn-runtime.ts';

export const TYPED_SIGNATURE = { inputs: [{ name: 'x', type: 'double' }, { name: 'n', type: 'long' }], outputs: [{ name: 'y', type: 'double' }] };

export async function spawnTypedRuntime(env: Record<string, string> = {}): Promise<SpawnedRuntime> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-protocols-'));
  const signature = path.join(dir, 'signature.json');
  writeFileSync(signature, JSON.stringify(TYPED_SIGNATURE));
  const rt = await spawnRuntime({
    SLUICE_MODEL_PATH: `${REPO_ROOT}test/runtime/fixtures/per-column.onnx`,
    SLUICE_MODEL_SIGNATURE: signature,
    SLUICE_MODEL_NAME: 'product',
    SLUICE_MODEL_VERSION: '3',
    ...env,
  });
  await waitReady(rt.url);
  return rt;
}
