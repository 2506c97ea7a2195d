// Benchmark: the inference table job over 1,000,000 rows. Run: `npm run bench -- table`
//   [--rows 1000000] [--batch 64] [--records-per-object 500]
// 1. writes gzipped NDJSON log objects as the gateway writes them (requests of --batch rows
//    of the 13 wine features, with predictions) into a folder store;
// 2. runs the job as its own process (npm run inference:job) and reads its run time and
//    peak RSS (getrusage maxRSS): rows/s from NDJSON.gz to Parquet;
// 3. baseline in the same run: DuckDB's own read_json of the same files, (a) raw — every
//    column of every record parsed and read (summed lengths, so none is skipped) — and (b) the whole job in DuckDB SQL — records unnested
//    into typed feature rows written to Parquet; reported as table rows/s;
// 4. drift (13 features, PSI/KS/JS against the baseline) + accuracy/per-class metrics over
//    the 1,000,000 rows with a label for every row (imported from a CSV in the store).
// Prints a table and writes bench-results/table.json.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { InferenceService } from '../../control/inference/service.ts';
import { query, str, toNum, withDuck } from '../../control/inference/duck.ts';
import { freshDatabase } from '../fixtures/db.ts';
import { HELDOUT, record, seedGroup } from '../inference/helpers.ts';
import { partitionPrefix } from '../../gateway/inference-log/record.ts';
import { report, round } from './_report.ts';
import { ensureBuilt } from '../fixtures/sluice-process.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, batch: { type: 'string', default: '64' }, 'records-per-object': { type: 'string', default: '500' } } });
const TOTAL = Number(values.rows);
const BATCH = Number(values.batch);
const PER_OBJECT = Number(values['records-per-object']);
const G = 'wine-quality';
const ROOT = join(import.meta.dirname, '..', '..');

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-table-'));
const store = new FsObjectStore(join(dir, 'objects'));
const db = await freshDatabase('sqlite');
try {
  const { groupId } = await seedGroup(db.prisma, G);

  // 1. the log objects
  const t0 = performance.now();
  let rows = 0;
  let records = 0;
  let objects = 0;
  const csv: string[] = ['client_request_id,row_index,label'];
  const base = Date.parse('2026-06-01T10:00:00Z');
  while (rows < TOTAL) {
    const lines: string[] = [];
    let prefix = '';
    for (let r = 0; r < PER_OBJECT && rows < TOTAL; r++) {
      const n = Math.min(BATCH, TOTAL - rows);
      const data = Array.from({ length: n }, (_, i) => HELDOUT.rows[(rows + i) % HELDOUT.rows.length]!);
      const predictions = Array.from({ length: n }, (_, i) => HELDOUT.versions['1']!.predictions[(rows + i) % HELDOUT.rows.length]!);
      const id = `b-${records}`;
      const rec = record(G, { rows: data, predictions, clientRequestId: id, at: new Date(base + records * 10) });
      prefix = partitionPrefix(rec);
      lines.push(JSON.stringify(rec));
      for (let i = 0; i < n; i++) csv.push(`${id},${i},${HELDOUT.labels[(rows + i) % HELDOUT.rows.length]}`);
      rows += n;
      records++;
    }
    await store.put(`${prefix}bench-${String(objects++).padStart(6, '0')}.ndjson.gz`, gzipSync(Buffer.from(lines.join('\n') + '\n')));
  }
  const genMs = performance.now() - t0;
  console.log(`wrote ${objects} objects, ${records} records, ${rows} rows in ${(genMs / 1000).toFixed(1)} s`);

  // 2. the job as its own process, the build as `npm run inference:job` runs it
  await ensureBuilt();
  const job = await new Promise<{ rowsWritten: number; ms: number; maxRssKiB: number }>((resolve, reject) => {
    // the heap cap makes V8 collect instead of growing: peak RSS then measures what the job holds
    const child = spawn(process.execPath, ['--max-old-space-size=192', '--enable-source-maps', ...(process.env.SLUICE_BENCH_JOB_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SLUICE_BENCH_JOB_PROFILE}`] : []), 'dist/control/inference/job-cli.js', '--group', G], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, SLUICE_OBJECT_STORE: `file://${join(dir, 'objects')}`, SLUICE_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { rowsWritten: number; ms: number; maxRssKiB: number }) : reject(new Error(`job exited ${code}: ${out}`))));
  });
  if (job.rowsWritten !== rows) throw new Error(`the job wrote ${job.rowsWritten} rows, expected ${rows}`);

  console.log(`job: ${JSON.stringify(job)}`);
  // 3. DuckDB own read_json of the same files
  const glob = join(dir, 'objects', 'inference-logs', G, '*', '*', '*', '*.ndjson.gz');
  const recordColumns = `{'request_id': 'VARCHAR', 'client_request_id': 'VARCHAR', 'timestamp': 'VARCHAR', 'status_code': 'INTEGER', 'latency_ms': 'DOUBLE', 'error': 'VARCHAR', 'request': 'VARCHAR', 'response': 'VARCHAR'}`;
  const duck = await withDuck(async (conn) => {
    let t = performance.now();
    // every column of every record materialised (a bare count(*) lets DuckDB skip parsing the columns)
    const raw = await query(
      conn,
      `SELECT count(*) AS n, sum(strlen(request_id) + strlen(client_request_id) + strlen("timestamp") + status_code + latency_ms + coalesce(strlen(error), 0) + strlen(request) + strlen(response)) AS chars ` +
        `FROM read_json(${str(glob)}, format='newline_delimited', columns=${recordColumns})`,
    );
    const rawMs = performance.now() - t;
    console.log(`duckdb raw read: ${Math.round(rawMs)} ms`);
    if (toNum(raw[0]?.n) !== records) throw new Error('DuckDB read a different number of records');
    const out = join(dir, 'duckdb-baseline.parquet');
    const features = HELDOUT.columns.map((c, i) => `CAST(data[i]->>${i} AS DOUBLE) AS "${c}"`).join(', ');
    t = performance.now();
    await conn.run(
      `COPY (SELECT request_id, client_request_id, i - 1 AS row_index, "timestamp"::TIMESTAMPTZ AS "time", status_code AS status, latency_ms, error, ${features}, ` +
        `CAST(preds[i] AS VARCHAR) AS prediction FROM (SELECT *, generate_subscripts(data, 1) AS i FROM (` +
        `SELECT *, CAST(json_extract(request, '$.dataframe_split.data') AS JSON[]) AS data, CAST(json_extract(response, '$.predictions') AS JSON[]) AS preds ` +
        `FROM read_json(${str(glob)}, format='newline_delimited', columns=${recordColumns})))) TO ${str(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const fullMs = performance.now() - t;
    const [c] = await query(conn, `SELECT count(*) AS n FROM read_parquet(${str(out)})`);
    if (toNum(c?.n) !== rows) throw new Error(`DuckDB's baseline wrote ${String(c?.n)} rows`);
    return { rawMs, fullMs };
  });

  // 4. drift + accuracy over every row, all labelled
  const service = new InferenceService({ prisma: db.prisma, store, pubsub: createMemoryPubSub(), secrets: { seal: (s) => s, open: (s) => s }, workDir: join(dir, 'work') });
  await service.quality(groupId); // warm: file listing, DuckDB caches
  // CPU time of this process (DuckDB's threads included): on a loaded machine wall time is noise
  const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
  let t = performance.now();
  let c0 = process.cpuUsage();
  await service.quality(groupId);
  const unlabelledMs = performance.now() - t;
  const unlabelledCpuMs = cpuMs(process.cpuUsage(c0));
  writeFileSync(join(dir, 'labels.csv'), csv.join('\n') + '\n');
  await store.put('imports/labels.csv', Buffer.from(csv.join('\n') + '\n'));
  t = performance.now();
  const imported = await service.labels.importFile(G, 'imports/labels.csv', 'CSV');
  const importMs = performance.now() - t;
  if (imported.labelled !== rows) throw new Error(`labelled ${imported.labelled} of ${rows}`);
  t = performance.now();
  c0 = process.cpuUsage();
  const [q] = await service.quality(groupId);
  const qualityMs = performance.now() - t;
  const qualityCpuMs = cpuMs(process.cpuUsage(c0));
  if (!q || q.labelledRows !== rows || q.drift.length !== 13) throw new Error('quality did not cover every row');
  await service.close();

  const jobRate = rows / (job.ms / 1000);
  const rawRate = rows / (duck.rawMs / 1000);
  const fullRate = rows / (duck.fullMs / 1000);
  report(
    'table',
    [
      { measure: 'table job: NDJSON.gz → Parquet (own process)', rows, seconds: round(job.ms / 1000), rowsPerSec: Math.round(jobRate), vsDuckDbRaw: round(jobRate / rawRate), vsDuckDbFull: round(jobRate / fullRate) },
      { measure: 'DuckDB read_json, raw records (rows = records × batch)', rows, seconds: round(duck.rawMs / 1000), rowsPerSec: Math.round(rawRate), vsDuckDbRaw: 1, vsDuckDbFull: round(rawRate / fullRate) },
      { measure: 'DuckDB SQL only: read_json → unnest → typed Parquet', rows, seconds: round(duck.fullMs / 1000), rowsPerSec: Math.round(fullRate), vsDuckDbRaw: round(fullRate / rawRate), vsDuckDbFull: 1 },
      { measure: 'peak RSS of the job process (MiB)', rows, seconds: 0, rowsPerSec: round(job.maxRssKiB / 1024, 1), vsDuckDbRaw: 0, vsDuckDbFull: 0 },
      { measure: 'drift (13 features) + accuracy + per-class, all rows labelled', rows, seconds: round(qualityMs / 1000, 3), rowsPerSec: Math.round(rows / (qualityMs / 1000)), vsDuckDbRaw: 0, vsDuckDbFull: 0 },
      { measure: 'drift (13 features) + service quality, no labels yet', rows, seconds: round(unlabelledMs / 1000, 3), rowsPerSec: Math.round(rows / (unlabelledMs / 1000)), vsDuckDbRaw: 0, vsDuckDbFull: 0 },
      { measure: 'label import (CSV in the store, every row)', rows, seconds: round(importMs / 1000), rowsPerSec: Math.round(rows / (importMs / 1000)), vsDuckDbRaw: 0, vsDuckDbFull: 0 },
    ],
    { objects, records, batch: BATCH, jobVsDuckDbRaw: round(jobRate / rawRate), jobVsDuckDbSql: round(jobRate / fullRate), jobPeakRssMiB: round(job.maxRssKiB / 1024, 1), qualityMs: round(qualityMs, 1), qualityCpuMs: round(qualityCpuMs, 1), unlabelledQualityMs: round(unlabelledMs, 1), unlabelledQualityCpuMs: round(unlabelledCpuMs, 1), loadAverage: (await import('node:os')).loadavg(), cpus: (await import('node:os')).cpus().length },
  );
} finally {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
