// Drill: the shared rate-limit store (a private Redis started by the test) is killed under a
// bounded loopback load on the local edge, and started again on the same port. The edge uses
// the production limiter (gateway/ratelimit/index.ts createRateLimiter): while Redis is down
// the limits fail open to a local bucket (still limited, never unlimited, never a 5xx), a
// RATE_LIMIT_STORE_UNAVAILABLE event is raised, and RATE_LIMIT_STORE_RECOVERED once Redis is
// back and used again. Requests are counted as sent, answered (200), throttled (429) and
// failed (anything else); every answered request has its inference record (lost = 0).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, type RateLimitStoreEvent } from '../../gateway/ratelimit/index.ts';
import { redisAnswers } from '../setup/services.ts';
import { freePort } from '../fixtures/sluice-process.ts';
import { dpVersion, sleep, startFakeRuntime, startStack, type FakeRuntime, type Stack } from '../edge/helpers.ts';
import { readRecords } from '../gateway/helpers.ts';

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(url, 300)) return child;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('private redis-server did not answer');
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('drill: Redis stopped under traffic', () => {
  let port: number;
  let redis: ChildProcess;
  let rt: FakeRuntime;
  let stack: Stack;
  const events: RateLimitStoreEvent[] = [];

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    rt = await startFakeRuntime('v1');
    stack = await startStack(
      { groups: [{ groupId: 'g', name: 'wine', versions: [dpVersion({ name: 'v1', weight: 100, ports: [rt.port], capture: true, qps: 8 })] }] },
      { rateLimiter: (policies, registry) => createRateLimiter({ policies, registry, redisUrl: `redis://127.0.0.1:${port}`, redisKeyPrefix: 'drill:', onStoreEvent: (e) => events.push(e) }) },
    );
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await rt?.close();
    if (redis) await kill9(redis);
  });

  it('limits fail open to a local bucket with an event, no 5xx, no record lost, and Redis is used again when back', async () => {
    type Phase = 'up' | 'down' | 'back';
    let phase: Phase = 'up';
    const counts = { sent: 0, answered: 0, throttled: 0, failed: 0 };
    const byPhase: Record<Phase, { answered: number; throttled: number }> = { up: { answered: 0, throttled: 0 }, down: { answered: 0, throttled: 0 }, back: { answered: 0, throttled: 0 } };
    const failures: string[] = [];
    const answered = new Set<string>();
    let stopped = false;
    const worker = async (w: number) => {
      for (let i = 0; !stopped; i++) {
        const id = `redis-drill-${w}-${i}`;
        const at = phase;
        counts.sent++;
        try {
          const res = await fetch(`${stack.url}/services/wine/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ client_request_id: id, dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } }),
          });
          const text = await res.text();
          if (res.status === 200) { counts.answered++; byPhase[at].answered++; answered.add(id); }
          else if (res.status === 429) { counts.throttled++; byPhase[at].throttled++; await sleep(5); }
          else { counts.failed++; failures.push(`${res.status} ${text.slice(0, 120)}`); }
        } catch (err) {
          counts.failed++;
          failures.push(String(err));
        }
      }
    };
    const workers = [0, 1, 2].map(worker); // bounded: three requests in flight at most
    await sleep(1500);
    await kill9(redis);
    phase = 'down';
    await sleep(2000);
    redis = await startRedis(port);
    phase = 'back';
    // ioredis reconnects (backoff up to 2 s) and the fail-open store probes again every second
    const deadline = Date.now() + 15_000;
    while (!events.some((e) => e.type === 'RATE_LIMIT_STORE_RECOVERED') && Date.now() < deadline) await sleep(100);
    await sleep(500);
    stopped = true;
    await Promise.all(workers);
    await stack.writer.flush();
    const recorded = new Set((await readRecords(stack.store)).map((r) => r.record.client_request_id ?? '').filter((id) => id.startsWith('redis-drill-')));
    const lost = [...answered].filter((id) => !recorded.has(id)).length;
    console.log(`[drill redis] sent ${counts.sent}, answered ${counts.answered}, throttled ${counts.throttled}, failed ${counts.failed}, lost ${lost}; by phase ${JSON.stringify(byPhase)}; events ${events.map((e) => e.type).join(',')}`);
    expect(failures).toEqual([]);
    expect(counts.sent).toBe(counts.answered + counts.throttled);
    expect(lost).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['RATE_LIMIT_STORE_UNAVAILABLE', 'RATE_LIMIT_STORE_RECOVERED']);
    // served in every phase, and still limited while Redis was down (a local bucket, not unlimited)
    for (const p of ['up', 'down', 'back'] as const) expect(byPhase[p].answered).toBeGreaterThan(0);
    expect(byPhase.down.throttled).toBeGreaterThan(0);
  }, 60_000);
});
