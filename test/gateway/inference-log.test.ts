// The inference-log writer's promises: exactly one stored record per acknowledged record
// across (a) a writer process SIGKILLed mid-batch and restarted, (b) the S3 store (s3rver)
// stopped and restarted, (c) uploads failing half way through a batch; plus batching,
// partitioning, the torn tail of a crashed spool file, and the recorder's table settings.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { ObjectStoreError, type ObjectStore } from '../../platform/objectstore/port.ts';
import { buildInferenceRecord, partitionPrefix, type InferenceRecord } from '../../gateway/inference-log/record.ts';
import { ExchangeJoiner, type AccessLogHalf, type ProcessorHalf } from '../../gateway/inference-log/join.ts';
import { InferenceRecorder } from '../../gateway/inference-log/recorder.ts';
import { InferenceLogWriter, partitionBatch, type InferenceLogEvent } from '../../gateway/inference-log/writer.ts';
import { startS3rver, type S3Fixture } from '../objectstore/s3rver-fixture.ts';
import { demoPolicies, readRecords, sleep, version } from './helpers.ts';
import { parseClusterName } from '../../xds/contract.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sluice-ilog-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const settings = { enabled: true, sampleRate: 1, maxBodyBytes: 1024 };
const rec = (id: string, at = Date.now(), ver = 'v1'): InferenceRecord =>
  buildInferenceRecord({ requestId: id, group: 'wine-quality', version: ver, startedAt: at, latencyMs: 1, statusCode: 200, requestBody: `{"client_request_id":"${id}"}`, responseBody: '{}' }, settings, 1);

function expectExactlyOnce(stored: string[], acked: Set<string>, sent: Set<string>) {
  const counts = new Map<string, number>();
  for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
  const dups = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  expect(dups, 'duplicated records').toEqual([]);
  const missing = [...acked].filter((id) => !counts.has(id));
  expect(missing, 'acknowledged but lost').toEqual([]);
  const unknown = stored.filter((id) => !sent.has(id));
  expect(unknown).toEqual([]);
}

