// The local orchestrator's pure parts: back-off steps, the capacity ledger, the log ring,
// /proc parsing.

import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { backoffDelay, defaultBackoff } from '../../control/orchestrator/local/backoff.ts';
import { CapacityLedger } from '../../control/orchestrator/local/capacity.ts';
import { InstanceLogTail } from '../../control/orchestrator/local/logs.ts';
import type { LogLine } from '../../control/orchestrator/port.ts';
import { isSameProcess, processStartTime, readGroupUsage } from '../../control/orchestrator/local/proc-stats.ts';

it('backs off 1s, 2s, 4s … capped at 60s', () => {
  expect([0, 1, 2, 3, 5, 6, 7, 50].map((s) => backoffDelay(defaultBackoff, s))).toEqual([1000, 2000, 4000, 8000, 32000, 60000, 60000, 60000]);
});

it('places all-or-nothing, releases, restores adopted placements', () => {
  const ledger = new CapacityLedger({ cpu: 4, memoryGiB: 8, gpus: [{ type: 'T4', count: 2 }] });
  const spec = { cpu: 1.5, memoryGiB: 2, gpuType: 'T4', gpuCount: 1 };
  const first = ledger.place(['a-0', 'a-1'], spec, null);
  expect(first).toMatchObject({ ok: true, placements: [{ instance: 'a-0', gpuIndices: [0] }, { instance: 'a-1', gpuIndices: [1] }] });
  const refused = ledger.place(['b-0'], { ...spec, gpuCount: 0, gpuType: null, cpu: 1.5 }, null);
  expect(refused.ok).toBe(false);
  expect(ledger.free()[0]).toMatchObject({ cpu: 1, memoryGiB: 4, gpus: 0 });
  ledger.release('a-1');
  expect(ledger.free()[0]).toMatchObject({ cpu: 2.5, gpus: 1 });
  expect(ledger.restore({ instance: 'a-1', node: 'local', gpuIndices: [1], resources: spec }, null)).toBe(true);
  expect(ledger.restore({ instance: 'x', node: 'local', gpuIndices: [1], resources: spec }, null)).toBe(false);
  // exact fits with fractional cores are accepted
  const exact = new CapacityLedger({ cpu: 0.3, memoryGiB: 1, gpus: [] });
  expect(exact.place(['c-0', 'c-1', 'c-2'], { cpu: 0.1, memoryGiB: 0.1, gpuType: null, gpuCount: 0 }, null).ok).toBe(true);
});

it('a tail that takes over after a crash reads what the replica wrote but nobody tailed yet, once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-logtail-'));
  try {
    const paths = { stdout: join(dir, 'stdout.raw'), stderr: join(dir, 'stderr.raw'), offsets: join(dir, 'log-offsets.json') };
    const options = { resume: true, maxFileBytes: 1 << 20 };
    const first: LogLine[] = [];
    const before = new InstanceLogTail('i-0', paths, (lines) => first.push(...lines), () => new Date(0), options);
    appendFileSync(paths.stdout, 'tailed before the crash\nhalf a li');
    before.drain();
    // The replica goes on writing; the control plane dies before its next poll.
    appendFileSync(paths.stdout, 'ne\nwritten just before the crash\n');
    appendFileSync(paths.stderr, 'an error too\n');
    const second: LogLine[] = [];
    new InstanceLogTail('i-0', paths, (lines) => second.push(...lines), () => new Date(1), options).drain();
    expect(first.map((l) => l.line)).toEqual(['tailed before the crash']);
    expect(second.map((l) => l.line)).toEqual(['half a line', 'written just before the crash', 'an error too']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a tail past its file cap cuts the raw file only once it has read all of it: a backlog larger than one read is not thrown away', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-logtail-'));
  try {
    const paths = { stdout: join(dir, 'stdout.raw'), stderr: join(dir, 'stderr.raw'), offsets: join(dir, 'log-offsets.json') };
    const got: string[] = [];
    // a cap smaller than one read's slice (512 KiB): the first read already passes it
    const tail = new InstanceLogTail('i-0', paths, (lines) => got.push(...lines.map((l) => l.line)), () => new Date(0), { resume: false, maxFileBytes: 256 * 1024 });
    let n = 0;
    const write = (bytes: number) => {
      let chunk = '';
      while (chunk.length < bytes) chunk += `line ${n++} ${'x'.repeat(40)}\n`;
      appendFileSync(paths.stdout, chunk);
    };
    write(900 * 1024); // a backlog of two reads
    for (let turn = 0; turn < 3; turn++) {
      tail.drain();
      write(300 * 1024); // the replica keeps writing between reads
    }
    for (let turn = 0; turn < 20; turn++) tail.drain();
    expect(got).toHaveLength(n);
    expect(got.at(-1)).toMatch(new RegExp(`^line ${n - 1} `));
    // and once caught up the raw file was cut, so it stays bounded
    tail.drain();
    expect(statSync(paths.stdout).size).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a tail left far behind (four caps) skips to the end and says in the log how much it dropped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-logtail-'));
  try {
    const paths = { stdout: join(dir, 'stdout.raw'), stderr: join(dir, 'stderr.raw'), offsets: join(dir, 'log-offsets.json') };
    const got: string[] = [];
    const tail = new InstanceLogTail('i-0', paths, (lines) => got.push(...lines.map((l) => l.line)), () => new Date(0), { resume: false, maxFileBytes: 64 * 1024 });
    appendFileSync(paths.stdout, 'y'.repeat(300 * 1024) + '\n');
    tail.drain();
    expect(got).toEqual([`[sluice] ${300 * 1024 + 1} bytes of output dropped unread: the process wrote faster than its logs could be stored`]);
    expect(statSync(paths.stdout).size).toBe(0);
    appendFileSync(paths.stdout, 'after the drop\n');
    tail.drain();
    expect(got.at(-1)).toBe('after the drop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('reads its own process from /proc', () => {
  const start = processStartTime(process.pid);
  expect(start).toBeGreaterThan(0);
  expect(isSameProcess(process.pid, start)).toBe(true);
  expect(isSameProcess(process.pid, (start ?? 0) + 1)).toBe(false);
  const pgid = Number(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
  const usage = readGroupUsage([pgid]).get(pgid);
  expect(usage?.processes).toBeGreaterThanOrEqual(1);
  expect(usage?.rssBytes).toBeGreaterThan(10_000_000);
});
