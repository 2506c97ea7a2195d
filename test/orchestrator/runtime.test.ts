// The local orchestrator running the real built-in runtime (runtime/server.ts) over the demo
// wine model: the default runtime command, the env contract and real predictions.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { createLocalOrchestrator } from '../../control/orchestrator/local/orchestrator.ts';
import type { ModelSignature } from '../../platform/model-signature.ts';
import { alive, modelDeployment, Reports } from './helpers.ts';

const demo = fileURLToPath(new URL('../../runtime/demo/', import.meta.url));
const heldout = JSON.parse(readFileSync(join(demo, 'heldout.json'), 'utf8')) as {
  columns: string[];
  rows: number[][];
  versions: Record<string, { predictions: number[] }>;
};

let dataDir = '';
let close: (() => Promise<void>) | null = null;
afterEach(async () => {
  await close?.();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

it('runs the demo wine model in the real runtime and answers /invocations', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-orch-rt-'));
  const o = createLocalOrchestrator({
    dataDir,
    capacity: { cpu: 4, memoryGiB: 8, gpus: [] },
    timing: { readinessPeriodMs: 100, logPollMs: 100, gracePeriodMs: 3_000 },
  });
  close = () => o.close();
  const reports = new Reports(o);
  const signature = JSON.parse(readFileSync(join(demo, 'wine-classifier/1/signature.json'), 'utf8')) as ModelSignature;
  await o.deploy(
    modelDeployment({
      versionId: 'wine-v1',
      groupName: 'wine-quality',
      versionName: 'v1',
      source: { kind: 'model', modelName: 'wine-classifier', modelVersion: '1', artifactUri: join(demo, 'wine-classifier/1/model.onnx'), format: 'onnx', signature },
    }),
  );
  await reports.until(reports.versionStatus('wine-v1', 'RUNNING'), 'runtime ready', 45_000);
  const inst = reports.instances('wine-v1').get('wine-quality-v1-0');
  const res = await fetch(`http://127.0.0.1:${inst?.port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dataframe_split: { columns: heldout.columns, data: heldout.rows.slice(0, 5) } }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { predictions: unknown[] };
  const labels = body.predictions.map((p) => (typeof p === 'object' && p !== null && 'label' in p ? Number((p as { label: unknown }).label) : Number(p)));
  expect(labels).toEqual(heldout.versions['1']?.predictions.slice(0, 5));
  const ready = await fetch(`http://127.0.0.1:${inst?.port}/ready`);
  expect(ready.status).toBe(200);
  await o.stop('wine-v1');
  expect(alive(inst?.pid as number)).toBe(false);
}, 90_000);
