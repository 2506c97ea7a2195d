// Benchmark of the built-in model runtime (issue 4) on the demo model wine-classifier v1,
// batch 1 and batch 64, four layers measured in the same run:
//   ort        onnxruntime-node session.run in this process (the floor: the model alone)
//   in-process the runtime's own path without HTTP: JSON.parse + parseScoringRequest +
//              predict + JSON.stringify
//   http c=1   the spawned runtime over HTTP/1.1 keep-alive, one connection (latency)
//   http c=N   the same with N connections (throughput)
// The overhead ratio is each layer's p50 over the ort p50. Run:
//   node --import tsx test/bench/runtime.ts [--seconds 5] [--connections 16]
// Prints a table and writes bench-results/runtime.json. Only 127.0.0.1 is loaded.
import { readFileSync } from 'node:fs';
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

async function http(url: string, batch: number, connections: number): Promise<{ rps: number; p50: number; p99: number }> {
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

const runtime = await spawnRuntime(demoEnv('1'));
try {
  await waitReady(runtime.url);
  for (const batch of BATCHES) {
    add('http c=1', batch, await http(runtime.url, batch, 1), floors.get(batch)!);
    add(`http c=${CONNECTIONS}`, batch, await http(runtime.url, batch, CONNECTIONS), floors.get(batch)!);
  }
} finally {
  await runtime.stop();
}

rows.sort((a, b) => Number(a.batch) - Number(b.batch));
report('runtime', rows, {
  model: 'wine-classifier v1 (13 double inputs, StandardScaler + LogisticRegression, int64 label)',
  secondsPerRow: SECONDS,
  connections: CONNECTIONS,
  body: 'dataframe_split',
  machine: 'runtime and load generator share the same cores',
});
