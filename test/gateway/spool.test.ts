// The spool's two durability modes and its behaviour on a full disk:
//  - 'background' (default): append() has put the record into the batch file when it
//    resolves (so a SIGKILL right after cannot lose it), without waiting for the disk;
//    fdatasync follows in the background;
//  - 'always': the batch file is opened O_DSYNC and append() resolves after the write;
//  - a full disk rejects the append, abandons the batch (its torn tail is skipped by the
//    uploader), raises one event per outage and counts each lost record; records written
//    before and after still reach the store exactly once.
import { openSync, readdirSync, readFileSync, rmSync, mkdtempSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { buildInferenceRecord, type InferenceRecord } from '../../gateway/inference-log/record.ts';
import { OPEN_SUFFIX, Spool, type SpoolFs } from '../../gateway/inference-log/spool.ts';
import { InferenceLogWriter, type InferenceLogEvent } from '../../gateway/inference-log/writer.ts';
import { readRecords } from './helpers.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sluice-spool-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const settings = { enabled: true, sampleRate: 1, maxBodyBytes: 1024 };
const rec = (id: string): InferenceRecord =>
  buildInferenceRecord({ requestId: id, group: 'wine-quality', version: 'v1', startedAt: Date.now(), latencyMs: 1, statusCode: 200, requestBody: '{}', responseBody: '{}' }, settings, 1);

const openBatchText = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith(OPEN_SUFFIX))
    .map((n) => readFileSync(path.join(dir, n), 'utf8'))
    .join('');

/** A disk that fills up on demand: writes fail with ENOSPC, optionally after a torn first part. */
class FillableDisk implements SpoolFs {
  full = false;
  tornBytes = 0;
  writes = 0;
  openSync(file: string, flags: number, mode: number): number {
    return openSync(file, flags, mode);
  }
  writeSync(fd: number, buffer: Buffer, offset: number, length: number): number {
    this.writes++;
    if (this.full) {
      if (this.tornBytes > 0) {
        const n = writeSync(fd, buffer, offset, Math.min(this.tornBytes, length));
        this.tornBytes = 0;
        return n;
      }
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return writeSync(fd, buffer, offset, length);
  }
}

describe('spool durability modes', () => {
  it("'background' (the default) has the record in the batch file when append resolves, before any seal", async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBatchRecords: 1000, maxBatchBytes: 1 << 20, maxBatchAgeMs: 60_000, onSealed: () => undefined });
    expect(spool.sync).toBe('background');
    await spool.open();
    for (let i = 0; i < 5; i++) await spool.append(rec(`bg-${i}`));
    // what a SIGKILL now would leave behind: the open batch with every acknowledged line
    const lines = openBatchText(dir).trim().split('\n').map((l) => (JSON.parse(l) as InferenceRecord).request_id);
    expect(lines).toEqual(['bg-0', 'bg-1', 'bg-2', 'bg-3', 'bg-4']);
    await spool.close();
    expect(readdirSync(dir).filter((n) => n.endsWith(OPEN_SUFFIX))).toEqual([]);
  });

  it("'always' acknowledges each record after its write to the O_DSYNC file", async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBatchRecords: 1000, maxBatchBytes: 1 << 20, maxBatchAgeMs: 60_000, onSealed: () => undefined, sync: 'always' });
    await spool.open();
    await Promise.all([spool.append(rec('a-0')), spool.append(rec('a-1'))]);
    expect(openBatchText(dir).trim().split('\n')).toHaveLength(2);
    await spool.close();
  });

  it('refuses an unknown mode', () => {
    expect(() => new Spool({ dir: tempDir(), maxBatchRecords: 1, maxBatchBytes: 1, maxBatchAgeMs: 1, onSealed: () => undefined, sync: 'sometimes' as never })).toThrow(/background or always/);
  });

  for (const sync of ['background', 'always'] as const) {
    it(`${sync}: seals full batches and uploads every record exactly once`, async () => {
      const dir = tempDir();
      const store = new FsObjectStore(path.join(dir, 'objects'));
      const writer = new InferenceLogWriter({ store, spoolDir: path.join(dir, 'spool'), maxBatchRecords: 7, sync });
      await writer.start();
      await Promise.all(Array.from({ length: 30 }, (_, i) => writer.append(rec(`${sync}-${i}`))));
      expect(await writer.flush(10_000)).toBe(true);
      const ids = (await readRecords(store)).map((r) => r.record.request_id).sort();
      expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => `${sync}-${i}`).sort());
      await writer.close();
    });
  }
});

