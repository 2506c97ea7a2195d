// Exactly-once inference records through the real `npm run edge` process: the edge runs as
// a child process (routes over xDS from this test, policies from a migrated SQLite database,
// records to s3rver through its spool), and the test counts the records in the bucket against
// the requests it actually got a 200 for — after a SIGKILL of the edge mid-batch and a
// restart on the same data dir, across an S3 outage while requests keep coming, and across a
// graceful stop while the store is down. An answer is only sent once its record is in the
// spool (written: SIGKILL cannot lose it; or fsync'd with SLUICE_CAPTURE_SYNC=always — both
// modes run here), so every 200 seen here must have exactly one
// record; a request whose answer was lost in the kill may have one too (recorded, then killed
// before the answer left), but never two.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3ObjectStore } from '../../platform/objectstore/s3.ts';
import type { InferenceRecord } from '../../gateway/inference-log/record.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { SETTINGS, dpVersion, sleep, startFakeRuntime, type FakeRuntime } from '../edge/helpers.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { startS3rver, type S3Fixture } from '../objectstore/s3rver-fixture.ts';
import { freePort } from '../fixtures/ports.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GROUP = 'durable';

async function until(what: string, timeoutMs: number, test: () => boolean | Promise<boolean>, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await test()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------
// The edge as a child process

const running = new Set<EdgeChild>();

class EdgeChild {
  private output = '';
  private readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;

  private constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code) => {
        this.exitCode = code;
        running.delete(this);
        resolve(code);
      });
    });
  }

  static async start(env: Record<string, string>): Promise<EdgeChild> {
    // `npm run edge` exactly: the built edge (test/global-build.ts keeps dist/ current)
    const proc = spawn(process.execPath, ['--enable-source-maps', 'dist/gateway/edge/main.js'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const edge = new EdgeChild(proc);
    running.add(edge);
    try {
      await until('the edge to be ready', 60_000, () => {
        if (edge.exitCode !== undefined) throw new Error(`edge exited with ${edge.exitCode}:\n${edge.output}`);
        return edge.logged('edge ready');
      }, 100);
    } catch (err) {
      await edge.kill();
      throw err;
    }
    return edge;
  }

  /** Whether a log line carries this message or event type. */
  logged(text: string): boolean {
    return this.output.includes(text);
  }

  get log(): string {
    return this.output;
  }

  /** SIGKILL: no shutdown code runs, the open spool batch stays as it is on disk. */
  kill(): Promise<number | null> {
    if (this.exitCode === undefined) this.proc.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM: the edge closes (seals its batch, one last upload attempt) and exits. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (this.exitCode === undefined) this.proc.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      await this.kill();
      throw new Error(`edge did not stop within ${timeoutMs} ms:\n${this.output}`);
    }
    return code;
  }
}

// ---------------------------------------------------------------------------------------
// Load, and what came back

interface Answer {
  clientRequestId: string;
  version: string;
}

/** Everything sent in one scenario: answered (200 received) by request_id, and what got no answer. */
class Ledger {
  readonly sent = new Set<string>();
  readonly answered = new Map<string, Answer>();
  /** client_request_ids of requests that got no answer at all (connection reset or refused) */
  readonly unanswered = new Set<string>();
  /** answers other than 200: none are expected while the edge is up */
  readonly other: string[] = [];
}

interface DriveOptions {
  concurrency: number;
  /** stop after this many answers in this call */
  answers?: number;
  /** stop when this returns true (checked before each request) */
  stop?: () => boolean;
  /** pause between a worker's requests */
  paceMs?: number;
  /** called after each 200, with the number answered so far in this call */
  onAnswered?: (n: number) => void;
  /** hard bound on this call */
  timeoutMs?: number;
}