/** Drives writer-child.ts over stdin/stdout. */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly acked = new Set<string>();
  private waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  private exited: Promise<void>;

  constructor(env: Record<string, string>) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures/writer-child.ts')], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      if (!/NodeVersionSupportWarning|node >=22|upgrade to node|a\.co\/|trace-warnings|^\s*$|To continue receiving|versions published/.test(d.toString())) process.stderr.write(`[child] ${d}`);
    });
    this.exited = new Promise((r) => this.proc.on('exit', () => r()));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (line.startsWith('ack ')) this.acked.add(line.slice(4));
      for (const w of [...this.waiters]) {
        if (w.test(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }
  waitFor(test: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('child did not answer in time')), timeoutMs);
      this.waiters.push({ test, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }
  waitAck(id: string): Promise<unknown> {
    return this.acked.has(id) ? Promise.resolve() : this.waitFor((l) => l === `ack ${id}`);
  }
  send(line: string) {
    this.proc.stdin.write(line + '\n');
  }
  async kill() {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
  async exit() {
    this.send('exit');
    await this.exited;
  }
}

describe('writer process killed mid-batch', () => {
  it('loses no acknowledged record and duplicates none after SIGKILL and restart', async () => {
    const dir = tempDir();
    const env = { SPOOL_DIR: path.join(dir, 'spool'), STORE_URL: `file://${path.join(dir, 'objects')}`, MAX_BATCH_RECORDS: '25' };
    const sent = new Set<string>();
    const first = new Child({ ...env, SLOW_PUT_MS: '60' });
    await first.waitFor((l) => l === 'ready');
    for (let i = 0; i < 150; i++) {
      sent.add(`a${i}`);
      first.send(`rec a${i}`);
      if (i % 10 === 9) await sleep(15);
    }
    // Kill once every record is acknowledged but uploads lag behind: sealed batches wait,
    // one is half uploaded, the open one holds the newest records.
    await first.waitAck('a149');
    await first.kill();
    const ackedBefore = new Set(first.acked);
    expect(ackedBefore.size).toBe(150);
    const spoolLeft = readdirSync(env.SPOOL_DIR);
    expect(spoolLeft.length).toBeGreaterThan(0); // something was left to recover

    const second = new Child(env);
    await second.waitFor((l) => l === 'ready');
    for (let i = 0; i < 40; i++) {
      sent.add(`b${i}`);
      second.send(`rec b${i}`);
    }
    await second.waitAck('b39');
    second.send('flush');
    expect(await second.waitFor((l) => l.startsWith('flushed '))).toBe('flushed true');
    await second.exit();

    const stored = (await readRecords(new FsObjectStore(path.join(dir, 'objects')))).map((r) => r.record.request_id);
    expectExactlyOnce(stored, new Set([...ackedBefore, ...second.acked]), sent);
    expect(readdirSync(env.SPOOL_DIR)).toEqual([]);
  }, 90_000);
});

describe('S3 store outage', () => {
  let s3: S3Fixture;
  beforeAll(async () => {
    s3 = await startS3rver('inference');
  });
  afterAll(async () => {
    await s3?.dispose();
  });

  it('spools while s3rver is down, reports it, and uploads everything exactly once when it returns', async () => {
    const dir = tempDir();
    const store = s3.store('prod');
    const events: InferenceLogEvent[] = [];
    const writer = new InferenceLogWriter({ store, spoolDir: dir, maxBatchRecords: 10, maxBatchAgeMs: 200, retryMinMs: 100, retryMaxMs: 400, onEvent: (e) => events.push(e) });
    await writer.start();
    const sent = new Set<string>();
    const acked = new Set<string>();
    const send = async (prefix: string, n: number) => {
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const id = `${prefix}${i}`;
          sent.add(id);
          await writer.append(rec(id));
          acked.add(id);
        }),
      );
    };
    await send('up', 25);
    expect(await writer.flush(10_000)).toBe(true);
    await s3.stop();
    await send('down', 35); // still acknowledged: the spool holds them
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual(['INFERENCE_LOG_STORE_UNAVAILABLE']), { timeout: 10_000 });
    expect(await writer.backlog()).toBeGreaterThan(0);
    expect(await writer.flush(300)).toBe(false);
    await s3.start();
    await send('back', 5);
    expect(await writer.flush(15_000)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['INFERENCE_LOG_STORE_UNAVAILABLE', 'INFERENCE_LOG_STORE_RECOVERED']);
    await writer.close();
    const recs = await readRecords(store);
    expectExactlyOnce(recs.map((r) => r.record.request_id), acked, sent);
    expect(recs).toHaveLength(65);
    for (const { key } of recs) expect(key).toMatch(/^inference-logs\/wine-quality\/v1\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[0-9TZ]+-[0-9a-f]{12}\.ndjson\.gz$/);
  }, 60_000);
});

