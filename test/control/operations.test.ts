// The Operations API (CONTRACT.md "Operations") through GraphQL on SQLite and PostgreSQL:
// logSearch and logTail over the on-disk log store, and metrics / metricsUpdated over rollups
// the real scraper computed from Prometheus text (the edge's series and a replica's), with a
// controlled clock: rates from counters (across a counter reset), throttles, quantiles from
// buckets, error rate, a group as the sum of its versions, five-minute steps, GPU series
// empty with a reason, and the bad inputs the issue names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeMetrics, type EdgeMetrics } from '../../gateway/edge/metrics.ts';
import { createRuntimeMetrics, type RuntimeMetrics } from '../../runtime/metrics.ts';
import { LogStore } from '../../control/logs/store.ts';
import { LogSearcher } from '../../control/logs/search.ts';
import { LogService } from '../../control/logs/service.ts';
import { EmbeddedMetricsReader } from '../../control/monitoring/reader.ts';
import { MetricsScraper } from '../../control/monitoring/scraper.ts';
import { PrometheusMetricsReader } from '../../control/monitoring/prometheus.ts';
import { providers } from '../fixtures/db.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

const codeOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code;
const reasonOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.reason;

describe.each(providers)('Operations API on %s', (provider) => {
  let cp: TestControlPlane;
  let store: LogStore;
  const searcher = new LogSearcher();
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-ops-logs-'));
  let groupId: string;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    store = new LogStore({ root: logDir, segmentBytes: 16 * 1024 });
    cp = await startTestControlPlane({
      provider,
      operations: ({ prisma, orchestrator }) => ({
        logs: new LogService({ orchestrator, store, searcher }),
        metrics: new EmbeddedMetricsReader(prisma, () => 'nvidia-smi is not installed: no GPU on this machine'),
      }),
    });
    const g = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "ops-demo" }) { id } }`);
    groupId = g.data!.createServiceGroup.id;
    const add = async (name: string, replicas: number) => {
      const r = await cp.gql<{ addServiceVersion: { id: string } }>(
        `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
        { g: groupId, input: { name, model: { name: 'wine-classifier', version: '1' }, replicas } },
      );
      return r.data!.addServiceVersion.id;
    };
    v1 = await add('v1', 2);
    v2 = await add('v2', 1);
    for (const id of [v1, v2]) await cp.gql(`mutation($id: ID!) { startServiceVersion(id: $id) { status } }`, { id });
    await cp.settle();
    for (let i = 0; i < 50 && (await cp.db.prisma.instance.count()) < 3; i++) await cp.settle();
  });
  afterAll(async () => {
    await cp?.close();
    await searcher.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  describe('logs', () => {
    const LOG_SEARCH = `query($v: ID!, $i: String, $q: String, $re: Boolean, $from: DateTime, $to: DateTime, $range: TimeRange, $before: String, $limit: Int) {
      logSearch(versionId: $v, instance: $i, query: $q, regex: $re, from: $from, to: $to, range: $range, before: $before, limit: $limit) {
        lines { time instance stream line } before dropped } }`;
    type Page = { logSearch: { lines: { time: string; instance: string; stream: string; line: string }[]; before: string | null; dropped: number } };

    beforeAll(() => {
      const now = Date.now();
      for (let b = 0; b < 30; b++) {
        store.append(
          v1,
          Array.from({ length: 100 }, (_, k) => {
            const n = b * 100 + k;
            return { time: new Date(now - 3_000_000 + n * 1000), instance: `ops-demo-v1-${n % 2}`, stream: n % 10 === 0 ? ('stderr' as const) : ('stdout' as const), line: `line ${n}${n % 10 === 0 ? ' WARN slow' : ''}` };
          }),
        );
      }
    });

    it('searches newest first within the window and pages backwards', async () => {
      const first = await cp.gql<Page>(LOG_SEARCH, { v: v1, range: 'LAST_1H', limit: 50 });
      expect(first.errors).toBeUndefined();
      const page = first.data!.logSearch;
      expect(page.lines[0]?.line).toBe('line 2999');
      expect(page.lines).toHaveLength(50);
      expect(page.dropped).toBe(0);
      const second = await cp.gql<Page>(LOG_SEARCH, { v: v1, range: 'LAST_1H', limit: 50, before: page.before });
      expect(second.data!.logSearch.lines[0]?.line).toBe('line 2949');
      const warn = await cp.gql<Page>(LOG_SEARCH, { v: v1, q: 'WARN', i: 'ops-demo-v1-0', limit: 3 });
      expect(warn.data!.logSearch.lines.map((l) => [l.line, l.stream, l.instance])).toEqual([
        ['line 2990 WARN slow', 'stderr', 'ops-demo-v1-0'],
        ['line 2980 WARN slow', 'stderr', 'ops-demo-v1-0'],
        ['line 2970 WARN slow', 'stderr', 'ops-demo-v1-0'],
      ]);
      const re = await cp.gql<Page>(LOG_SEARCH, { v: v1, q: '^line 2[0-9]{2}$', re: true, limit: 1000 });
      expect(re.data!.logSearch.lines).toHaveLength(90);
      expect(re.data!.logSearch.before).toBeNull();
    });

    it('refuses bad input clearly', async () => {
      const now = Date.now();
      const backwards = await cp.gql(LOG_SEARCH, { v: v1, from: new Date(now).toISOString(), to: new Date(now - 60_000).toISOString() });
      expect([codeOf(backwards), reasonOf(backwards)]).toEqual(['BAD_USER_INPUT', 'BAD_TIME_WINDOW']);
      const evil = await cp.gql(LOG_SEARCH, { v: v1, q: '(a+)+$', re: true });
      expect([codeOf(evil), reasonOf(evil)]).toEqual(['BAD_USER_INPUT', 'UNSAFE_REGEX']);
      const broken = await cp.gql(LOG_SEARCH, { v: v1, q: '(unclosed', re: true });
      expect(reasonOf(broken)).toBe('BAD_REGEX');
      expect(codeOf(await cp.gql(LOG_SEARCH, { v: 'no-such-version' }))).toBe('NOT_FOUND');
      expect(codeOf(await cp.gql(LOG_SEARCH, { v: v1, i: 'someone-else-0' }))).toBe('NOT_FOUND');
      expect(reasonOf(await cp.gql(LOG_SEARCH, { v: v1, before: 'not-a-cursor' }))).toBe('BAD_CURSOR');
    });

    it('tails new lines of one instance', async () => {
      const client = cp.ws();
      const got: { line: string; instance: string }[] = [];
      let resolveFirst!: () => void;
      const first = new Promise<void>((r) => (resolveFirst = r));
      const stop = client.subscribe<{ logTail: { line: string; instance: string } }>(
        { query: `subscription($v: ID!) { logTail(versionId: $v, instance: "ops-demo-v1-1", query: "tick") { line instance } }`, variables: { v: v1 } },
        { next: (m) => { if (m.data) got.push(m.data.logTail); resolveFirst(); }, error: () => undefined, complete: () => undefined },
      );
      // the subscription is live once the server has registered the follower
      for (let i = 0; i < 100 && got.length === 0; i++) {
        store.append(v1, [
          { time: new Date(), instance: 'ops-demo-v1-0', stream: 'stdout', line: 'tick from the other one' },
          { time: new Date(), instance: 'ops-demo-v1-1', stream: 'stdout', line: `tick ${i}` },
          { time: new Date(), instance: 'ops-demo-v1-1', stream: 'stdout', line: 'unrelated' },
        ]);
        await Promise.race([first, new Promise((r) => setTimeout(r, 50))]);
      }
      stop();
      expect(got.length).toBeGreaterThan(0);
      expect(got.every((l) => l.instance === 'ops-demo-v1-1' && l.line.startsWith('tick '))).toBe(true);
    });
  });

  describe('metrics', () => {
    // a clock in the past, aligned to five minutes, so whole steps are known exactly
    const T0 = Math.floor(Date.now() / 300_000) * 300_000 - 15 * 60_000;
    let clock = T0;
    const METRICS = `query($g: ID!, $v: ID, $i: String, $names: [MetricName!]!, $from: DateTime, $to: DateTime, $step: MetricStep, $range: TimeRange) {
      metrics(groupId: $g, versionId: $v, instance: $i, names: $names, from: $from, to: $to, step: $step, range: $range) {
        name versionId instance reason points { t v } } }`;
    type Series = { name: string; versionId: string | null; instance: string | null; reason: string | null; points: { t: string; v: number | null }[] };

    beforeAll(async () => {
      await cp.db.prisma.instance.updateMany({ data: { cpuMillicores: 500, memoryBytes: 100_000_000 } });
      let edgeRegistry = new Registry();
      let edge: EdgeMetrics = createEdgeMetrics(edgeRegistry);
      let runtime: RuntimeMetrics = createRuntimeMetrics({ model: 'wine', version: '1' }, { processMetrics: false });
      const scraper = new MetricsScraper({
        prisma: cp.db.prisma,
        pubsub: cp.pubsub,
        edges: [() => edgeRegistry.metrics()],
        fetchText: async (url) => (url.endsWith(`:${instancePort}/metrics`) ? runtime.registry.metrics() : Promise.reject(new Error('down'))),
        now: () => clock,
      });
      const instance = await cp.db.prisma.instance.findFirstOrThrow({ where: { name: 'ops-demo-v1-0' } });
      const instancePort = instance.port as number;
      // 21 scrapes, 15 s apart: five whole minutes. Per 15 s: v1 150 requests (10/s) of which
      // 60 throttled (4/s), 20 ms each; v2 15 requests (1/s), 5 of them 503, 200 ms each.
      for (let s = 0; s <= 20; s++) {
        clock = T0 + s * 15_000;
        if (s === 10) {
          // the edge and the replica restart: every counter starts again from zero
          edgeRegistry = new Registry();
          edge = createEdgeMetrics(edgeRegistry);
          runtime = createRuntimeMetrics({ model: 'wine', version: '1' }, { processMetrics: false });
        }
        if (s > 0) {
          for (let k = 0; k < 150; k++) {
            const throttled = k < 60;
            edge.tally.series('ops-demo', 'v1').answered(throttled ? 429 : 200, 0.02, 0, 0);
            if (throttled) edge.throttled?.inc({ group: 'ops-demo', version: 'v1' });
            if (!throttled && k % 2 === 0) runtime.observe(200, 0.004, 1);
          }
          for (let k = 0; k < 15; k++) {
            edge.tally.series('ops-demo', 'v2').answered(k < 5 ? 503 : 200, 0.2, 0, 0);
          }
        }
        await scraper.scrapeOnce();
      }
    });

    const query = async (vars: Record<string, unknown>) => {
      const r = await cp.gql<{ metrics: Series[] }>(METRICS, { g: groupId, from: new Date(T0).toISOString(), to: new Date(T0 + 4 * 60_000).toISOString(), step: 'ONE_MINUTE', ...vars });
      expect(r.errors).toBeUndefined();
      return Object.fromEntries(r.data!.metrics.map((s) => [s.name, s]));
    };
    const values = (s: Series | undefined) => s?.points.map((p) => (p.v === null ? null : Math.round(p.v * 1000) / 1000));

    it('computes rates, throttles, quantiles and error rates per version, across a counter reset', async () => {
      const s = await query({ v: v1, names: ['QPS', 'THROTTLED_QPS', 'LATENCY_P50', 'LATENCY_P99', 'ERROR_RATE', 'CONCURRENCY', 'CPU', 'MEMORY', 'INSTANCES_RUNNING', 'INSTANCES_EXPECTED'] });
      expect(s.QPS?.points.map((p) => p.t)).toEqual([0, 1, 2, 3, 4].map((m) => new Date(T0 + m * 60_000).toISOString()));
      expect(values(s.QPS)).toEqual([10, 10, 10, 10, 10]);
      expect(values(s.THROTTLED_QPS)).toEqual([4, 4, 4, 4, 4]);
      // every observation in the edge's (19 ms, 20.9 ms] bucket: interpolated like histogram_quantile
      expect(values(s.LATENCY_P50)).toEqual([19.95, 19.95, 19.95, 19.95, 19.95]);
      expect(values(s.LATENCY_P99)).toEqual([20.881, 20.881, 20.881, 20.881, 20.881]);
      expect(values(s.ERROR_RATE)).toEqual([0, 0, 0, 0, 0]);
      expect(values(s.CONCURRENCY)).toEqual([0, 0, 0, 0, 0]);
      expect(values(s.CPU)).toEqual([1, 1, 1, 1, 1]); // two replicas at half a core
      expect(values(s.MEMORY)).toEqual([2e8, 2e8, 2e8, 2e8, 2e8]);
      expect(values(s.INSTANCES_RUNNING)).toEqual([2, 2, 2, 2, 2]);
      expect(values(s.INSTANCES_EXPECTED)).toEqual([2, 2, 2, 2, 2]);
    });

    it('sums versions into the group, and reads five-minute steps and single instances', async () => {
      const group = await query({ names: ['QPS', 'THROTTLED_QPS', 'ERROR_RATE', 'LATENCY_P95'] });
      expect(group.QPS?.versionId).toBeNull();
      expect(values(group.QPS)).toEqual([11, 11, 11, 11, 11]);
      expect(values(group.THROTTLED_QPS)).toEqual([4, 4, 4, 4, 4]);
      expect(values(group.ERROR_RATE)).toEqual([0.03, 0.03, 0.03, 0.03, 0.03]); // 1/s of 11/s... as 5 of 165 per 15 s
      // merged buckets: 150 fast + 15 slow per 15 s → p95 lies in v2's (100 ms, 250 ms] bucket
      expect(group.LATENCY_P95?.points.every((p) => (p.v ?? 0) > 100 && (p.v ?? 0) <= 250)).toBe(true);
      const five = await query({ v: v2, names: ['QPS', 'ERROR_RATE'], step: 'FIVE_MINUTES', to: new Date(T0 + 299_000).toISOString() });
      expect(values(five.QPS)).toEqual([1]);
      expect(values(five.ERROR_RATE)).toEqual([0.333]);
      const inst = await query({ i: 'ops-demo-v1-0', names: ['QPS', 'LATENCY_P50', 'CPU'] });
      expect(inst.QPS?.instance).toBe('ops-demo-v1-0');
      expect(values(inst.QPS)).toEqual([3, 3, 3, 3, 3]); // 45 of the 90 admitted per 15 s
      expect(values(inst.CPU)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
      expect(inst.LATENCY_P50?.points.every((p) => (p.v ?? 0) > 2.5 && (p.v ?? 0) <= 5)).toBe(true);
    });

    it('leaves steps without data null and says why GPU series are empty', async () => {
      const s = await query({ v: v1, names: ['QPS', 'GPU_UTILIZATION', 'GPU_MEMORY'], from: new Date(T0 - 120_000).toISOString() });
      expect(values(s.QPS)?.slice(0, 2)).toEqual([null, null]);
      expect(s.GPU_UTILIZATION?.points.every((p) => p.v === null)).toBe(true);
      expect(s.GPU_UTILIZATION?.reason).toMatch(/no GPU/);
      expect(s.GPU_MEMORY?.reason).toMatch(/no GPU/);
    });

    it('refuses bad input clearly', async () => {
      const now = Date.now();
      const tenYears = await cp.gql(METRICS, { g: groupId, names: ['QPS'], from: new Date(now - 3650 * 86_400_000).toISOString(), to: new Date(now).toISOString(), step: 'ONE_MINUTE' });
      expect([codeOf(tenYears), reasonOf(tenYears)]).toEqual(['BAD_USER_INPUT', 'TOO_MANY_POINTS']);
      const backwards = await cp.gql(METRICS, { g: groupId, names: ['QPS'], from: new Date(now).toISOString(), to: new Date(now - 1).toISOString() });
      expect(reasonOf(backwards)).toBe('BAD_TIME_WINDOW');
      const unknownName = await cp.gql(METRICS, { g: groupId, names: ['QPS', 'HAPPINESS'] });
      expect(codeOf(unknownName)).toBe('BAD_USER_INPUT');
      expect(unknownName.errors?.[0]?.message).toMatch(/HAPPINESS/);
      expect(codeOf(await cp.gql(METRICS, { g: 'no-such-group', names: ['QPS'] }))).toBe('NOT_FOUND');
      expect(codeOf(await cp.gql(METRICS, { g: groupId, v: 'no-such-version', names: ['QPS'] }))).toBe('NOT_FOUND');
      expect(codeOf(await cp.gql(METRICS, { g: groupId, i: 'nobody-0', names: ['QPS'] }))).toBe('NOT_FOUND');
    });

    it('answers Prometheus unreachable with UNAVAILABLE, quickly', async () => {
      const reader = new PrometheusMetricsReader({ baseUrl: 'http://127.0.0.1:9/', dataPlane: 'edge', timeoutMs: 2_000 });
      const target = { groupId, groupName: 'ops-demo', versions: [{ id: v1, name: 'v1' }], versionId: v1, instance: null };
      await expect(reader.query(target, { names: ['QPS'], fromMs: T0, toMs: T0 + 60_000, stepSec: 60 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });

  it('streams each new point to metricsUpdated subscribers', async () => {
    const client = cp.ws();
    const got = new Promise<{ name: string; versionId: string | null; points: { t: string; v: number | null }[] }[]>((resolve, reject) => {
      client.subscribe<{ metricsUpdated: { name: string; versionId: string | null; points: { t: string; v: number | null }[] }[] }>(
        { query: `subscription($g: ID!, $v: ID) { metricsUpdated(groupId: $g, versionId: $v) { name versionId points { t v } } }`, variables: { g: groupId, v: v2 } },
        { next: (m) => m.data && resolve(m.data.metricsUpdated), error: reject, complete: () => undefined },
      );
    });
    const registry = new Registry();
    const edge = createEdgeMetrics(registry);
    let now = Date.now();
    const scraper = new MetricsScraper({ prisma: cp.db.prisma, pubsub: cp.pubsub, edges: [() => registry.metrics()], fetchText: () => Promise.reject(new Error('none')), now: () => now });
    let series: Awaited<typeof got> | null = null;
    void got.then((s) => (series = s));
    for (let i = 0; i < 100 && (i < 3 || !series); i++) {
      edge.tally.series('ops-demo', 'v2').counted(200, 30);
      await scraper.scrapeOnce();
      now += 15_000;
      await Promise.race([got, new Promise((r) => setTimeout(r, 50))]);
    }
    const s = await got;
    expect(s.every((x) => x.versionId === v2)).toBe(true);
    expect(s.map((x) => x.name)).toContain('QPS');
    expect(s.find((x) => x.name === 'QPS')?.points).toHaveLength(1);
  });

  it('shows live throttling and concurrency on versions for list views', async () => {
    const r = await cp.gql<{ serviceGroup: { versions: { name: string; currentQps: number | null; throttledQps: number | null; concurrency: number | null }[] } }>(
      `query($id: ID!) { serviceGroup(id: $id) { versions { name currentQps throttledQps concurrency } } }`,
      { id: groupId },
    );
    expect(r.errors).toBeUndefined();
    const v2row = r.data!.serviceGroup.versions.find((v) => v.name === 'v2');
    expect(v2row?.currentQps).toBeGreaterThan(0);
    expect(v2row?.throttledQps).toBe(0);
    expect(v2row?.concurrency).toBe(0);
  });
});
