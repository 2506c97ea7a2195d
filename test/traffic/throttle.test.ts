// Throttling modes through the real edge, specified: a version in QUEUE mode at 5 QPS with
// a queue of 20 answers a burst of 20 with no 429 and a burst of 60 with some (429 +
// Retry-After once the queue is full); a concurrency cap refuses what is over it in REJECT
// mode and queues it in QUEUE mode. The policy is read from the PolicySource, as the
// database feeds it in production.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPlaneModel } from '../../xds/model.ts';
import type { VersionPolicy } from '../../gateway/policy/port.ts';
import { SETTINGS, dpVersion, post, row, startFakeRuntime, startStack, type FakeRuntime, type Stack } from '../edge/helpers.ts';
import { translate } from '../../xds/translate.ts';
import { unpackAny } from '../../proto/envoy.ts';
import type { Cluster__Output } from '../../proto/generated/envoy/config/cluster/v3/Cluster.ts';

const group = (name: string, port: number, qps: number | null): DataPlaneModel['groups'][number] => ({
  groupId: `gid-${name}`,
  name,
  versions: [dpVersion({ name: 'v1', weight: 100, ports: [port], qps })],
});

describe('throttle modes at the edge', () => {
  let rt: FakeRuntime, slow: FakeRuntime;
  let stack: Stack;

  const tune = (name: string, over: Partial<VersionPolicy>) => {
    const p = stack.policies.versionPolicies(name).find((x) => x.version === 'v1')!;
    stack.policies.setVersion({ ...p, ...over });
  };
  const burst = async (name: string, n: number) => {
    const url = `${stack.url}/services/${name}/predict`;
    const replies = await Promise.all(Array.from({ length: n }, () => post(url, row())));
    const by: Record<string, number> = {};
    for (const r of replies) by[r.status] = (by[r.status] ?? 0) + 1;
    return { by, replies };
  };

  beforeAll(async () => {
    [rt, slow] = await Promise.all([startFakeRuntime('v1'), startFakeRuntime('v1')]);
    slow.delayMs = 300;
    stack = await startStack(
      {
        groups: [group('queue20', rt.port, 5), group('queue60', rt.port, 5), group('reject', rt.port, 5), group('capped', slow.port, null), group('capq', slow.port, null)],
      },
      { limits: { upstreamConnections: 128 } },
    );
    tune('queue20', { throttleMode: 'QUEUE', queueDepth: 20, queueMaxWaitMs: 6000 });
    tune('queue60', { throttleMode: 'QUEUE', queueDepth: 20, queueMaxWaitMs: 6000 });
    tune('capped', { maxConcurrency: 2 });
    tune('capq', { throttleMode: 'QUEUE', queueDepth: 10, queueMaxWaitMs: 10_000, maxConcurrency: 2 });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all([rt?.close(), slow?.close()]);
  });

  it('QUEUE, 5 QPS, depth 20: a burst of 20 is answered with no 429', async () => {
    const { by } = await burst('queue20', 20);
    expect(by).toEqual({ 200: 20 });
  });

  it('QUEUE, 5 QPS, depth 20: a burst of 60 gets some 429s with Retry-After, and at least 25 answers', async () => {
    const { by, replies } = await burst('queue60', 60);
    expect(by[429]).toBeGreaterThan(0);
    expect(by[200]).toBeGreaterThanOrEqual(25);
    const refused = replies.find((r) => r.status === 429)!;
    expect(refused.json.error_code).toBe('REQUEST_LIMIT_EXCEEDED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('REJECT (the default) at the same limit refuses the burst’s overflow at once', async () => {
    const { by } = await burst('reject', 20);
    expect(by[429]).toBeGreaterThan(0);
    expect(by[200]).toBeLessThanOrEqual(6);
  });

  it('max concurrency 2 in REJECT mode: 6 at once → 2 answered, 4 refused (429, in flight at the limit)', async () => {
    const { by, replies } = await burst('capped', 6);
    expect(by).toEqual({ 200: 2, 429: 4 });
    const refused = replies.find((r) => r.status === 429)!;
    expect([refused.json.error_code, refused.headers['retry-after']]).toEqual(['REQUEST_LIMIT_EXCEEDED', '1']);
    expect(String(refused.json.message)).toMatch(/2 requests in flight/);
  });

  it('max concurrency 2 in QUEUE mode: 6 at once are all answered, two at a time', async () => {
    const { by } = await burst('capq', 6);
    expect(by).toEqual({ 200: 6 });
  });
});

describe('throttle on Envoy', () => {
  it('max concurrency becomes the version cluster’s circuit breaker; QUEUE lets queueDepth wait for a connection', () => {
    const v = (over: Partial<DataPlaneModel['groups'][number]['versions'][number]>) => ({ ...dpVersion({ name: 'v1', weight: 100, ports: [1001] }), ...over });
    const cluster = (over: Parameters<typeof v>[0]) => {
      const res = translate({ groups: [{ groupId: 'g', name: 'wine', versions: [v(over)] }] }, SETTINGS);
      return unpackAny<Cluster__Output>(res.clusters[0]!.resource);
    };
    expect(cluster({}).circuit_breakers).toBeUndefined();
    expect(cluster({ maxConcurrency: 8 }).circuit_breakers?.thresholds?.[0]).toMatchObject({
      max_connections: { value: 8 },
      max_requests: { value: 8 },
      max_pending_requests: { value: 1 },
    });
    expect(cluster({ maxConcurrency: 8, queueDepth: 20 }).circuit_breakers?.thresholds?.[0]?.max_pending_requests).toEqual({ value: 20 });
  });
});
