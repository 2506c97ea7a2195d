// The edge in front of the real model runtime (runtime/server.ts) serving the demo wine
// classifiers: the same predictions as calling the runtime directly, the 80/20 split,
// the runtime's 422 passed through as the contract error, and a model push that swaps a
// version out under load without a 5xx.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_DIR, demoEnv, spawnRuntime, waitReady, type Heldout, type SpawnedRuntime } from '../runtime/spawn-runtime.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { dpVersion, post, startStack, type Stack } from './helpers.ts';

const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const portOf = (r: SpawnedRuntime) => Number(new URL(r.url).port);

describe('edge → real runtime (demo wine classifiers)', () => {
  let r1: SpawnedRuntime, r2: SpawnedRuntime;
  let stack: Stack;
  let predict: string;
  const wine = (versions: Parameters<typeof dpVersion>[0][]): DataPlaneModel => ({ groups: [{ groupId: 'gid', name: 'wine-quality', versions: versions.map(dpVersion) }] });

  beforeAll(async () => {
    [r1, r2] = await Promise.all([spawnRuntime(demoEnv('1')), spawnRuntime(demoEnv('2'))]);
    await Promise.all([waitReady(r1.url), waitReady(r2.url)]);
    stack = await startStack(
      wine([
        { name: 'v1', weight: 80, ports: [portOf(r1)] },
        { name: 'v2', weight: 20, ports: [portOf(r2)] },
      ]),
    );
    predict = `${stack.url}/services/wine-quality/predict`;
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all([r1?.stop(), r2?.stop()]);
  });

  it('answers the model’s predictions for one row and for a batch, per pinned version', async () => {
    for (const v of ['1', '2'] as const) {
      const batch = await post(predict, { client_request_id: `batch-${v}`, dataframe_split: { columns: heldout.columns, data: heldout.rows } }, { 'x-sluice-version': `v${v}` });
      expect(batch.status).toBe(200);
      expect(batch.json).toMatchObject({ client_request_id: `batch-${v}`, version: `v${v}`, predictions: heldout.versions[v].predictions });
      const one = await post(predict, { dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } }, { 'x-sluice-version': `v${v}` });
      expect(one.json.predictions).toEqual([heldout.versions[v].predictions[0]]);
    }
  });

  it('splits 80/20 within ±5 points over 1,000 requests', async () => {
    const counts: Record<string, number> = {};
    const body = { dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } };
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 1000) {
          next++;
          const r = await post(predict, body);
          const k = r.status === 200 ? String(r.json.version) : `HTTP ${r.status}`;
          counts[k] = (counts[k] ?? 0) + 1;
        }
      }),
    );
    expect((counts.v1 ?? 0) + (counts.v2 ?? 0)).toBe(1000);
    expect(Math.abs((counts.v1 ?? 0) / 10 - 80)).toBeLessThanOrEqual(5);
  });

  it('passes the runtime’s 422 through for wrong columns and strings that are not numbers', async () => {
    const wrong = await post(predict, { dataframe_split: { columns: ['alcohol', 'nope'], data: [[1, 2]] } });
    expect(wrong.status).toBe(422);
    expect(wrong.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringContaining('Model is missing inputs'), request_id: expect.any(String) });
    const row = heldout.rows[0]!.map((x, i) => (i === 0 ? 'twelve' : x));
    const strings = await post(predict, { dataframe_split: { columns: heldout.columns, data: [row] } });
    expect(strings.status).toBe(422);
    expect(strings.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringContaining('alcohol') });
    // a number sent as a string is cast, as MLflow casts it
    const cast = await post(predict, { dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]!.map(String)] } }, { 'x-sluice-version': 'v1' });
    expect(cast.status).toBe(200);
    expect(cast.json.predictions).toEqual([heldout.versions['1'].predictions[0]]);
  });

  it('a new model push that drops v2 moves its traffic to v1 with no 5xx', async () => {
    const body = { dataframe_split: { columns: heldout.columns, data: [heldout.rows[1]] } };
    const statuses: number[] = [];
    const versions = new Set<string>();
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          const r = await post(predict, body);
          statuses.push(r.status);
          if (r.status === 200) versions.add(String(r.json.version));
        }
      }),
    );
    // under load, both versions answering (80/20), before the push
    await vi.waitFor(() => expect(versions).toEqual(new Set(['v1', 'v2'])), { timeout: 10_000 });
    await stack.setModel(wine([{ name: 'v1', weight: 100, ports: [portOf(r1)] }]));
    await r2.stop(); // the old version's runtime goes away after the push
    // keep the load on until a good number of requests ran without v2's runtime
    const afterStop = statuses.length;
    await vi.waitFor(() => expect(statuses.length).toBeGreaterThanOrEqual(afterStop + 40), { timeout: 10_000 });
    stop = true;
    await load;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(versions).toEqual(new Set(['v1', 'v2']));
    const after = await post(predict, body);
    expect(after.json.version).toBe('v1');
  });
});