describe('writer details', () => {
  it('re-uploads a half-uploaded batch under the same names (overwrite, no duplicate)', async () => {
    const dir = tempDir();
    const inner = new FsObjectStore(path.join(dir, 'objects'));
    let puts = 0;
    // The first puts fail every other time: batches spanning partitions fail half way through.
    const flaky: ObjectStore = {
      description: 'flaky',
      put: async (k, b, t) => {
        if (puts < 10 && puts++ % 2 === 1) throw new ObjectStoreError('STORE_UNAVAILABLE', 'flaky');
        return inner.put(k, b, t);
      },
      putFile: (k, f, t) => inner.putFile(k, f, t),
      get: (k) => inner.get(k),
      list: (p) => inner.list(p),
      delete: (k) => inner.delete(k),
    };
    const writer = new InferenceLogWriter({ store: flaky, spoolDir: path.join(dir, 'spool'), maxBatchRecords: 6, retryMinMs: 20, retryMaxMs: 50 });
    await writer.start();
    const hourA = Date.parse('2026-11-27T10:59:59Z');
    const hourB = Date.parse('2026-11-27T11:00:00Z');
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      ids.push(`f${i}`);
      await writer.append(rec(`f${i}`, i % 2 ? hourA : hourB, i % 3 ? 'v1' : 'v2'));
    }
    expect(await writer.flush(10_000)).toBe(true);
    await writer.close();
    const recs = await readRecords(inner);
    expectExactlyOnce(recs.map((r) => r.record.request_id), new Set(ids), new Set(ids));
    expect(new Set(recs.map((r) => r.key.split('/').slice(0, 5).join('/')))).toEqual(
      new Set([
        'inference-logs/wine-quality/v1/dt=2026-11-27/hour=10',
        'inference-logs/wine-quality/v1/dt=2026-11-27/hour=11',
        'inference-logs/wine-quality/v2/dt=2026-11-27/hour=10',
        'inference-logs/wine-quality/v2/dt=2026-11-27/hour=11',
      ]),
    );
    expect(writer.stats.failedUploads).toBeGreaterThan(0);
  });

  it('uploads leftover spool files on start, skipping a torn last line', async () => {
    const dir = tempDir();
    const spool = path.join(dir, 'spool');
    const store = new FsObjectStore(path.join(dir, 'objects'));
    const lines = [rec('l1'), rec('l2')].map((r) => JSON.stringify(r)).join('\n') + '\n' + JSON.stringify(rec('torn')).slice(0, 40);
    const w0 = new InferenceLogWriter({ store, spoolDir: spool });
    await w0.start();
    await w0.close();
    writeFileSync(path.join(spool, '20261127T000000000Z-aaaaaaaaaaaa.open.ndjson'), lines);
    const w = new InferenceLogWriter({ store, spoolDir: spool });
    await w.start();
    expect(await w.flush(5000)).toBe(true);
    await w.close();
    expect((await readRecords(store)).map((r) => r.record.request_id).sort()).toEqual(['l1', 'l2']);
    expect(w.stats.discardedLines).toBe(1);
  });

  it('partitions by UTC hour of the request', async () => {
    expect(partitionPrefix({ group: 'g', version: 'v', timestamp: '2026-01-02T23:59:59.999Z' })).toBe('inference-logs/g/v/dt=2026-01-02/hour=23/');
    const { parts, records, discarded } = await partitionBatch(`${JSON.stringify(rec('x'))}\nnot json\n{"a":1}\n`);
    expect([parts.size, records, discarded]).toEqual([1, 1, 2]);
  });

  it('partitions by the timestamp read as is exactly as through Date, month ends and odd values included', async () => {
    // partitionPrefix reads date and hour off toISOString's form; Date is the reference
    const reference = (text: string) => {
      const parts = new Map<string, number>();
      for (const line of text.split('\n')) {
        let r: InferenceRecord;
        try {
          r = JSON.parse(line) as InferenceRecord;
        } catch {
          continue;
        }
        const t = new Date(r.timestamp);
        const iso = Number.isNaN(t.getTime()) ? new Date(0).toISOString() : t.toISOString();
        const p = `inference-logs/${r.group}/${r.version}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
        parts.set(p, (parts.get(p) ?? 0) + 1);
      }
      return parts;
    };
    const at = (iso: string, over: Partial<InferenceRecord>) => JSON.stringify({ ...rec('h'), timestamp: iso, ...over });
    const lines = [
      // a client_request_id that spells a different group inside its string
      at('2026-03-04T05:06:07.008Z', { client_request_id: 'x","group":"evil","version":"v9' }),
      at('2026-03-04T05:06:07.008Z', { request_id: 'quote"and\\backslash', client_request_id: null }),
      // group and version with escapes (never produced by Sluice's names, still read right)
      at('2026-03-04T05:06:07.008Z', { group: 'g\u0041', version: 'v"1' }),
      // month ends, leap day and an invalid date go through Date
      at('2024-02-29T23:59:59.999Z', {}),
      at('2026-02-30T01:00:00.000Z', {}),
      at('2026-12-31T23:00:00Z', {}),
      at('not a time', {}),
    ];
    const text = lines.join('\n') + '\n';
    const { parts, records, discarded } = await partitionBatch(text);
    expect([records, discarded]).toEqual([lines.length, 0]);
    expect(new Map([...parts].map(([k, v]) => [k, v.length]))).toEqual(reference(text));
    expect([...parts.keys()]).toContain(`inference-logs/${rec('h').group}/v1/dt=2026-03-04/hour=05/`);
    expect([...parts.keys()]).toContain('inference-logs/gA/v"1/dt=2026-03-04/hour=05/');
    expect([...parts.keys()].some((k) => k.includes('evil'))).toBe(false);
    // a line that starts like a record but is not one is still refused, wherever it is
    const fake = '{"request_id":"r","client_request_id":null,"group":"g","version":"v1","timestamp":"2026-03-04T05:06:07.008Z",}';
    expect(await partitionBatch(`${fake}\n${lines[0]}\n`)).toMatchObject({ records: 1, discarded: 1 });
    // a torn last line that happens to end in "}" is parsed in full (and refused)
    const torn = lines[0]!.slice(0, lines[0]!.indexOf('"latency_ms"')) + '"x":{}';
    expect(await partitionBatch(`${lines[0]}\n${torn}`)).toMatchObject({ records: 1, discarded: 0 + 1 });
  });

  it("lets the edge's loop take turns while it parses a large batch, and partitions it the same", async () => {
    const lines = Array.from({ length: 3_200 }, (_, i) => JSON.stringify({ ...rec(`big-${i}`), timestamp: `2026-03-04T0${i % 3}:00:00.000Z` }));
    const text = lines.join('\n') + '\n';
    let turns = 0;
    let running = true;
    const tick = () => {
      if (!running) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    // a slice of 0: a turn at every check (every 32 lines), so the count does not depend on the machine's speed
    const sliced = await partitionBatch(text, 0);
    running = false;
    expect(turns).toBeGreaterThanOrEqual(3_200 / 32 - 1);
    expect(sliced.records).toBe(3_200);
    expect([...sliced.parts.values()].map((l) => l.length).sort()).toEqual([1_066, 1_067, 1_067]);
    const whole = await partitionBatch(text, Number.POSITIVE_INFINITY);
    expect(whole.parts).toEqual(sliced.parts);
  });

  it('refuses appends after close', async () => {
    const dir = tempDir();
    const w = new InferenceLogWriter({ store: new FsObjectStore(path.join(dir, 'o')), spoolDir: path.join(dir, 's') });
    await w.start();
    await w.close();
    await expect(w.append(rec('late'))).rejects.toThrow(/closed/);
  });
});

describe('InferenceRecorder', () => {
  it('applies the version settings: on/off, sampling with the fraction recorded, unknown versions', async () => {
    const policies = demoPolicies();
    policies.setVersion(version('wine-quality', 'v2', { inference: { enabled: true, sampleRate: 0.25, maxBodyBytes: 8 } }));
    policies.setVersion(version('open', 'v1', { authEnabled: false, inference: { enabled: false, sampleRate: 1, maxBodyBytes: 8 } }));
    const got: InferenceRecord[] = [];
    const draws = [0.1, 0.3, 0.2, 0.9];
    const recorder = new InferenceRecorder({ policies, sink: { append: async (r) => void got.push(r) }, random: () => draws.shift() ?? 0 });
    const ex = (id: string, group: string, ver: string) => ({ requestId: id, group, version: ver, startedAt: 0, latencyMs: 1, statusCode: 200, requestBody: '0123456789', responseBody: null });
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await recorder.record(ex(`s${i}`, 'wine-quality', 'v2')));
    expect(outcomes).toEqual(['recorded', 'unsampled', 'recorded', 'unsampled']);
    expect(await recorder.record(ex('o', 'open', 'v1'))).toBe('disabled');
    expect(await recorder.record(ex('u', 'wine-quality', 'v9'))).toBe('unknown-version');
    expect(await recorder.record(ex('w', 'wine-quality', 'v1'))).toBe('recorded');
    expect(got.map((r) => [r.request_id, r.sampling_fraction, r.request, r.request_truncated])).toEqual([
      ['s0', 0.25, '01234567', true],
      ['s2', 0.25, '01234567', true],
      ['w', 1, '0123456789', false],
    ]);
    expect(got[0]?.response).toBeNull();
    expect(got[0]?.timestamp).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('InferenceRecorder counts', () => {
  it('every outcome of every recorder on a registry in one sluice_inference_records_total, failures included, as /metrics shows them', async () => {
    const policies = demoPolicies();
    policies.setVersion(version('open', 'v1', { authEnabled: false, inference: { enabled: false, sampleRate: 1, maxBodyBytes: 8 } }));
    const registry = new Registry();
    let failing = false;
    const sink = { append: async () => (failing ? Promise.reject(new Error('disk full')) : undefined) };
    const a = new InferenceRecorder({ policies, sink, registry });
    const b = new InferenceRecorder({ policies, sink, registry });
    const ex = (group: string, ver: string) => ({ requestId: 'r', group, version: ver, startedAt: 0, latencyMs: 1, statusCode: 200, requestBody: '{}', responseBody: null });
    await a.record(ex('wine-quality', 'v1'));
    await b.record(ex('wine-quality', 'v1'));
    await a.record(ex('open', 'v1'));
    await b.record(ex('wine-quality', 'v9'));
    failing = true;
    await expect(a.record(ex('wine-quality', 'v1'))).rejects.toThrow('disk full');
    // a record that cannot even be built is a failure too
    await expect(b.record({ ...ex('wine-quality', 'v1'), startedAt: Number.NaN })).rejects.toThrow();
    const text = await registry.metrics();
    expect(text.split('\n').filter((l) => l.startsWith('sluice_inference_records_total{'))).toEqual([
      'sluice_inference_records_total{outcome="recorded"} 2',
      'sluice_inference_records_total{outcome="disabled"} 1',
      'sluice_inference_records_total{outcome="unknown-version"} 1',
      'sluice_inference_records_total{outcome="failed"} 2',
    ]);
    // scraped twice: the same figures, not doubled
    expect(await registry.metrics()).toBe(text);
  });
});

describe('ExchangeJoiner', () => {
  const proc = (id: string): ProcessorHalf => ({ requestId: id, group: 'g', version: 'v', startedAt: 0, endedAt: 5, statusCode: 200, requestBody: Buffer.from('{}'), responseBody: null, error: null });
  const log = (id: string): AccessLogHalf => ({ requestId: id, group: 'g', version: 'v2', startedAt: 1, latencyMs: 3, statusCode: 200, error: null });

  it('emits on the second half or at the deadline, once, and forgets old ids within its bounds', () => {
    let t = 0;
    const out: string[] = [];
    const j = new ExchangeJoiner({ onExchange: (e) => out.push(`${e.requestId}:${e.version}:${e.latencyMs}`), timeoutMs: 100, rememberMs: 1000, rememberMax: 2, now: () => t });
    j.addProcessorHalf(proc('a'));
    j.addAccessLogHalf(log('a'));
    j.addAccessLogHalf(log('a')); // duplicate delivery
    j.addProcessorHalf(proc('b'));
    t = 99;
    j.sweep();
    expect(out).toEqual(['a:v2:3']);
    t = 100;
    j.sweep();
    expect(out).toEqual(['a:v2:3', 'b:v:5']);
    j.addAccessLogHalf(log('b')); // late: dropped
    expect(j.pendingCount).toBe(0);
    j.addAccessLogHalf(log('c'));
    j.addProcessorHalf(proc('c'));
    // rememberMax 2: 'a' is forgotten, so a very late 'a' would start a new join
    j.addAccessLogHalf(log('a'));
    expect(j.pendingCount).toBe(1);
    j.close();
    expect(out).toHaveLength(4);
  });

  it('parses only sluice/{group}/{version} cluster names', () => {
    expect(parseClusterName('sluice/wine-quality/v1')).toEqual({ group: 'wine-quality', version: 'v1' });
    for (const bad of ['sluice/a', 'sluice/a/b/c', 'other/a/b', '', null, undefined]) expect(parseClusterName(bad)).toBeNull();
  });
});
