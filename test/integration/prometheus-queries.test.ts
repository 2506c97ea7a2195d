// The production metrics backend (issue 13): every metric the `metrics` query offers, read with
// PromQL from a real Prometheus (Debian's, started here) that scrapes what a production
// deployment exposes — Envoy's admin /stats/prometheus for the `sluice/{group}/{version}`
// clusters and each version's local_ratelimit bucket, the runtimes' own /metrics (real
// prom-client registries of the runtime, two replicas), and an NVIDIA DCGM exporter whose GPU
// series name the measured pod. The scrape configuration is the one `npm run
// prometheus:config` prints. Counters advance at known rates (brought up to rate × elapsed time
// on each scrape), so the expected figures are exact: QPS, throttled, errors, bytes, latency
// quantiles from Envoy's millisecond buckets, concurrency, replica CPU and memory, GPU
// utilisation and memory (an unrelated pod's GPU excluded), instances — per group, per version
// and per instance, with both of Envoy's rate-limit modes.
//
// The Envoy series are written in the exposition Envoy produces: stat `cluster.<name>.<stat>`
// becomes `envoy_cluster_<stat>{envoy_cluster_name="<name>"}`, response classes become
// `envoy_response_code_class`, and `<prefix>.http_local_rate_limit.rate_limited` becomes
// `envoy_http_local_rate_limit_rate_limited{envoy_local_http_ratelimit_prefix="<prefix>"}`
// (Envoy's default tag extractors).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheusConfigYaml } from '../../control/monitoring/prometheus-config.ts';
import { PrometheusMetricsReader } from '../../control/monitoring/prometheus.ts';
import { METRIC_NAMES, type MetricName, type MetricsTarget } from '../../control/monitoring/reader.ts';
import { createRuntimeMetrics } from '../../runtime/metrics.ts';
import { clusterName, localRateLimitStatPrefix } from '../../xds/contract.ts';
import { testPrometheus } from '../fixtures/services.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// seconds; the API offers 60 and 300 (rollup steps), but PromQL evaluates any step and a
// shorter one keeps this test to half a minute
const STEP = 10 as 60;

/** Envoy's default histogram buckets (ms) and the share of requests at or under each. */
const ENVOY_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
// of 6 requests per second: 2 take ≤ 5 ms, 3 more ≤ 10 ms, the last ≤ 25 ms
const V1_UNDER = (le: number) => (le < 5 ? 0 : le < 10 ? 2 / 6 : le < 25 ? 5 / 6 : 1);
// Prometheus' linear interpolation inside the bucket holding the rank
const V1_P50 = 5 + ((3 - 2) / 3) * 5;
const V1_P95 = 10 + ((0.95 * 6 - 5) / 1) * 15;
const V1_P99 = 10 + ((0.99 * 6 - 5) / 1) * 15;

const RATES = {
  v1: { upstream: 6, throttled: 4, errors5xx: 0.5, txBytes: 1000, rxBytes: 2000, active: 3 },
  // v2 was never throttled and never failed: Envoy has no such series at all for it
  v2: { upstream: 2, throttled: 0, errors5xx: 0, txBytes: 400, rxBytes: 800, active: 1 },
};
const REPLICA_QPS = 5; // each replica of v1

