// Benchmark: fan-out of one change notification to 1,000 subscribers, in-process and
// through Redis. For each publish, the time from calling publish() until the 1,000th
// subscriber has the payload in hand; p50/p99 over the rounds. Run:
//   node --import tsx test/bench/pubsub.ts [--rounds 200] [--subscribers 1000] [--redis redis://127.0.0.1:6379]
// Prints a table and writes bench-results/pubsub.json.

import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createMemoryPubSub, type LocalPubSub } from '../../platform/pubsub/memory.ts';
import { createRedisPubSub } from '../../platform/pubsub/redis.ts';

export interface PubSubBenchResult {
  name: string;
  subscribers: number;
  /** pub/sub instances the subscribers are spread over (Redis: one subscriber connection each) */
  instances: number;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** deliveries per second at the measured latency (subscribers / mean) */
  deliveriesPerSec: number;
  dropped: number;
}

interface Variant {
  name: string;
  instances: number;
  /** the publisher and the subscriber instances (the publisher may be one of them) */
  open(): Promise<{ publisher: LocalPubSub; hosts: LocalPubSub[]; close(): Promise<void> }>;
}

const ROUND_TIMEOUT_MS = 10_000;
const WARMUP_ROUNDS = 20;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

async function measure(variant: Variant, subscribers: number, rounds: number): Promise<PubSubBenchResult> {
  const { publisher, hosts, close } = await variant.open();
  try {
    const topic = 'group:bench';
    let expected = 0;
    let received = 0;
    let finishRound: (() => void) | null = null;
    const subs = Array.from({ length: subscribers }, (_, i) => hosts[i % hosts.length]!.subscribe<{ seq: number }>(topic));
    await Promise.all(subs.map((s) => s.ready));
    const consumers = subs.map(async (s) => {
      for await (const msg of s) {
        if (msg.seq !== expected) continue;
        received += 1;
        if (received === subscribers) finishRound?.();
      }
    });

    const samples: number[] = [];
    for (let round = 0; round < WARMUP_ROUNDS + rounds; round++) {
      expected = round;
      received = 0;
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve, reject) => {
        finishRound = resolve;
        timer = setTimeout(() => reject(new Error(`${variant.name}: round ${round} got ${received}/${subscribers}`)), ROUND_TIMEOUT_MS);
      });
      const t0 = process.hrtime.bigint();
      await publisher.publish(topic, { seq: round, kind: 'ServiceGroupChanged', id: 'bench' });
      await done;
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
      clearTimeout(timer);
      if (round >= WARMUP_ROUNDS) samples.push(elapsed);
    }

    const dropped = subs.reduce((n, s) => n + s.dropped, 0);
    for (const s of subs) await s.return?.();
    await Promise.all(consumers);
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    return {
      name: variant.name,
      subscribers,
      instances: variant.instances,
      rounds,
      p50Ms: round3(percentile(samples, 50)),
      p99Ms: round3(percentile(samples, 99)),
      meanMs: round3(mean),
      maxMs: round3(samples[samples.length - 1]!),
      deliveriesPerSec: Math.round(subscribers / (mean / 1000)),
      dropped,
    };
  } finally {
    await close();
  }
}

function variants(redisUrl: string): Variant[] {
  const prefix = `bench:${randomUUID()}:`;
  const redis = () => createRedisPubSub(redisUrl, { channelPrefix: prefix });
  return [
    {
      name: 'in-process',
      instances: 1,
      async open() {
        const ps = createMemoryPubSub();
        return { publisher: ps, hosts: [ps], close: () => ps.close() };
      },
    },
    {
      name: 'redis (publisher and subscribers in separate instances)',
      instances: 1,
      async open() {
        const [pub, host] = await Promise.all([redis(), redis()]);
        return { publisher: pub, hosts: [host], close: async () => void (await Promise.all([pub.close(), host.close()])) };
      },
    },
    {
      name: 'redis (subscribers over 4 instances, like 4 replicas)',
      instances: 4,
      async open() {
        const all = await Promise.all([redis(), redis(), redis(), redis(), redis()]);
        const [pub, ...hosts] = all as [LocalPubSub, ...LocalPubSub[]];
        return { publisher: pub, hosts, close: async () => void (await Promise.all(all.map((p) => p.close()))) };
      },
    },
  ];
}

export async function runPubSubBench(options: { rounds?: number; subscribers?: number; redisUrl?: string } = {}): Promise<PubSubBenchResult[]> {
  const rounds = options.rounds ?? 200;
  const subscribers = options.subscribers ?? 1000;
  const results: PubSubBenchResult[] = [];
  for (const variant of variants(options.redisUrl ?? 'redis://127.0.0.1:6379')) {
    results.push(await measure(variant, subscribers, rounds));
  }
  return results;
}

function printTable(results: PubSubBenchResult[]): void {
  const rows = results.map((r) => ({
    variant: r.name,
    subs: r.subscribers,
    'p50 ms': r.p50Ms,
    'p99 ms': r.p99Ms,
    'mean ms': r.meanMs,
    'max ms': r.maxMs,
    'deliveries/s': r.deliveriesPerSec,
    dropped: r.dropped,
  }));
  console.table(rows);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, subscribers: { type: 'string' }, redis: { type: 'string' } },
  });
  const rounds = values.rounds ? Number(values.rounds) : 200;
  const subscribers = values.subscribers ? Number(values.subscribers) : 1000;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10_000) throw new Error('--rounds must be 1..10000');
  if (!Number.isInteger(subscribers) || subscribers < 1 || subscribers > 100_000) throw new Error('--subscribers must be 1..100000');
  const redisUrl = values.redis ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const results = await runPubSubBench({ rounds, subscribers, redisUrl });
  printTable(results);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const outDir = path.join(root, 'bench-results');
  await mkdir(outDir, { recursive: true });
  const report = {
    benchmark: 'pubsub',
    description: 'time from publish() until all subscribers received one change notification',
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    warmupRounds: WARMUP_ROUNDS,
    results,
  };
  await writeFile(path.join(outDir, 'pubsub.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'pubsub.json'))}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
