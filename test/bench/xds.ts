// Benchmark: the xDS server.
//  1. time from a weight change (translate + set snapshot) until every connected proxy
//     has ACKed the new route config, for 1, 100, 500 and 5,000 simulated Envoy proxies (a
//     separate process, one HTTP/2 connection each; 500 once more with grpc-js clients)
//     and for one real grpc-js-xds client;
//  2. translation + snapshot + push-to-ACK time for 10,000 versions (5,000 groups of 2);
//  3. server memory per connected proxy;
//  4. server CPU and the simulated proxies' CPU per proxy per weight change (both share the
//     machine's cores: when the swarm's CPU dominates, latency measures the swarm), with
//     the encodings done vs reused (a response is encoded once per type set and subscription).
// Run: node --import tsx test/bench/xds.ts [--rounds 20]
// Prints a table and writes bench-results/xds.json.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TYPE_URL } from '../../proto/envoy.ts';
import { SnapshotCache, makeSnapshot } from '../../xds/cache.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { XdsServer } from '../../xds/server.ts';
import { createTranslator, templateStats, translate } from '../../xds/translate.ts';
import { createSnapshotBuilder } from '../../xds/snapshot-builder.ts';
import { startBackend } from '../xds/fixtures/backend.ts';
import { startXdsClient } from '../xds/fixtures/client-process.ts';
import { SETTINGS, version } from '../xds/fixtures/model.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const ROUNDS = Number(values.rounds);

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

function model(groups: number, w: number, ports: [number, number] = [7001, 7002]): DataPlaneModel {
  return {
    groups: Array.from({ length: groups }, (_, i) => ({
      groupId: `g${i}`,
      name: `svc-${String(i).padStart(5, '0')}`,
      versions: [
        version('v1', w, ports[0], { authEnabled: i % 2 === 0, qpsLimit: i % 3 === 0 ? 100 : null }),
        version('v2', 100 - w, ports[1], {
          endpoints: [
            { instance: 'v2-0', host: '127.0.0.1', port: ports[1], healthy: true },
            { instance: 'v2-1', host: '127.0.0.2', port: ports[1], healthy: true },
          ],
        }),
      ],
    })),
  };
}

/**
 * The route version each stream of a fleet ACKed last, kept up from the registry's events:
 * O(1) per event and per wait, so the bench's own bookkeeping (it runs in the server's
 * process) does not grow with the fleet. `waitAcks` resolves once `count` streams whose
 * node id starts with `prefix` ACKed route version `v`.
 */
function ackTracker(server: XdsServer, prefix: string) {
  const acked = new Map<string, string>();
  const perVersion = new Map<string, number>();
  let waiting: { v: string; count: number; resolve: () => void } | undefined;
  const move = (streamId: string, v: string | null | undefined) => {
    const old = acked.get(streamId);
    if (old === v) return;
    if (old !== undefined) perVersion.set(old, perVersion.get(old)! - 1);
    if (v === null || v === undefined) acked.delete(streamId);
    else {
      acked.set(streamId, v);
      perVersion.set(v, (perVersion.get(v) ?? 0) + 1);
    }
    if (waiting && (perVersion.get(waiting.v) ?? 0) >= waiting.count) {
      const w = waiting;
      waiting = undefined;
      w.resolve();
    }
  };
  const stop = server.registry.onChange((e) => {
    if (!e.nodeId.startsWith(prefix)) return;
    if (e.kind === 'disconnected') move(e.streamId, null);
    else if (e.kind === 'updated' && e.typeUrl === TYPE_URL.route) move(e.streamId, server.registry.versions(e.streamId, TYPE_URL.route)?.acked);
  });
  return {
    waitAcks(count: number, v: string, timeoutMs = 60_000): Promise<void> {
      if ((perVersion.get(v) ?? 0) >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = undefined;
          reject(new Error(`only ${perVersion.get(v) ?? 0}/${count} ACKed ${v}`));
        }, timeoutMs);
        waiting = {
          v,
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
    stop,
  };
}

/**
 * The simulated proxies: plain HTTP/2 with gRPC framing by hand (_xds-swarm-h2.ts, the
 * default: a C++ Envoy's xDS client costs the server's machine nothing, and grpc-js's
 * client machinery on the same 2 cores otherwise dominates the fan-out's time), or grpc-js
 * clients (_xds-swarm.ts, the swarm of earlier figures).
 */
type SwarmKind = 'h2' | 'grpc-js';
async function startSwarm(port: number, count: number, prefix: string, kind: SwarmKind = 'h2'): Promise<ChildProcess> {
  const file = kind === 'h2' ? './_xds-swarm-h2.ts' : './_xds-swarm.ts';
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [String(port), String(count), prefix], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (c) => reject(new Error(`swarm exited ${c}`)));
  });
  return child;
}

