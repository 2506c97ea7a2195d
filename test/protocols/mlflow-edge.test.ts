// The MLflow case table (mlflow-cases.ts) against the edge's POST /services/{group}/predict
// in front of the same runtime: the same status and error code for every case as the
// runtime answers itself, the predictions wrapped with the edge's own fields only
// (client_request_id, request_id, version), and every error `{"error_code","message","request_id"}`.
// Cases the edge refuses itself never reach the runtime; the rest are its verdict, passed through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpawnedRuntime } from '../runtime/spawn-runtime.ts';
import { dpVersion, startStack, type Stack } from '../edge/helpers.ts';
import { MLFLOW_CASES, caseRequest } from './mlflow-cases.ts';
import { spawnTypedRuntime } from './fixtures.ts';

let rt: SpawnedRuntime;
let stack: Stack;
let predict: string;

beforeAll(async () => {
  rt = await spawnTypedRuntime();
  stack = await startStack({ groups: [{ groupId: 'g-typed', name: 'typed', versions: [dpVersion({ name: 'v1', weight: 100, ports: [Number(new URL(rt.url).port)] })] }] });
  predict = `${stack.url}/services/typed/predict`;
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await rt?.stop();
});

describe('MLflow scoring cases at the edge (/predict)', () => {
  for (const c of MLFLOW_CASES) {
    it(`${c.status} ${c.name}`, async () => {
      const res = await fetch(predict, caseRequest(c));
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(c.status);
      expect(typeof json.request_id === 'string' || res.status !== 200).toBe(true);
      if (c.status === 200) {
        expect(json).toEqual({ client_request_id: null, request_id: expect.any(String), version: 'v1', predictions: c.predictions });
      } else {
        expect(Object.keys(json).filter((k) => k !== 'details').sort()).toEqual(['error_code', 'message', 'request_id']);
        expect(json.error_code).toBe(c.code);
        if (c.message) expect(json.message).toContain(c.message);
      }
    });
  }

  it('the edge answers exactly what the runtime answers, case for case', async () => {
    for (const c of MLFLOW_CASES) {
      const [atRuntime, atEdge] = await Promise.all([fetch(`${rt.url}/invocations`, caseRequest(c)), fetch(predict, caseRequest(c))]);
      const [r, e] = (await Promise.all([atRuntime.json(), atEdge.json()])) as Record<string, unknown>[];
      expect([c.name, atEdge.status], c.name).toEqual([c.name, atRuntime.status]);
      if (atRuntime.status === 200) expect(e?.predictions).toEqual(r?.predictions);
      else expect([e?.error_code, e?.message]).toEqual([r?.error_code, r?.message]);
    }
  });

  it('client_request_id is echoed (a number as a string) and is the only field the edge reads', async () => {
    const one = await fetch(predict, caseRequest({ name: '', body: { client_request_id: 7, dataframe_split: { columns: ['x', 'n'], data: [[1, 2]] } }, status: 200 }));
    expect(await one.json()).toMatchObject({ client_request_id: '7', version: 'v1', predictions: [2] });
    const bad = await fetch(predict, caseRequest({ name: '', body: { client_request_id: { a: 1 }, dataframe_split: { columns: ['x', 'n'], data: [[1, 2]] } }, status: 400 }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error_code: 'BAD_REQUEST', message: 'client_request_id must be a string' });
  });
});
