// A full disk under the local edge: captured requests are still answered 200 (a prediction is
// worth more than its record), the outage raises one INFERENCE_LOG_SPOOL_FAILED event and
// counts each lost record in /metrics; once space is back, records flow again.
import { openSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceLogEvent } from '../../gateway/inference-log/writer.ts';
import type { SpoolFs } from '../../gateway/inference-log/spool.ts';
import { dpVersion, post, row, startFakeRuntime, startStack, type FakeRuntime, type Stack } from './helpers.ts';
import { readRecords } from '../gateway/helpers.ts';

class FillableDisk implements SpoolFs {
  full = false;
  openSync(file: string, flags: number, mode: number): number {
    return openSync(file, flags, mode);
  }
  writeSync(fd: number, buffer: Buffer, offset: number, length: number): number {
    if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return writeSync(fd, buffer, offset, length);
  }
}

describe('edge: capture on a full disk', () => {
  let rt: FakeRuntime;
  let stack: Stack;
  const disk = new FillableDisk();
  const events: InferenceLogEvent[] = [];

  beforeAll(async () => {
    rt = await startFakeRuntime('v1');
    stack = await startStack(
      { groups: [{ groupId: 'g', name: 'wine', versions: [dpVersion({ name: 'v1', weight: 100, ports: [rt.port], capture: true })] }] },
      { spoolFs: disk, onEvent: (e) => events.push(e) },
    );
  });
  afterAll(async () => {
    await stack.close();
    await rt.close();
  });

  it('answers 200 while records cannot be written, with an event and a metric, and records again after', async () => {
    const url = `${stack.url}/services/wine/predict`;
    expect((await post(url, { client_request_id: 'ok-1', ...row() })).status).toBe(200);
    disk.full = true;
    for (let i = 0; i < 3; i++) expect((await post(url, { client_request_id: `lost-${i}`, ...row() })).status).toBe(200);
    disk.full = false;
    expect((await post(url, { client_request_id: 'ok-2', ...row() })).status).toBe(200);

    expect(events.map((e) => e.type)).toEqual(['INFERENCE_LOG_SPOOL_FAILED', 'INFERENCE_LOG_SPOOL_RECOVERED']);
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/sluice_inference_spool_errors_total\{code="ENOSPC"\} 3/);
    expect(metrics).toMatch(/sluice_inference_records_total\{outcome="failed"\} 3/);

    expect(await stack.writer.flush(10_000)).toBe(true);
    const ids = (await readRecords(stack.store)).map((r) => r.record.client_request_id).sort();
    expect(ids).toEqual(['ok-1', 'ok-2']);
  });
});