/** The swarm process's CPU so far (µs). */
function swarmCpuUs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { cpuUs?: number }) => {
      if (typeof m.cpuUs !== 'number') return;
      child.off('message', on);
      resolve(m.cpuUs);
    };
    child.on('message', on);
    child.send({ cmd: 'cpu' });
  });
}

const loadAvg = () => os.loadavg()[0]!.toFixed(1);

async function stopSwarm(child: ChildProcess) {
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.send({ cmd: 'stop' });
  await gone;
}

const rows: BenchRow[] = [];
const notes: Record<string, unknown> = { rounds: ROUNDS };

let fanoutWeight = 80;
// as the publisher builds them: incrementally (a weight change re-translates its group only)
const fanoutBuilder = createSnapshotBuilder();
async function fanout(server: XdsServer, cache: SnapshotCache, port: number, n: number, kind: SwarmKind = 'h2') {
  const prefix = `swarm${kind}${n}-`;
  const publish = () => {
    // toggles from whatever the last fleet left (an odd round count must still change it)
    fanoutWeight = fanoutWeight === 80 ? 20 : 80;
    const snap = fanoutBuilder.build(model(1, fanoutWeight), SETTINGS);
    cache.setSnapshot(snap);
    return snap.types[TYPE_URL.route].version;
  };
  const first = cache.getSnapshot('x')!.types[TYPE_URL.route].version;
  const acks = ackTracker(server, prefix);
  const swarm = await startSwarm(port, n, prefix, kind);
  // connecting thousands of proxies on a loaded machine takes a while
  await acks.waitAcks(n, first, 300_000);
  const before = heapMb();
  const samples: number[] = [];
  const enc0 = { ...server.encodeStats };
  const swarm0 = await swarmCpuUs(swarm);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const v = publish();
    await acks.waitAcks(n, v);
    samples.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu = process.cpuUsage(cpu0);
  const swarmUs = (await swarmCpuUs(swarm)) - swarm0;
  const enc = server.encodeStats;
  await stopSwarm(swarm);
  acks.stop();
  await new Promise((r) => setTimeout(r, 300));
  const after = heapMb();
  const s = summarize(samples);
  rows.push({
    case: `weight change → all ACK (${n} simulated Envoy${kind === 'h2' ? '' : ', grpc-js clients'})`,
    proxies: n,
    p50Ms: round(s.p50),
    p99Ms: round(s.p99),
    meanMs: round(s.mean),
    // server CPU (this process: translate, snapshot, push, ACK handling, the bench's own
    // ACK watcher) and the simulated proxies' CPU, per proxy per weight change
    serverCpuUsPerProxy: round((cpu.user + cpu.system) / ROUNDS / n, 1),
    swarmCpuUsPerProxy: round(swarmUs / ROUNDS / n, 1),
    encodes: enc.encoded - enc0.encoded,
    encodesReused: enc.reused - enc0.reused,
    loadAvg: loadAvg(),
  });
  return { perProxyKb: ((before - after) * 1024) / n };
}