async function drive(url: string, ledger: Ledger, o: DriveOptions): Promise<{ answered: number; failed: number }> {
  let answered = 0;
  let failed = 0;
  let started = 0;
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  const done = () => (o.answers !== undefined && started >= o.answers) || (o.stop?.() ?? false) || Date.now() > deadline;
  const worker = async () => {
    while (!done()) {
      started++;
      const clientRequestId = randomUUID();
      ledger.sent.add(clientRequestId);
      const body = JSON.stringify({ client_request_id: clientRequestId, dataframe_split: { columns: ['a', 'b'], data: [[started, 0.5]] } });
      try {
        const res = await fetch(`${url}/services/${GROUP}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        if (res.status !== 200) {
          ledger.other.push(`${res.status} ${text}`);
          continue;
        }
        const json = JSON.parse(text) as { request_id: string; client_request_id: string; version: string };
        expect(json.client_request_id).toBe(clientRequestId);
        ledger.answered.set(json.request_id, { clientRequestId, version: json.version });
        answered++;
        o.onAnswered?.(answered);
      } catch {
        // No complete answer: the edge died (or the connection did) with this one in flight.
        ledger.unanswered.add(clientRequestId);
        failed++;
      }
      if (o.paceMs) await sleep(o.paceMs);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { answered, failed };
}

// ---------------------------------------------------------------------------------------
// What is in the bucket

interface StoredRecord {
  key: string;
  record: InferenceRecord;
}

async function readBucket(store: S3ObjectStore): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (const o of await store.list('inference-logs/')) {
    expect(o.key).toMatch(/^inference-logs\/[^/]+\/[^/]+\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[^/]+\.ndjson\.gz$/);
    const text = gunzipSync((await store.get(o.key)).body).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      out.push({ key: o.key, record: JSON.parse(line) as InferenceRecord });
    }
  }
  return out;
}

/** Batch files still waiting in any spool under the data dir. */
function spooled(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ndjson')) out.push(p);
    }
  };
  walk(path.join(dataDir, 'spool'));
  return out;
}

/** The done-means check: each answered request has exactly one record, nothing is twice, nothing unknown. */
function expectExactlyOnce(stored: StoredRecord[], ledger: Ledger): { records: number; answered: number; extra: number } {
  const perId = new Map<string, number>();
  for (const { record } of stored) perId.set(record.request_id, (perId.get(record.request_id) ?? 0) + 1);
  const duplicated = [...perId].filter(([, n]) => n > 1).map(([id]) => id);
  expect(duplicated, 'request_ids with more than one record').toEqual([]);

  const missing = [...ledger.answered.keys()].filter((id) => !perId.has(id));
  expect(missing, 'answered requests without a record').toEqual([]);
  const ofAnswered = stored.filter(({ record }) => ledger.answered.has(record.request_id));
  expect(ofAnswered.length).toBe(ledger.answered.size);

  for (const { key, record } of stored) {
    expect(record.group).toBe(GROUP);
    expect(key.startsWith(`inference-logs/${record.group}/${record.version}/dt=${record.timestamp.slice(0, 10)}/hour=${record.timestamp.slice(11, 13)}/`)).toBe(true);
    const answer = ledger.answered.get(record.request_id);
    if (answer) {
      expect(record.client_request_id).toBe(answer.clientRequestId);
      expect(record.version).toBe(answer.version);
      expect(record.status_code).toBe(200);
    } else {
      // Recorded, then the answer was lost: only a request that got no answer may be here.
      expect(ledger.unanswered.has(record.client_request_id ?? ''), `record ${record.request_id} of no unanswered request`).toBe(true);
    }
  }
  return { records: stored.length, answered: ledger.answered.size, extra: stored.length - ofAnswered.length };
}

// ---------------------------------------------------------------------------------------

describe('npm run edge: exactly one inference record per answered request', () => {
  let db: TestDatabase;
  let runtimes: FakeRuntime[] = [];
  let xds: XdsControl;
  let xdsPort: number;
  let s3: S3Fixture;
  const dirs: string[] = [];

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    runtimes = [await startFakeRuntime('v1'), await startFakeRuntime('v2')];
    const prisma = db.prisma;
    const project = await prisma.project.create({ data: { name: 'durability' } });
    const group = await prisma.serviceGroup.create({ data: { name: GROUP, projectId: project.id, status: 'RUNNING' } });
    const versions = [];
    for (const [i, rt] of runtimes.entries()) {
      // The edge's DatabasePolicySource reads these: inference table on, every request sampled.
      const v = await prisma.serviceVersion.create({
        data: { groupId: group.id, name: rt.name, modelSource: 'REGISTRY', status: 'RUNNING', inferenceTableEnabled: true, inferenceSampleRate: 1 },
      });
      versions.push({ ...dpVersion({ name: rt.name, weight: i === 0 ? 60 : 40, ports: [rt.port], capture: true }), versionId: v.id });
    }
    const model = { groups: [{ groupId: group.id, name: GROUP, versions }] };
    xds = createXdsControl({ loadModel: async () => model, settings: SETTINGS, debounceMs: 1 });
    xdsPort = await xds.start(0, '127.0.0.1');
    s3 = await startS3rver();
  });

  afterAll(async () => {
    for (const edge of [...running]) await edge.kill();
    await xds?.close();
    for (const rt of runtimes) await rt.close();
    await s3?.dispose();
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  // so a failed outage test still leaves s3rver up for the next one
  let s3Down = false;

  async function scenario(name: string, sync: 'background' | 'always') {
    const dataDir = mkdtempSync(path.join(tmpdir(), `sluice-edge-durability-${name}-`));
    dirs.push(dataDir);
    const port = await freePort();
    const prefix = `${name}-${randomUUID().slice(0, 8)}`;
    const env = {
      SLUICE_DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      SLUICE_OBJECT_STORE: `s3://${s3.bucket}/${prefix}`,
      S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      SLUICE_XDS_ADDRESS: `127.0.0.1:${xdsPort}`,
      SLUICE_EDGE_PORT: String(port),
      SLUICE_HOST: '127.0.0.1',
      REDIS_URL: '',
      LOG_LEVEL: 'info',
      SLUICE_CAPTURE_SYNC: sync,
    };
    return { dataDir, url: `http://127.0.0.1:${port}`, store: s3.store(prefix), start: () => EdgeChild.start(env) };
  }

  // Both capture modes keep the promise: 'background' answers once the record is written
  // (the page cache keeps it through a SIGKILL), 'always' once it is fsync'd.
  for (const sync of ['background', 'always'] as const) describe(`SLUICE_CAPTURE_SYNC=${sync}`, () => {
    it('survives a SIGKILL of the edge mid-batch and a restart on the same data dir', async () => {
      const sc = await scenario(`crash-${sync}`, sync);
      const ledger = new Ledger();
      let edge = await sc.start();

      // Kill at a random point while four requests are in flight: whatever was answered by then
      // has its record in the open spool batch, which nobody sealed or uploaded.
      const killAt = 60 + Math.floor(Math.random() * 80);
      let killed = false;
      const before = await drive(sc.url, ledger, {
        concurrency: 4,
        stop: () => killed,
        onAnswered: (n) => {
          if (n >= killAt && !killed) {
            killed = true;
            edge.proc.kill('SIGKILL');
          }
        },
      });
      expect(killed).toBe(true);
      expect(await edge.kill()).toBe(null);
      expect(ledger.other).toEqual([]);
      expect(spooled(sc.dataDir).length, 'the killed edge left its batch in the spool').toBeGreaterThan(0);
      const inBucketAtKill = (await readBucket(sc.store)).length;

      // A spool of a live edge (this test runner's pid stands in for one) is not the restarted
      // edge's to take: it still belongs to a process that may be writing to it.
      const liveSpool = path.join(sc.dataDir, 'spool', `edge-${process.pid}`);
      mkdirSync(liveSpool);
      const liveBatch = path.join(liveSpool, '20000101T000000000Z-000000000000.ndjson');
      writeFileSync(liveBatch, JSON.stringify({ request_id: 'of-a-live-edge', group: GROUP, version: 'v1', timestamp: new Date().toISOString() }) + '\n');

      edge = await sc.start();
      const after = await drive(sc.url, ledger, { concurrency: 4, answers: 80 });
      expect(after.failed).toBe(0);
      expect(await edge.stop()).toBe(0);
      expect(ledger.other).toEqual([]);

      expect(edge.logged('took over the inference-log spool')).toBe(true);
      const counts = expectExactlyOnce(await readBucket(sc.store), ledger);
      expect(spooled(sc.dataDir), 'spool left after a graceful stop with the store up').toEqual([liveBatch]);
      console.log(`[crash] killed after ${killAt} answers; answered ${before.answered} + ${after.answered}, no answer ${before.failed}; ${inBucketAtKill} records in the bucket at the kill; records ${counts.records} (${counts.extra} of unanswered requests)`);
    }, 180_000);

    it('spools through an S3 outage, answering 200 all along, and uploads each record once when S3 is back', async () => {
      const sc = await scenario(`outage-${sync}`, sync);
      const ledger = new Ledger();
      const edge = await sc.start();
      try {
        await drive(sc.url, ledger, { concurrency: 3, answers: 40 });

        await s3.stop();
        s3Down = true;
        const outageStart = Date.now();
        // Keep requests coming until the edge has tried an upload and failed (a batch is sealed
        // after 10 s at the latest), then a little longer so the spool also holds records taken
        // after the failure.
        let sawFailure = 0;
        const during = await drive(sc.url, ledger, {
          concurrency: 3,
          paceMs: 100,
          timeoutMs: 40_000,
          stop: () => {
            if (!sawFailure && edge.logged('INFERENCE_LOG_STORE_UNAVAILABLE')) sawFailure = Date.now();
            return sawFailure > 0 && Date.now() - sawFailure > 1500;
          },
        });
        expect(sawFailure, `the edge never reported the store unavailable:\n${edge.log}`).toBeGreaterThan(0);
        expect(during.failed).toBe(0);
        expect(ledger.other).toEqual([]);
        const outageMs = Date.now() - outageStart;

        await s3.start();
        s3Down = false;
        await drive(sc.url, ledger, { concurrency: 3, answers: 30 });
        expect(ledger.other).toEqual([]);
        expect(ledger.unanswered.size).toBe(0);

        // Retry backoff (at most 30 s) plus the 10 s batch age bound how long this may take.
        const waitStart = Date.now();
        await until('every answered request in the bucket', 90_000, async () => {
          const ids = new Set((await readBucket(sc.store)).map((r) => r.record.request_id));
          return [...ledger.answered.keys()].every((id) => ids.has(id));
        }, 500);
        const uploadedAfterMs = Date.now() - waitStart;
        expect(edge.logged('INFERENCE_LOG_STORE_RECOVERED')).toBe(true);

        expect(await edge.stop()).toBe(0);
        const counts = expectExactlyOnce(await readBucket(sc.store), ledger);
        expect(counts.extra).toBe(0);
        expect(spooled(sc.dataDir)).toEqual([]);
        console.log(`[outage] ${during.answered} answered during a ${outageMs} ms outage, ${ledger.answered.size} in all; all uploaded ${uploadedAfterMs} ms after S3 returned; records ${counts.records}`);
      } finally {
        if (s3Down) await s3.start();
      }
    }, 180_000);

    it('keeps what a gracefully stopped edge could not upload and the next edge on the data dir uploads it', async () => {
      const sc = await scenario(`stopped-${sync}`, sync);
      const ledger = new Ledger();
      let edge = await sc.start();
      try {
        await drive(sc.url, ledger, { concurrency: 3, answers: 30 });
        await s3.stop();
        s3Down = true;
        await drive(sc.url, ledger, { concurrency: 3, answers: 50 });
        expect(await edge.stop()).toBe(0);
        expect(ledger.other).toEqual([]);
        expect(ledger.unanswered.size).toBe(0);
        expect(spooled(sc.dataDir).length, 'the stopped edge kept its records in the spool').toBeGreaterThan(0);

        await s3.start();
        s3Down = false;
        edge = await sc.start();
        await until('the new edge to upload the old spool', 60_000, async () => {
          const ids = new Set((await readBucket(sc.store)).map((r) => r.record.request_id));
          return [...ledger.answered.keys()].every((id) => ids.has(id));
        }, 500);
        expect(await edge.stop()).toBe(0);
        const counts = expectExactlyOnce(await readBucket(sc.store), ledger);
        expect(counts.extra).toBe(0);
        expect(spooled(sc.dataDir)).toEqual([]);
        console.log(`[stopped] ${counts.answered} answered, records ${counts.records}`);
      } finally {
        if (s3Down) await s3.start();
      }
    }, 180_000);
  });
});
