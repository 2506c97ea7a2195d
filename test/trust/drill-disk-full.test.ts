// Drill: the data dir's disk fills up under a bounded loopback load on the local edge. The
// test mounts a small tmpfs (CI runs as root; elsewhere the test says it needs root) as the
// edge's data folder — the inference-log spool and the object store both live on it — fills
// it with a file until ENOSPC, keeps the load running, then frees the space. Predictions are
// answered throughout (a prediction is worth more than its record), the outage raises
// INFERENCE_LOG_SPOOL_FAILED (and RECOVERED), and nothing is silently lost: every answered
// request is either recorded or counted in sluice_inference_records_total{outcome="failed"}.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceLogEvent } from '../../gateway/inference-log/writer.ts';
import { dpVersion, sleep, startFakeRuntime, startStack, type FakeRuntime, type Stack } from '../edge/helpers.ts';
import { readRecords } from '../gateway/helpers.ts';

/** Writes zeros into `file` until the disk is full; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024);
  let total = 0;
  try {
    for (;;) total += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return total;
}

describe('drill: the data dir disk is full', () => {
  let mount: string;
  let rt: FakeRuntime;
  let stack: Stack;
  const events: InferenceLogEvent[] = [];

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this drill mounts a tmpfs and needs root (CI runs as root)');
    mount = mkdtempSync(join(tmpdir(), 'sluice-diskfull-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mount]);
    rt = await startFakeRuntime('v1');
    stack = await startStack(
      { groups: [{ groupId: 'g', name: 'wine', versions: [dpVersion({ name: 'v1', weight: 100, ports: [rt.port], capture: true })] }] },
      { dir: mount, onEvent: (e) => events.push(e) },
    );
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await rt?.close();
    if (mount) {
      try {
        execFileSync('umount', [mount]);
      } finally {
        rmdirSync(mount);
      }
    }
  });

  it('answers throughout, raises an event, and every answered request is recorded or counted as failed', async () => {
    type Phase = 'free' | 'full' | 'freed';
    let phase: Phase = 'free';
    const counts = { sent: 0, answered: 0, failed: 0 };
    const byPhase: Record<Phase, number> = { free: 0, full: 0, freed: 0 };
    const failures: string[] = [];
    const answered = new Set<string>();
    let stopped = false;
    const worker = async (w: number) => {
      for (let i = 0; !stopped; i++) {
        const id = `disk-drill-${w}-${i}`;
        const at = phase;
        counts.sent++;
        try {
          const res = await fetch(`${stack.url}/services/wine/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ client_request_id: id, dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } }),
          });
          const text = await res.text();
          if (res.status === 200) { counts.answered++; byPhase[at]++; answered.add(id); }
          else { counts.failed++; failures.push(`${res.status} ${text.slice(0, 120)}`); }
        } catch (err) {
          counts.failed++;
          failures.push(String(err));
        }
      }
    };
    const workers = [0, 1, 2].map(worker); // bounded: three requests in flight at most
    await sleep(1000);
    const filler = join(mount, 'filler');
    const filled = fill(filler);
    phase = 'full';
    await sleep(2000);
    rmSync(filler);
    phase = 'freed';
    await sleep(1500);
    stopped = true;
    await Promise.all(workers);
    expect(await stack.writer.flush(20_000)).toBe(true);

    const recorded = new Set((await readRecords(stack.store)).map((r) => r.record.client_request_id ?? '').filter((id) => id.startsWith('disk-drill-')));
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    const failedRecords = Number(/sluice_inference_records_total\{outcome="failed"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    const unrecorded = [...answered].filter((id) => !recorded.has(id)).length;
    // lost = answered with neither a record nor a count
    const lost = unrecorded - failedRecords;
    console.log(`[drill disk-full] filled ${filled} bytes; sent ${counts.sent}, answered ${counts.answered}, failed ${counts.failed}, recorded ${recorded.size}, not recorded but counted ${failedRecords}, lost ${lost}; answered by phase ${JSON.stringify(byPhase)}; events ${events.map((e) => e.type).join(',')}`);
    expect(failures).toEqual([]);
    expect(counts.sent).toBe(counts.answered);
    for (const p of ['free', 'full', 'freed'] as const) expect(byPhase[p]).toBeGreaterThan(0);
    const types = events.map((e) => e.type);
    expect(types).toContain('INFERENCE_LOG_SPOOL_FAILED');
    expect(types.lastIndexOf('INFERENCE_LOG_SPOOL_RECOVERED')).toBeGreaterThan(types.lastIndexOf('INFERENCE_LOG_SPOOL_FAILED'));
    // uploads into the (full) object store fail too; they recover as well
    if (types.includes('INFERENCE_LOG_STORE_UNAVAILABLE')) {
      expect(types.lastIndexOf('INFERENCE_LOG_STORE_RECOVERED')).toBeGreaterThan(types.lastIndexOf('INFERENCE_LOG_STORE_UNAVAILABLE'));
    }
    expect(failedRecords).toBeGreaterThan(0);
    expect(unrecorded).toBe(failedRecords);
    expect(lost).toBe(0);
    // the events name the cause
    expect(events.find((e) => e.type === 'INFERENCE_LOG_SPOOL_FAILED')?.message).toMatch(/ENOSPC|no space/i);
  }, 90_000);
});