async function main() {
  const cache = new SnapshotCache();
  cache.setSnapshot(makeSnapshot(translate(model(1, 80), SETTINGS)));
  const server = new XdsServer({ cache });
  const port = await server.listen(0, '127.0.0.1');

  // 1. fan-out to simulated proxies
  const memory: Record<number, number> = {};
  const fleet = [1, 100, 500, ...(process.env.SLUICE_BENCH_XDS_FLEET === '0' ? [] : [Number(process.env.SLUICE_BENCH_XDS_FLEET ?? 5000)])];
  for (const n of fleet) {
    const { perProxyKb } = await fanout(server, cache, port, n);
    memory[n] = perProxyKb;
  }
  // the same at 500 with grpc-js clients as the proxies (the swarm of earlier figures)
  await fanout(server, cache, port, 500, 'grpc-js');
  for (const n of fleet.filter((x) => x >= 500)) {
    rows.push({ case: `server heap per connected proxy (${n}, small model)`, proxies: n, perProxyKiB: round(memory[n]!, 1), loadAvg: loadAvg() });
  }

  // 1b. one real grpc-js-xds client, through the API listener
  {
    const b1 = await startBackend('v1');
    const b2 = await startBackend('v2');
    let w = 80;
    const realModel = () => ({
      groups: [{ groupId: 'g', name: 'wine', versions: [version('v1', w, b1.port), version('v2', 100 - w, b2.port)] }],
    });
    cache.setSnapshot(makeSnapshot(translate(realModel(), SETTINGS)));
    const client = await startXdsClient(port, 'grpcjs-bench');
    await client.send({ cmd: 'calls', target: 'xds:///wine.sluice', count: 1 });
    const samples: number[] = [];
    const routeAck = (v: string) =>
      new Promise<void>((resolve) => {
        const ok = () => server.registry.byNode('grpcjs-bench')[0]?.types[TYPE_URL.route]?.ackedVersion === v;
        if (ok()) return resolve();
        const stop = server.registry.onChange(() => {
          if (ok()) {
            stop();
            resolve();
          }
        });
      });
    for (let i = 0; i < ROUNDS; i++) {
      w = w === 80 ? 20 : 80;
      const t0 = performance.now();
      const snap = makeSnapshot(translate(realModel(), SETTINGS));
      cache.setSnapshot(snap);
      await routeAck(snap.types[TYPE_URL.route].version);
      samples.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = summarize(samples);
    rows.push({ case: 'weight change → ACK (1 grpc-js-xds client)', proxies: 1, p50Ms: round(s.p50), p99Ms: round(s.p99), meanMs: round(s.mean) });
    await client.stop();
    await b1.close();
    await b2.close();
  }

  // 2. 10,000 versions
  {
    const big = model(5000, 80);
    // cold translation, in a warmed-up process (the protos loaded, the encoder planned): the
    // best of three fresh translators, wall and CPU time
    translate(model(20, 80), SETTINGS);
    // and the same with every group built and encoded on its own (no group templates),
    // alternating with it on the same machine state: the ratio is what the templates bring
    const timed = (translator: ReturnType<typeof createTranslator>) => {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      translator(big, SETTINGS);
      const cpu = process.cpuUsage(c0);
      return { ms: performance.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 };
    };
    const cold: { ms: number; cpuMs: number }[] = [];
    const ordinary: { ms: number; cpuMs: number }[] = [];
    for (let i = 0; i < 3; i++) {
      cold.push(timed(createTranslator()));
      ordinary.push(timed(createTranslator({ shapeTemplates: false })));
    }
    const best = (runs: { ms: number; cpuMs: number }[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const bestCold = best(cold);
    const bestOrdinary = best(ordinary);
    // groups less alike: weights spread over 101 values (404 shapes of ~12 groups; templates
    // only for the shapes with 16 or more)
    const spread = model(5000, 80);
    spread.groups.forEach((g, i) => {
      g.versions[0]!.weight = i % 101;
      g.versions[1]!.weight = 100 - (i % 101);
    });
    const timedOn = (m: typeof spread, translator: ReturnType<typeof createTranslator>) => {
      const c0 = process.cpuUsage();
      translator(m, SETTINGS);
      const cpu = process.cpuUsage(c0);
      return (cpu.user + cpu.system) / 1000;
    };
    const spreadRuns: { templates: number; ordinary: number }[] = [];
    for (let i = 0; i < 3; i++) {
      spreadRuns.push({ templates: timedOn(spread, createTranslator()), ordinary: timedOn(spread, createTranslator({ shapeTemplates: false })) });
    }
    notes.coldTranslate = {
      runs: cold.map((c) => ({ ms: round(c.ms), cpuMs: round(c.cpuMs) })),
      ordinaryRuns: ordinary.map((c) => ({ ms: round(c.ms), cpuMs: round(c.cpuMs) })),
      templates: { ...templateStats },
      loadAverage: os.loadavg()[0],
    };
    const translator = createTranslator();
    const t0 = performance.now();
    const res = translator(big, SETTINGS);
    const t1 = performance.now();
    makeSnapshot(res);
    const t2 = performance.now();
    // the publisher's way: a full build first, then each change from the one before
    const builder = createSnapshotBuilder();
    const snap = builder.build(big, SETTINGS);
    const all = [...res.listeners, ...res.routes, ...res.clusters, ...res.endpoints];
    const bytes = all.reduce((a, r) => a + r.resource.value.length, 0);
    // the edge's routes are one RouteConfiguration per group (sluice-edge/{group})
    const edgeRds = res.routes.filter((r) => r.name.startsWith('sluice-edge/')).map((r) => r.resource.value.length);
    rows.push({ case: 'translate 10,000 versions (cold, best of 3)', proxies: 0, ms: round(bestCold.ms), cpuMs: round(bestCold.cpuMs), resources: all.length, encodedMiB: round(bytes / 1024 / 1024), loadAvg: loadAvg() });
    rows.push({ case: 'translate 10,000 versions (cold, best of 3, no group templates)', proxies: 0, ms: round(bestOrdinary.ms), cpuMs: round(bestOrdinary.cpuMs), loadAvg: loadAvg() });
    rows.push({
      case: 'translate 10,000 versions, weights spread over 101 values: CPU with / without group templates (best of 3)',
      proxies: 0,
      cpuMs: round(Math.min(...spreadRuns.map((r) => r.templates))),
      ordinaryCpuMs: round(Math.min(...spreadRuns.map((r) => r.ordinary))),
      loadAvg: loadAvg(),
    });
    rows.push({ case: 'translate 10,000 versions (cold, this translator)', proxies: 0, ms: round(t1 - t0) });
    rows.push({ case: 'edge RDS at 10,000 versions: per group (largest) and all groups', proxies: 0, largestKiB: round(Math.max(...edgeRds) / 1024, 1), totalMiB: round(edgeRds.reduce((a, b) => a + b, 0) / 1024 / 1024) });
    rows.push({ case: 'snapshot (hash + index) 10,000 versions', proxies: 0, ms: round(t2 - t1) });
    cache.setSnapshot(snap);
    const t3 = performance.now();
    const bigAcks = ackTracker(server, 'big-');
    const swarm = await startSwarm(port, 1, 'big-');
    await bigAcks.waitAcks(1, snap.types[TYPE_URL.route].version, 120_000);
    const t4 = performance.now();
    rows.push({ case: 'initial sync of 10,000 versions to 1 proxy (connect → RDS ACK)', proxies: 1, ms: round(t4 - t3) });
    // one group's weights change: the translator reuses the other 4,999 groups
    const samples: number[] = [];
    const translateMs: number[] = [];
    for (let i = 0; i < Math.min(ROUNDS, 10); i++) {
      big.groups[0]!.versions[0]!.weight = i % 2 === 0 ? 10 : 90;
      big.groups[0]!.versions[1]!.weight = 100 - big.groups[0]!.versions[0]!.weight;
      const s0 = performance.now();
      const prev = cache.getSnapshot('x')!;
      const next = builder.build(big, SETTINGS);
      translateMs.push(performance.now() - s0);
      if (i === 0) notes.translatedPerChange = builder.last.translated;
      if (i === 0) {
        // what an Envoy-like proxy (wildcard CDS/LDS, EDS for its clusters, RDS for the
        // edge listener's per-group route configurations) is sent for this change: each
        // changed resource it subscribes to (delta, and SotW for RDS/EDS)
        let bytes = 0;
        const changed: Record<string, number> = {};
        for (const url of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route]) {
          for (const [name, r] of next.types[url].resources) {
            if (url === TYPE_URL.route && !name.startsWith('sluice-edge/')) continue;
            if (r.onlyByName) continue;
            if (prev.types[url].resources.get(name)?.hash !== r.hash) {
              bytes += r.resource.value.length;
              changed[name] = r.resource.value.length;
            }
          }
        }
        notes.bytesPerProxyForOneChange = { bytes, resources: changed };
        rows.push({ case: 'bytes sent per proxy for one weight change among 10,000 versions', proxies: 1, bytes });
      }
      cache.setSnapshot(next);
      await bigAcks.waitAcks(1, next.types[TYPE_URL.route].version, 120_000);
      samples.push(performance.now() - s0);
    }
    const tr = summarize(translateMs);
    rows.push({ case: 'one weight change among 10,000 versions: translate + snapshot', proxies: 0, p50Ms: round(tr.p50), p99Ms: round(tr.p99), meanMs: round(tr.mean) });
    const s = summarize(samples);
    rows.push({ case: 'one weight change among 10,000 versions → ACK (1 proxy)', proxies: 1, p50Ms: round(s.p50), p99Ms: round(s.p99), meanMs: round(s.mean) });
    await stopSwarm(swarm);
    bigAcks.stop();
    // the one-shot translate (no reuse) for comparison
    const f0 = performance.now();
    translate(big, SETTINGS);
    rows.push({ case: 'translate 10,000 versions (fresh, no reuse)', proxies: 0, ms: round(performance.now() - f0) });
  }

  await server.close();
  notes.machine = `server in this process; simulated proxies in one child process (one connection each); ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`;
  notes.memory = 'heap (after GC) with N proxies connected minus heap after they left, divided by N';
  report('xds', rows, notes);
}

await main();
process.exit(0);
