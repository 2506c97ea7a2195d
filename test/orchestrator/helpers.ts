// Shared bits of the orchestrator tests: deployments to start, a collector that waits for
// reports, and process checks.

import type { Orchestrator, OrchestratorReport, VersionDeployment } from '../../control/orchestrator/port.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FAKE_RUNTIME = fileURLToPath(new URL('./fixtures/fake-runtime.mjs', import.meta.url));

export function modelDeployment(overrides: Partial<VersionDeployment> = {}): VersionDeployment {
  return {
    versionId: 'ver-1',
    groupName: 'wine',
    versionName: 'v1',
    replicas: 1,
    source: {
      kind: 'model',
      modelName: 'wine-classifier',
      modelVersion: '1',
      artifactUri: '/nonexistent/model.onnx',
      format: 'onnx',
      signature: { inputs: [{ name: 'a', type: 'double' }], outputs: [{ name: 'label', type: 'long' }] },
    },
    resources: { cpu: 0.5, memoryGiB: 0.5, gpuType: null, gpuCount: 0 },
    dedicated: null,
    ...overrides,
  };
}

export function imageDeployment(command: string[], overrides: Partial<VersionDeployment> = {}): VersionDeployment {
  return modelDeployment({
    source: { kind: 'image', image: 'example/app:1', command, env: [], port: 8080, registryAuth: null },
    ...overrides,
  });
}

export class Reports {
  readonly all: OrchestratorReport[] = [];
  private waiters: { pred: (r: OrchestratorReport[]) => boolean; resolve: () => void }[] = [];
  private readonly off: () => void;

  constructor(orchestrator: Orchestrator) {
    this.off = orchestrator.onReport((r) => {
      this.all.push(r);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(this.all)) {
          w.resolve();
          return false;
        }
        return true;
      });
    });
  }

  async until(pred: (all: OrchestratorReport[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (pred(this.all)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.all.slice(-15))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  versionStatus(versionId: string, status: string, from = 0) {
    return (all: OrchestratorReport[]) => all.slice(from).some((r) => r.type === 'version' && r.versionId === versionId && r.status === status);
  }

  events(reason: string, name?: string) {
    return this.all.filter(
      (r): r is Extract<OrchestratorReport, { type: 'event' }> => r.type === 'event' && r.reason === reason && (name === undefined || r.resourceName === name),
    );
  }

  /** The latest report for each instance. */
  instances(versionId: string) {
    const latest = new Map<string, Extract<OrchestratorReport, { type: 'instance' }>['instance']>();
    for (const r of this.all) {
      if (r.type === 'instance' && r.versionId === versionId) latest.set(r.instance.name, r.instance);
      if (r.type === 'instanceRemoved' && r.versionId === versionId) latest.delete(r.name);
    }
    return latest;
  }

  dispose() {
    this.off();
  }
}

/** process.kill(pid, 0), except that a zombie waiting for init to reap it counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) Z /s.test(stat);
  } catch {
    return false;
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function invoke(port: number, rows: number[][]): Promise<{ status: number; body: { predictions?: unknown[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dataframe_split: { columns: rows[0]?.map((_, i) => `c${i}`) ?? [], data: rows } }),
  });
  return { status: res.status, body: (await res.json()) as { predictions?: unknown[] } };
}

export const fastTiming = {
  readinessPeriodMs: 50,
  gracePeriodMs: 1_500,
  logPollMs: 50,
  adoptedExitPollMs: 100,
  livenessPeriodMs: 500,
  backoff: { initialMs: 100, maxMs: 400, resetAfterMs: 60_000, crashLoopLimit: 3 },
};
