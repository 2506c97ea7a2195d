// Benchmark of the runtime's three scoring protocols on the demo model wine-classifier v1,
// in one run against one spawned runtime (runtime/server.ts, HTTP and gRPC on one port):
//   mlflow     POST /invocations, {"dataframe_split": ...}                 (the baseline)
//   oip-rest   POST /v2/models/wine-classifier/infer, one FP64 [N, 13] tensor, output "label"
//   oip-grpc   inference.GRPCInferenceService/ModelInfer, fp64_contents, output "label", on
//              the runtime's one port (HTTP/2 spliced to its gRPC server) and, to show what
//              that splice costs, on the dedicated SLUICE_GRPC_PORT
// at batch 1 and batch 64, over one connection (one request at a time) and sixteen
// connections (sixteen concurrent callers, each on its own connection). Every layer is
// driven by the same kind of client loop in this process (keep-alive node:http agents;
// grpc-js clients with their own subchannels), so the ratio column — each row's req/s over
// mlflow's at the same batch and connections — compares the protocols, not the clients.
// Run: npm run bench -- protocols   (or node --import tsx test/bench/protocols.ts [--seconds 3])
// Prints a table and writes bench-results/protocols.json. Only 127.0.0.1 is loaded; the
// load generator shares the machine's cores with the runtime.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { oipService } from '../../proto/oip.ts';
import { demoEnv, spawnRuntime, waitReady } from '../runtime/spawn-runtime.ts';
import { heldout } from '../protocols/oip-cases.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } } });
const SECONDS = Number(values.seconds);
const MANY = Number(values.connections);
const BATCHES = [1, 64] as const;
const W = heldout.columns.length;

const rowsOf = (batch: number) => Array.from({ length: batch }, (_, i) => heldout.rows[i % heldout.rows.length] as number[]);

type Call = () => Promise<void>;
interface Result {
  rps: number;
  p50: number;
  p99: number;
}

/** `workers` callers, each awaiting its own calls back to back, for `seconds` after a warm-up. */
async function drive(makeCall: () => Call, workers: number, seconds = SECONDS): Promise<Result> {
  const calls = Array.from({ length: workers }, makeCall);
  await Promise.all(
    calls.map(async (c) => {
      for (let i = 0; i < 100; i++) await c();
    }),
  );
  const samples: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    calls.map(async (c) => {
      while (performance.now() < end) {
        const t = performance.now();
        await c();
        samples.push(performance.now() - t);
      }
    }),
  );
  const { p50, p99 } = summarize(samples);
  return { rps: samples.length / ((performance.now() - start) / 1000), p50, p99 };
}

function httpCall(url: URL, body: string, agents: Agent[]): () => Call {
  return () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    return () =>
      new Promise<void>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`${url.pathname}: status ${res.statusCode}`));
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end(body);
      });
  };
}

function grpcCall(host: string, batch: number, clients: grpc.Client[]): () => Call {
  const Service = oipService();
  const message = {
    model_name: 'wine-classifier',
    inputs: [{ name: 'input-0', datatype: 'FP64', shape: [batch, W], contents: { fp64_contents: rowsOf(batch).flat() } }],
    outputs: [{ name: 'label' }],
  };
  return () => {
    // its own subchannel: one HTTP/2 connection per caller, as the HTTP callers have
    const client = new Service(host, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as grpc.Client & {
      ModelInfer(m: unknown, cb: (err: grpc.ServiceError | null) => void): void;
    };
    clients.push(client);
    return () => new Promise<void>((resolve, reject) => client.ModelInfer(message, (err) => (err ? reject(err) : resolve())));
  };
}

const GRPC_PORT = Number(process.env.BENCH_GRPC_PORT ?? 47050);
const runtime = await spawnRuntime({ ...demoEnv('1'), SLUICE_GRPC_PORT: String(GRPC_PORT) });
const rows: BenchRow[] = [];
const agents: Agent[] = [];
const clients: grpc.Client[] = [];
try {
  await waitReady(runtime.url);
  const base = new URL(runtime.url);
  for (const batch of BATCHES) {
    const mlflowBody = JSON.stringify({ dataframe_split: { columns: heldout.columns, data: rowsOf(batch) } });
    const oipBody = JSON.stringify({ inputs: [{ name: 'input-0', datatype: 'FP64', shape: [batch, W], data: rowsOf(batch).flat() }], outputs: [{ name: 'label' }] });
    const layers: [string, () => Call][] = [
      ['mlflow /invocations', httpCall(new URL('/invocations', base), mlflowBody, agents)],
      ['oip-rest /v2/…/infer', httpCall(new URL('/v2/models/wine-classifier/infer', base), oipBody, agents)],
      ['oip-grpc ModelInfer', grpcCall(base.host, batch, clients)],
      ['oip-grpc (own port)', grpcCall(`127.0.0.1:${GRPC_PORT}`, batch, clients)],
    ];
    // warm every path (JIT, sockets) before anything is measured
    for (const [, make] of layers) await drive(make, 1, 1);
    for (const connections of [1, MANY]) {
      let baseline = 0;
      for (const [layer, make] of layers) {
        const r = await drive(make, connections);
        if (baseline === 0) baseline = r.rps;
        rows.push({
          layer,
          batch,
          connections,
          'req/s': round(r.rps, 0),
          'rows/s': round(r.rps * batch, 0),
          'p50 ms': round(r.p50, 3),
          'p99 ms': round(r.p99, 3),
          'req/s / mlflow': round(r.rps / baseline, 2),
        });
      }
    }
  }
} finally {
  for (const a of agents) a.destroy();
  for (const c of clients) c.close();
  await runtime.stop();
}

report('protocols', rows, {
  model: 'wine-classifier v1 (13 double inputs, int64 label)',
  secondsPerRow: SECONDS,
  connections: [1, MANY],
  baseline: 'mlflow /invocations at the same batch and connections, same run',
  machine: 'runtime and load generator share the same cores (2 cores, shared with other work)',
});
