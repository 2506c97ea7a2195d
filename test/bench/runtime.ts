// Benchmark of the built-in model runtime (issue 4) on the demo model wine-classifier v1,
// batch 1 and batch 64, layers measured in the same run:
//   ort          onnxruntime-node session.run in this process (the floor: the model alone)
//   in-process   the runtime's own path without HTTP: JSON.parse + parseScoringRequest +
//                predict + JSON.stringify
//   http-floor   a bare node:http process that reads the body and answers a fixed JSON:
//                what HTTP alone costs on this machine, with this client
//   runtime      the spawned runtime (runtime/server.ts) over HTTP/1.1 keep-alive
// "c=1" is one keep-alive connection driven by a sequential client here (sub-ms
// latencies); "c=N" is autocannon with N connections (throughput; its latencies are whole
// milliseconds). The ratio column is each layer's p50 over the ort p50. Run:
//   node --import tsx test/bench/runtime.ts [--seconds 5] [--connections 16]
// Prints a table and writes bench-results/runtime.json. Only 127.0.0.1 is loaded.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { loadModel } from '../../runtime/model.ts';
import { parseScoringRequest } from '../../runtime/scoring.ts';
import { readSignatureFile } from '../../runtime/signature.ts';
import { DEMO_DIR, demoEnv, spawnRuntime, waitReady, type Heldout } from '../runtime/spawn-runtime.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '16' } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const BATCHES = [1, 64] as const;

const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const modelPath = `${DEMO_DIR}/wine-classifier/1/model.onnx`;
const signature = await readSignatureFile(`${DEMO_DIR}/wine-classifier/1/signature.json`);

function rowsOf(batch: number): number[][] {
  return Array.from({ length: batch }, (_, i) => heldout.rows[i % heldout.rows.length] as number[]);
}
const bodyOf = (batch: number) => JSON.stringify({ dataframe_split: { columns: heldout.columns, data: rowsOf(batch) } });

/** Sequential calls for `seconds` (after a warm-up): calls/s and per-call latency in ms. */
async function loop(fn: () => Promise<unknown>, seconds: number): Promise<{ rps: number; p50: number; p99: number }> {
  for (let i = 0; i < 500; i++) await fn();
  const samples: number[] = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  const { p50, p99 } = summarize(samples);
  return { rps: samples.length / ((performance.now() - start) / 1000), p50, p99 };
}

async function httpMany(url: string, batch: number, connections: number): Promise<{ rps: number; p50: number; p99: number }> {
  const run = (duration: number) =>
    autocannon({
      url: `${url}/invocations`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bodyOf(batch),
      connections,
      duration,
    });
  await run(1); // warm-up
  const result = await run(SECONDS);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`http batch ${batch}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** One keep-alive connection, one request at a time, timed here. */
async function httpOne(url: string, batch: number): Promise<{ rps: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = bodyOf(batch);
  const target = new URL(`${url}/invocations`);
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    return await loop(once, SECONDS);
  } finally {
    agent.destroy();
  }
}

/** A bare node:http server in its own process: reads the body, answers a fixed JSON. */
async function startHttpFloor(): Promise<{ url: string; stop(): Promise<void> }> {
  const code = `const http = require('node:http');
const answer = JSON.stringify({ predictions: [0] });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => { Buffer.concat(chunks); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }); res.end(answer); });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => proc.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

const rows: BenchRow[] = [];
const add = (layer: string, batch: number, r: { rps: number; p50: number; p99: number }, floor: number) =>
  rows.push({
    layer,
    batch,
    'req/s': round(r.rps, 0),
    'rows/s': round(r.rps * batch, 0),
    'p50 ms': round(r.p50, 3),
    'p99 ms': round(r.p99, 3),
    'p50 / ort p50': round(r.p50 / floor, 1),
  });

// in-process layers first, while the runtime process is not running
const session = await InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const model = await loadModel(modelPath, signature);
const floors = new Map<number, number>();
const inProcess = new Map<number, { rps: number; p50: number; p99: number }>();
for (const batch of BATCHES) {
  const flat = new Float64Array(rowsOf(batch).flat());
  const ort = await loop(() => session.run({ input: new Tensor('float64', flat, [batch, 13]) }, ['label']), SECONDS);
  floors.set(batch, ort.p50);
  add('ort', batch, ort, ort.p50);
  const body = bodyOf(batch);
  inProcess.set(
    batch,
    await loop(async () => {
      const request = parseScoringRequest(JSON.parse(body), model.signature);
      return JSON.stringify({ predictions: await model.predict(request.rows) });
    }, SECONDS),
  );
}
await session.release();
await model.close();
for (const batch of BATCHES) add('in-process', batch, inProcess.get(batch)!, floors.get(batch)!);

const floor = await startHttpFloor();
try {
  for (const batch of BATCHES) {
    add('http-floor c=1', batch, await httpOne(floor.url, batch), floors.get(batch)!);
    add(`http-floor c=${CONNECTIONS}`, batch, await httpMany(floor.url, batch, CONNECTIONS), floors.get(batch)!);
  }
} finally {
  await floor.stop();
}

const runtime = await spawnRuntime(demoEnv('1'));
try {
  await waitReady(runtime.url);
  for (const batch of BATCHES) {
    add('runtime c=1', batch, await httpOne(runtime.url, batch), floors.get(batch)!);
    add(`runtime c=${CONNECTIONS}`, batch, await httpMany(runtime.url, batch, CONNECTIONS), floors.get(batch)!);
  }
} finally {
  await runtime.stop();
}

rows.sort((a, b) => Number(a.batch) - Number(b.batch));
const p50 = (layer: string, batch: number) => Number(rows.find((r) => r.layer === layer && r.batch === batch)?.['p50 ms']);
report('runtime', rows, {
  model: 'wine-classifier v1 (13 double inputs, StandardScaler + LogisticRegression, int64 label)',
  secondsPerRow: SECONDS,
  connections: CONNECTIONS,
  body: 'dataframe_split',
  machine: 'runtime and load generator share the same cores',
  // what the runtime adds over a bare node:http server, per request, one connection
  runtimeOverHttpFloorMs: Object.fromEntries(BATCHES.map((b) => [b, round(p50('runtime c=1', b) - p50('http-floor c=1', b), 3)])),
});