describe('appendMany: the records of one access-log message in one write', () => {
  it("'background': one write per batch file, every record in the file when it resolves, batch limits kept exactly", async () => {
    const dir = tempDir();
    const disk = new FillableDisk();
    const sealedSizes: number[] = [];
    const spool = new Spool({ dir, maxBatchRecords: 7, maxBatchBytes: 1 << 20, maxBatchAgeMs: 60_000, onSealed: () => undefined, fs: disk });
    await spool.open();
    await spool.append(rec('single'));
    const before = disk.writes;
    await spool.appendMany(Array.from({ length: 20 }, (_, i) => rec(`many-${i}`)));
    // 1 + 20 records over batches of 7: the open one takes 6 more, then 7, then 7 (the last stays open)
    expect(disk.writes - before).toBe(3);
    await spool.sealNow();
    for (const n of readdirSync(dir).filter((f) => f.endsWith('.ndjson') && !f.endsWith(OPEN_SUFFIX)).sort()) {
      sealedSizes.push(readFileSync(path.join(dir, n), 'utf8').trim().split('\n').length);
    }
    expect(sealedSizes).toEqual([7, 7, 7]);
    await spool.close();
  });

  it("'always': one group commit for the lot", async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBatchRecords: 1000, maxBatchBytes: 1 << 20, maxBatchAgeMs: 60_000, onSealed: () => undefined, sync: 'always' });
    await spool.open();
    await spool.appendMany([rec('m-0'), rec('m-1'), rec('m-2')]);
    expect(openBatchText(dir).trim().split('\n').map((l) => (JSON.parse(l) as InferenceRecord).request_id)).toEqual(['m-0', 'm-1', 'm-2']);
    await spool.close();
  });

  it('a full disk rejects the lot, counted once per record, and the spool takes records again afterwards', async () => {
    const dir = tempDir();
    const disk = new FillableDisk();
    const registry = new Registry();
    const store = new FsObjectStore(path.join(dir, 'objects'));
    const writer = new InferenceLogWriter({ store, spoolDir: path.join(dir, 'spool'), spoolFs: disk, registry });
    await writer.start();
    disk.full = true;
    await expect(writer.appendMany([rec('lost-0'), rec('lost-1')])).rejects.toThrow(/ENOSPC/);
    const errors = (await registry.getSingleMetric('sluice_inference_spool_errors_total')!.get()).values;
    expect(errors).toEqual([expect.objectContaining({ labels: { code: 'ENOSPC' }, value: 2 })]);
    disk.full = false;
    await writer.appendMany([rec('kept-0'), rec('kept-1')]);
    expect(await writer.flush(10_000)).toBe(true);
    expect((await readRecords(store)).map((r) => r.record.request_id).sort()).toEqual(['kept-0', 'kept-1']);
    await writer.close();
  });
});

describe('spool on a full disk', () => {
  it('rejects the records it cannot write, raises one event per outage and a metric, and loses nothing it acknowledged', async () => {
    const dir = tempDir();
    const disk = new FillableDisk();
    const events: InferenceLogEvent[] = [];
    const registry = new Registry();
    const store = new FsObjectStore(path.join(dir, 'objects'));
    const writer = new InferenceLogWriter({ store, spoolDir: path.join(dir, 'spool'), registry, spoolFs: disk, onEvent: (e) => events.push(e) });
    await writer.start();

    for (let i = 0; i < 3; i++) await writer.append(rec(`before-${i}`));
    disk.full = true;
    disk.tornBytes = 17; // the first failing write leaves half a line behind
    const failures = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => writer.append(rec(`lost-${i}`))));
    expect(failures.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect((failures[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ENOSPC' });
    disk.full = false;
    for (let i = 0; i < 2; i++) await writer.append(rec(`after-${i}`));

    expect(events.map((e) => e.type)).toEqual(['INFERENCE_LOG_SPOOL_FAILED', 'INFERENCE_LOG_SPOOL_RECOVERED']);
    expect(events[1]!.message).toMatch(/4 record\(s\) were lost/);
    const metric = await registry.getSingleMetric('sluice_inference_spool_errors_total')!.get();
    expect(metric.values.reduce((n, v) => n + v.value, 0)).toBe(4);
    expect(metric.values[0]!.labels).toEqual({ code: 'ENOSPC' });

    expect(await writer.flush(10_000)).toBe(true);
    const ids = (await readRecords(store)).map((r) => r.record.request_id).sort();
    expect(ids).toEqual(['after-0', 'after-1', 'before-0', 'before-1', 'before-2']);
    expect(writer.stats.discardedLines).toBe(1); // the torn half line, never acknowledged
    await writer.close();
  });
});