async function listen(handler: (path: string) => string | Promise<string>): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req.url ?? '/'))
      .then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the metrics query against a real Prometheus scraping Envoy, the replicas and a DCGM exporter', () => {
  const t0 = Date.now();
  const elapsed = () => (Date.now() - t0) / 1000;
  const servers: Server[] = [];
  let dir: string;
  let prometheus: ChildProcess;
  let baseUrl: string;
  let from: number;

  /** Envoy's /stats/prometheus for the two clusters of group `shop`, both rate-limit modes. */
  const envoyStats = (): string => {
    const s = elapsed();
    const out: string[] = [];
    const counter = (name: string, labels: string, value: number) => out.push(`${name}{${labels}} ${Math.floor(value)}`);
    for (const [version, r] of Object.entries(RATES)) {
      const c = `envoy_cluster_name="${clusterName('shop', version)}"`;
      counter('envoy_cluster_upstream_rq_total', c, r.upstream * s);
      counter('envoy_cluster_upstream_rq_xx', `${c},envoy_response_code_class="2"`, (r.upstream - r.errors5xx) * s);
      if (r.errors5xx) counter('envoy_cluster_upstream_rq_xx', `${c},envoy_response_code_class="5"`, r.errors5xx * s);
      counter('envoy_cluster_upstream_cx_tx_bytes_total', c, r.txBytes * s);
      counter('envoy_cluster_upstream_cx_rx_bytes_total', c, r.rxBytes * s);
      out.push(`envoy_cluster_upstream_rq_active{${c}} ${r.active}`);
      if (r.throttled) {
        // local mode: the version's own bucket; global mode: the RLS filter charges the cluster
        counter('envoy_http_local_rate_limit_rate_limited', `envoy_local_http_ratelimit_prefix="${localRateLimitStatPrefix('shop', version)}"`, r.throttled * s);
        counter('envoy_cluster_ratelimit_over_limit', c, r.throttled * s);
      }
      const n = Math.floor(r.upstream * s);
      for (const le of ENVOY_BUCKETS) counter('envoy_cluster_upstream_rq_time_bucket', `${c},le="${le}"`, version === 'v1' ? V1_UNDER(le) * n : n);
      counter('envoy_cluster_upstream_rq_time_bucket', `${c},le="+Inf"`, n);
      counter('envoy_cluster_upstream_rq_time_count', c, n);
    }
    // another group's version must never leak into `shop`'s figures
    counter('envoy_cluster_upstream_rq_total', `envoy_cluster_name="${clusterName('shopping', 'v1')}"`, 100 * s);
    counter('envoy_http_local_rate_limit_rate_limited', `envoy_local_http_ratelimit_prefix="${localRateLimitStatPrefix('shopping', 'v1')}"`, 100 * s);
    return `${out.join('\n')}\n`;
  };

  /** A DCGM exporter: two GPUs held by shop's replicas, one by another pod. */
  const dcgmStats = (): string =>
    [
      'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",pod="shop-v1-0",namespace="sluice",container="runtime"} 70',
      'DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",pod="shop-v1-1",namespace="sluice",container="runtime"} 40',
      'DCGM_FI_DEV_GPU_UTIL{gpu="2",UUID="GPU-c",pod="other-v1-0",namespace="sluice",container="runtime"} 99',
      'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",pod="shop-v1-0",namespace="sluice",container="runtime"} 1024',
      'DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b",pod="shop-v1-1",namespace="sluice",container="runtime"} 2048',
      'DCGM_FI_DEV_FB_USED{gpu="2",UUID="GPU-c",pod="other-v1-0",namespace="sluice",container="runtime"} 9999',
      '',
    ].join('\n');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-promql-'));
    const envoy = await listen((path) => {
      if (path !== '/stats/prometheus') throw new Error(`unexpected path ${path}`);
      return envoyStats();
    });
    const dcgm = await listen(() => dcgmStats());
    // two replicas of shop/v1: the runtime's own registries, answering REPLICA_QPS each
    const replicas = [];
    for (const instance of ['shop-v1-0', 'shop-v1-1']) {
      const metrics = createRuntimeMetrics({ model: 'wine', version: '1' });
      let answered = 0;
      const replica = await listen(() => {
        for (const due = Math.floor(REPLICA_QPS * elapsed()); answered < due; answered++) metrics.observe(200, 0.002, 1);
        return metrics.registry.metrics();
      });
      servers.push(replica.server);
      replicas.push({ group: 'shop', version: 'v1', instance, address: replica.address });
    }
    servers.push(envoy.server, dcgm.server);

    const promServer = await listen(() => '');
    const promAddress = promServer.address;
    await new Promise((r) => promServer.server.close(r));
    baseUrl = `http://${promAddress}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, prometheusConfigYaml({ intervalSeconds: 1, edges: [], orchestrator: 'local', replicas, envoyAdmins: [envoy.address], dcgmExporters: [dcgm.address] }));
    prometheus = spawn(testPrometheus(), [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${promAddress}`], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      if ((await fetch(`${baseUrl}/-/ready`).catch(() => null))?.ok) break;
      if (i > 300) throw new Error('prometheus did not become ready');
      await sleep(100);
    }
    // one whole step with a second of scrapes on each side; the last evaluation is at from + 2 steps
    from = Math.ceil((Date.now() + 3_000) / (STEP * 1000)) * STEP * 1000;
    await sleep(from + 2 * STEP * 1000 + 3_000 - Date.now());
  }, 90_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const versions = [{ id: 'id-v1', name: 'v1' }, { id: 'id-v2', name: 'v2' }];
  const target = (versionId: string | null, instance: string | null = null): MetricsTarget => ({ groupId: 'g', groupName: 'shop', versions, versionId, instance });
  const read = async (reader: PrometheusMetricsReader, t: MetricsTarget, names: readonly MetricName[] = METRIC_NAMES) => {
    const series = await reader.query(t, { names: [...names], fromMs: from, toMs: from + STEP * 1000, stepSec: STEP });
    return Object.fromEntries(series.map((s) => [s.name, { values: s.points.map((p) => p.v), reason: s.reason }]));
  };
  // a counter read at whole numbers moves by rate ± 1 per scrape, and Prometheus stamps a sample
  // with the scrape's start while these exporters compute it when they answer: on a loaded
  // machine that lag varies by scrape and bends a 10 s rate by some tenths (measured 0.1–0.25 of
  // the rate in full runs), so a fifth of the rate, and at least 0.2/s, is allowed
  const near = (value: number | null | undefined, expected: number, tolerance = 0.2 * Math.max(1, expected)) => {
    expect(value).not.toBeNull();
    expect(Math.abs((value as number) - expected)).toBeLessThanOrEqual(tolerance);
  };

  it('answers every metric of a version with Envoy as the data plane (local rate limits)', async () => {
    const reader = new PrometheusMetricsReader({ baseUrl, dataPlane: 'envoy', envoyRateLimit: 'local' });
    const v1 = await read(reader, target('id-v1'));
    expect(Object.keys(v1).sort()).toEqual([...METRIC_NAMES].sort());
    for (const step of [0, 1]) {
      near(v1.QPS!.values[step], RATES.v1.upstream + RATES.v1.throttled);
      near(v1.THROTTLED_QPS!.values[step], RATES.v1.throttled);
      near(v1.ERROR_RATE!.values[step], RATES.v1.errors5xx / RATES.v1.upstream, 0.02);
      near(v1.BYTES_IN!.values[step], RATES.v1.txBytes);
      near(v1.BYTES_OUT!.values[step], RATES.v1.rxBytes);
      near(v1.CONCURRENCY!.values[step], RATES.v1.active, 0.01);
      near(v1.LATENCY_P50!.values[step], V1_P50, 0.5);
      near(v1.LATENCY_P95!.values[step], V1_P95, 1);
      near(v1.LATENCY_P99!.values[step], V1_P99, 1);
      // the replicas' own process figures: two live registries in this process
      expect(v1.CPU!.values[step]).toBeGreaterThanOrEqual(0);
      near(v1.MEMORY!.values[step], 2 * process.memoryUsage().rss, 0.5 * process.memoryUsage().rss);
      expect(v1.INSTANCES_RUNNING!.values[step]).toBe(2);
      expect(v1.INSTANCES_EXPECTED!.values[step]).toBe(2);
      // the busiest GPU of the version's pods, and the memory they hold (never the other pod's)
      expect(v1.GPU_UTILIZATION!.values[step]).toBe(70);
      expect(v1.GPU_MEMORY!.values[step]).toBe((1024 + 2048) * 1048576);
    }
    expect(v1.GPU_UTILIZATION!.reason).toBeNull();
  }, 30_000);

  it('reads 0 (not "no data") for a version that was never throttled nor failed, and sums the group', async () => {
    const reader = new PrometheusMetricsReader({ baseUrl, dataPlane: 'envoy', envoyRateLimit: 'local' });
    const v2 = await read(reader, target('id-v2'), ['QPS', 'THROTTLED_QPS', 'ERROR_RATE', 'GPU_UTILIZATION']);
    near(v2.QPS!.values[0], RATES.v2.upstream);
    expect(v2.THROTTLED_QPS!.values).toEqual([0, 0]);
    expect(v2.ERROR_RATE!.values).toEqual([0, 0]);
    // v2 has no replica target here, so no GPU figure: empty, and saying why
    expect(v2.GPU_UTILIZATION!.values).toEqual([null, null]);
    expect(v2.GPU_UTILIZATION!.reason).toMatch(/DCGM/);
    const group = await read(reader, target(null), ['QPS', 'THROTTLED_QPS', 'BYTES_IN']);
    near(group.QPS!.values[0], RATES.v1.upstream + RATES.v1.throttled + RATES.v2.upstream);
    near(group.THROTTLED_QPS!.values[0], RATES.v1.throttled);
    near(group.BYTES_IN!.values[0], RATES.v1.txBytes + RATES.v2.txBytes);
  }, 30_000);

  it('counts throttling from the cluster stats with the global rate limit service', async () => {
    const reader = new PrometheusMetricsReader({ baseUrl, dataPlane: 'envoy', envoyRateLimit: 'global' });
    const v1 = await read(reader, target('id-v1'), ['QPS', 'THROTTLED_QPS']);
    near(v1.THROTTLED_QPS!.values[0], RATES.v1.throttled);
    near(v1.QPS!.values[0], RATES.v1.upstream + RATES.v1.throttled);
  }, 30_000);

  it('answers per instance from that replica’s own series', async () => {
    const reader = new PrometheusMetricsReader({ baseUrl, dataPlane: 'envoy' });
    const one = await read(reader, target('id-v1', 'shop-v1-1'), ['QPS', 'ERROR_RATE', 'LATENCY_P50', 'GPU_UTILIZATION', 'GPU_MEMORY', 'INSTANCES_RUNNING', 'MEMORY']);
    near(one.QPS!.values[0], REPLICA_QPS);
    expect(one.ERROR_RATE!.values[0]).toBe(0);
    // 2 ms observations in the runtime's (0.001, 0.0025] bucket: interpolated inside it
    expect(one.LATENCY_P50!.values[0]).toBeGreaterThan(1);
    expect(one.LATENCY_P50!.values[0]).toBeLessThanOrEqual(2.5);
    expect(one.GPU_UTILIZATION!.values[0]).toBe(40);
    expect(one.GPU_MEMORY!.values[0]).toBe(2048 * 1048576);
    expect(one.INSTANCES_RUNNING!.values[0]).toBe(1);
    near(one.MEMORY!.values[0], process.memoryUsage().rss, 0.5 * process.memoryUsage().rss);
  }, 30_000);
});
