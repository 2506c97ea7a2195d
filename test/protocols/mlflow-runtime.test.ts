// The MLflow case table (mlflow-cases.ts) against the runtime's POST /invocations: every
// case's status, and its predictions or its `{"error_code","message"}` body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpawnedRuntime } from '../runtime/spawn-runtime.ts';
import { MLFLOW_CASES, caseRequest } from './mlflow-cases.ts';
import { spawnTypedRuntime } from './fixtures.ts';

let rt: SpawnedRuntime;
beforeAll(async () => {
  rt = await spawnTypedRuntime();
});
afterAll(async () => {
  await rt?.stop();
});

describe('MLflow scoring cases at the runtime (/invocations)', () => {
  it('has at least 30 cases', () => expect(MLFLOW_CASES.length).toBeGreaterThanOrEqual(30));
  for (const c of MLFLOW_CASES) {
    it(`${c.status} ${c.name}`, async () => {
      const res = await fetch(`${rt.url}/invocations`, caseRequest(c));
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toBe('application/json');
      if (c.status === 200) {
        expect(json).toEqual({ predictions: c.predictions });
      } else {
        expect(Object.keys(json).filter((k) => k !== 'details').sort()).toEqual(['error_code', 'message']);
        expect(json.error_code).toBe(c.code);
        if (c.message) expect(json.message).toContain(c.message);
      }
    });
  }
});
