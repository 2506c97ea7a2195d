// Metrics from real traffic (issue 13, "Done means"): `npm start` on a fresh data dir, one
// version (a runtime that answers in 150–450 ms, so that what the load tool measures is the
// server's time and not this busy machine's scheduling) with a QPS limit of 6, and an open-loop load
// of 10 requests per second through the edge for two whole calendar minutes. A real
// Prometheus (Debian's, started here) scrapes the edge and answers the `metrics` query
// (SLUICE_PROMETHEUS_URL), while the embedded scraper writes its rollups: both must show
// QPS ~10, THROTTLED_QPS ~4, and latency quantiles close to what the load tool itself
// measured for the same requests. The same stack's logs are
// searchable and tailed. SLUICE_TRAFFIC_MINUTES shortens or lengthens the load (default 2,
// the issue's figure; 1 still checks a whole minute).
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheusConfigYaml } from '../../control/monitoring/prometheus-config.ts';
import { EmbeddedMetricsReader, type MetricSeries } from '../../control/monitoring/reader.ts';
import { createDatabase } from '../../platform/db/client.ts';
import { testPrometheus } from '../fixtures/services.ts';
import { freePort } from '../fixtures/sluice-process.ts';

const FAKE_RUNTIME = resolve('test/orchestrator/fixtures/fake-runtime.mjs');
const MINUTES = Number(process.env.SLUICE_TRAFFIC_MINUTES ?? 2);
const RPS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The q-quantile of measured values (nearest rank). */
function quantileOf(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

describe('metrics from real traffic through the edge', () => {
  let dataDir: string;
  let child: ChildProcess;
  let edge: string;
  let control: string;
  let token: string;
  let output = '';
  let groupId: string;
  let versionId: string;
  let prometheus: ChildProcess | null = null;
  let prometheusUrl = '';

  const gql = async <T,>(query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(`${control}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.data as T;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-traffic-'));
    const ports = { SLUICE_PORT: await freePort(), SLUICE_EDGE_PORT: await freePort(), SLUICE_XDS_PORT: await freePort(), SLUICE_GATEWAY_PORT: await freePort() };
    edge = `http://127.0.0.1:${ports.SLUICE_EDGE_PORT}`;
    control = `http://127.0.0.1:${ports.SLUICE_PORT}`;
    // Debian's prometheus as the test setup found or installed it; this test starts its own on a free port
    const prometheusBin = testPrometheus();
    // a real Prometheus scraping the edge with the configuration `npm run prometheus:config` prints
    const promPort = await freePort();
    prometheusUrl = `http://127.0.0.1:${promPort}`;
    const config = join(dataDir, 'prometheus.yml');
    writeFileSync(config, prometheusConfigYaml({ intervalSeconds: 5, edges: [`127.0.0.1:${ports.SLUICE_EDGE_PORT}`], orchestrator: 'local', replicas: [] }));
    prometheus = spawn(prometheusBin, [`--config.file=${config}`, `--storage.tsdb.path=${join(dataDir, 'prometheus')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      if ((await fetch(`${prometheusUrl}/-/ready`).catch(() => null))?.ok) break;
      if (i > 300) throw new Error('prometheus did not become ready');
      await sleep(100);
    }
    // the control plane answers `metrics` from that Prometheus; its embedded scraper still runs
    // `npm start` exactly: the built control plane (test/global-build.ts keeps dist/ current)
    child = spawn(process.execPath, ['--enable-source-maps', 'dist/control/main.js'], {
      env: {
        ...process.env, SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', SLUICE_OBJECT_STORE: '', SLUICE_DEMO: '0',
        SLUICE_METRICS_INTERVAL_SECONDS: '5', SLUICE_PROMETHEUS_URL: prometheusUrl,
        // the fake runtime is a file in this checkout, which may sit in a folder only root can
        // read (a fresh clone under mktemp -d): run the command as ourselves, as an admin may
        SLUICE_RUN_AS: 'none',
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await new Promise<void>((done, fail) => {
      const timer = setInterval(() => {
        if (output.includes('[sluice] ready')) {
          clearInterval(timer);
          done();
        }
      }, 100);
      child.once('exit', (code) => fail(new Error(`npm start exited with ${code}:\n${output}`)));
    });
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    groupId = (await gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "traffic" }) { id } }`)).createServiceGroup.id;
    versionId = (
      await gql<{ addServiceVersion: { id: string } }>(
        `mutation($g: ID!, $input: AddServiceVersionInput!) { addServiceVersion(groupId: $g, input: $input) { id } }`,
        {
          g: groupId,
          input: {
            name: 'v1', qpsLimit: 6, authEnabled: false, replicas: 1, resources: { cpu: 0.5, memoryGiB: 0.5 },
            image: { image: 'local/fake-runtime', command: [process.execPath, FAKE_RUNTIME], env: [{ name: 'FAKE_DELAY_MS', value: '150-450' }] },
          },
        },
      )
    ).addServiceVersion.id;
    await gql(`mutation($id: ID!) { startServiceVersion(id: $id) { status } }`, { id: versionId });
    // running, and routed by the edge
    for (let i = 0; ; i++) {
      const res = await fetch(`${edge}/services/traffic/predict`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dataframe_split: { columns: ['a'], data: [[1]] } }),
      }).catch(() => null);
      if (res?.status === 200) break;
      if (i > 600) throw new Error(`the version never answered:\n${output.slice(-3000)}`);
      await sleep(200);
    }
  }, 240_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(30_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(`shows QPS ~10, throttled ~4 and the load tool's latency quantiles after ${MINUTES} min at ${RPS} rps with a limit of 6`, async () => {
    // start on a calendar minute so that whole steps lie inside the load
    const start = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
    await sleep(start - Date.now());
    const sent: { at: number; ms: number; status: number }[] = [];
    const inflight: Promise<void>[] = [];
    // the load tool: plain node:http on kept-alive connections, timed from write to last byte
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const url = new URL(`${edge}/services/traffic/predict`);
    const post = (k: number) =>
      new Promise<void>((done, fail) => {
        const body = JSON.stringify({ dataframe_split: { columns: ['a'], data: [[k]] } });
        const at = Date.now();
        const t0 = performance.now();
        const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => {
            sent.push({ at, ms: performance.now() - t0, status: res.statusCode ?? 0 });
            done();
          });
        });
        req.on('error', fail);
        req.end(body);
      });
    const total = MINUTES * 60 * RPS;
    for (let k = 0; k < total; k++) {
      const due = start + (k * 1000) / RPS + 50; // 50 ms into each tenth of a second, clear of step edges
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      inflight.push(post(k));
    }
    await Promise.all(inflight);
    agent.destroy();
    // two scrapes after the last minute closed
    await sleep(Math.max(0, start + MINUTES * 60_000 + 12_000 - Date.now()));

    const data = await gql<{ metrics: { name: string; points: { t: string; v: number | null }[] }[] }>(
      `query($g: ID!, $v: ID, $from: DateTime, $to: DateTime) {
        metrics(groupId: $g, versionId: $v, names: [QPS, THROTTLED_QPS, LATENCY_P50, LATENCY_P95, LATENCY_P99], from: $from, to: $to, step: ONE_MINUTE) {
          name points { t v } } }`,
      { g: groupId, v: versionId, from: new Date(start).toISOString(), to: new Date(start + (MINUTES - 1) * 60_000).toISOString() },
    );
    // GraphQL answered from Prometheus (SLUICE_PROMETHEUS_URL is set) ...
    const prom = Object.fromEntries(data.metrics.map((s) => [s.name, s.points]));
    // ... and the embedded rollups the scraper wrote meanwhile, read from the same database
    const db = await createDatabase(`file:${join(dataDir, 'sluice.db')}`);
    let fromRollups: MetricSeries[];
    try {
      fromRollups = await new EmbeddedMetricsReader(db.prisma).query(
        { groupId, groupName: 'traffic', versions: [{ id: versionId, name: 'v1' }], versionId, instance: null },
        { names: ['QPS', 'THROTTLED_QPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'CONCURRENCY', 'INSTANCES_RUNNING'], fromMs: start, toMs: start + (MINUTES - 1) * 60_000, stepSec: 60 },
      );
    } finally {
      await db.close();
    }
    const embedded = Object.fromEntries(fromRollups.map((s) => [s.name, s.points.map((p) => ({ t: p.t.toISOString(), v: p.v }))]));
    const report: string[] = [];
    const latencyErrors: { backend: string; name: string; error: number }[] = [];
    for (const [backend, series] of [['embedded', embedded], ['prometheus', prom]] as const) for (let m = 0; m < MINUTES; m++) {
      const inMinute = sent.filter((s) => s.at >= start + m * 60_000 && s.at < start + (m + 1) * 60_000);
      const throttled = inMinute.filter((s) => s.status === 429).length;
      const ok = inMinute.filter((s) => s.status === 200).length;
      expect(ok + throttled).toBe(inMinute.length); // nothing else went wrong
      const qps = series.QPS?.[m]?.v ?? NaN;
      const tqps = series.THROTTLED_QPS?.[m]?.v ?? NaN;
      // ~10 and ~4: the load tool's own counts of the minute (a request answered across the
      // minute's edge may count in the next one: a few hundredths of a request per second)
      expect(Math.abs(qps - inMinute.length / 60)).toBeLessThan(0.2);
      expect(Math.abs(tqps - throttled / 60)).toBeLessThan(0.2);
      expect(qps).toBeGreaterThan(9.5);
      expect(tqps).toBeGreaterThan(3.5);
      expect(tqps).toBeLessThan(4.5);
      for (const [name, q] of [['LATENCY_P50', 0.5], ['LATENCY_P95', 0.95], ['LATENCY_P99', 0.99]] as const) {
        const measured = quantileOf(inMinute.map((s) => s.ms), q);
        const reported = series[name]?.[m]?.v ?? NaN;
        report.push(`${backend} minute ${m} ${name}: load tool ${measured.toFixed(1)} ms, series ${reported.toFixed(1)} ms`);
        if (name !== 'LATENCY_P99') {
          latencyErrors.push({ backend, name, error: Math.abs(reported - measured) / measured });
          continue;
        }
        // p99 of a minute is the ~6 slowest of ~600 requests: one late timer in the load tool
        // moves the sample's own p99 by tens of percent. So p99 is checked by rank: the series
        // must fall between the load tool's p97 and p99.5, within the 10 % of the others.
        const low = quantileOf(inMinute.map((s) => s.ms), 0.97) * 0.9;
        const high = quantileOf(inMinute.map((s) => s.ms), 0.995) * 1.1;
        latencyErrors.push({ backend, name, error: reported >= low && reported <= high ? 0 : Math.abs(reported - measured) / measured });
      }
      report.push(`${backend} minute ${m}: QPS ${qps.toFixed(2)} (sent ${(inMinute.length / 60).toFixed(2)}), throttled ${tqps.toFixed(2)} (got ${(throttled / 60).toFixed(2)})`);
      if (backend === 'embedded') expect(series.INSTANCES_RUNNING?.[m]?.v).toBe(1);
    }
    console.log(report.join('\n'));
    // p50 and p95 within 10 % of the load tool; p99 within the rank band above
    expect(latencyErrors.filter((e) => e.error >= 0.1)).toEqual([]);

    // the version list shows the live figures
    const v = await gql<{ serviceVersion: { throttledQps: number | null; concurrency: number | null } }>(
      `query($id: ID!) { serviceVersion(id: $id) { throttledQps concurrency } }`, { id: versionId },
    );
    expect(v.serviceVersion.concurrency).not.toBeNull();
    expect(v.serviceVersion.throttledQps).not.toBeNull();
  }, (MINUTES * 60 + 150) * 1000);

  it('keeps the replica output searchable and tails new lines', async () => {
    const page = await gql<{ logSearch: { lines: { line: string; stream: string; instance: string }[] } }>(
      `query($v: ID!) { logSearch(versionId: $v, query: "listening", range: LAST_24H) { lines { line stream instance } } }`, { v: versionId },
    );
    expect(page.logSearch.lines.map((l) => [l.line.startsWith('fake runtime listening'), l.stream, l.instance])).toEqual([[true, 'stdout', 'traffic-v1-0']]);

    const client = createClient({ url: `${control.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const delays: number[] = [];
    let sentAt = 0;
    const stop = client.subscribe<{ logTail: { line: string } }>(
      { query: `subscription($v: ID!) { logTail(versionId: $v, query: "invocations") { line } }`, variables: { v: versionId } },
      { next: () => sentAt && delays.push(Date.now() - sentAt), error: () => undefined, complete: () => undefined },
    );
    for (let i = 0; i < 100 && delays.length < 5; i++) {
      sentAt = Date.now();
      await fetch(`${edge}/services/traffic/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dataframe_split: { columns: ['a'], data: [[i]] } }) });
      await sleep(1000);
    }
    stop();
    await client.dispose();
    expect(delays.length).toBeGreaterThanOrEqual(5);
    console.log(`tail: request sent → its log line delivered in ${delays.slice(1).map((d) => `${d} ms`).join(', ')} (the runtime logs a request on arrival; the tail polls the raw files every 250 ms)`);
  }, 180_000);
});
