// `npm run bench -- web`: the dashboard's figures (issue 16).
//   1. the production bundle: each file's size raw and gzip (level 9), and the first load
//      (what index.html pulls: the entry script, its CSS and any modulepreload);
//   2. the group list's time to render 1,000 groups: 1,000 groups seeded in the database, then
//      in Chromium the time from navigation start to 1,000 rendered rows (median of 5 loads);
//   3. the monitoring tab's time to first chart for a 7-day range: 7 days of 5-minute rollups
//      (and the last 24 h of 1-minute ones) seeded for one version, then the time from
//      navigation start to the first drawn chart at /groups/{name}/monitoring?range=LAST_7D
//      (the `sluice:first-chart` mark), median of 5 loads.
// A real control plane (SQLite, fake orchestrator) serves a fresh build. Timings on a loaded
// machine are noise: compare them with the load average printed beside them.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { chromium } from 'playwright-core';
import { startTestControlPlane } from '../fixtures/control-plane.ts';
import { report, round, type BenchRow } from './_report.ts';

const GROUPS = 1000;
const RUNS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kB = (bytes: number) => round(bytes / 1000, 1);

const webRoot = mkdtempSync(join(tmpdir(), 'sluice-bench-web-'));
await build({ configFile: resolve('web/vite.config.ts'), logLevel: 'warn', build: { outDir: webRoot, emptyOutDir: true } });

// 1. the bundle
const rows: BenchRow[] = [];
const files = readdirSync(join(webRoot, 'assets')).map((f) => `assets/${f}`);
const sizes = new Map(files.map((f) => {
  const bytes = readFileSync(join(webRoot, f));
  return [f, { raw: statSync(join(webRoot, f)).size, gzip: gzipSync(bytes, { level: 9 }).length }];
}));
const html = readFileSync(join(webRoot, 'index.html'), 'utf8');
const firstLoad = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!).filter((f) => sizes.has(f));
for (const [file, s] of [...sizes].sort((a, b) => b[1].gzip - a[1].gzip)) {
  rows.push({ figure: `bundle ${file.replace(/-[\w-]{8}\./, '.')}${firstLoad.includes(file) ? ' (first load)' : ' (lazy)'}`, value: kB(s.gzip), unit: 'kB gzip', raw_kB: kB(s.raw) });
}
const sum = (list: string[], k: 'gzip' | 'raw') => list.reduce((n, f) => n + (sizes.get(f)?.[k] ?? 0), 0);
rows.push({ figure: 'bundle first load (index.html → entry JS + CSS)', value: kB(sum(firstLoad, 'gzip')), unit: 'kB gzip', raw_kB: kB(sum(firstLoad, 'raw')) });
rows.push({ figure: 'bundle all files', value: kB(sum(files, 'gzip')), unit: 'kB gzip', raw_kB: kB(sum(files, 'raw')) });

// 2 and 3: a control plane with 1,000 groups and a week of rollups
const cp = await startTestControlPlane({ provider: 'sqlite', webRoot });
const browser = await chromium.launch({
  // the test setup's Chromium (README, Tests): SLUICE_CHROMIUM, else Debian's
  executablePath: process.env.SLUICE_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const created = await cp.gql<{ createServiceGroup: { id: string; project: { id: string } } }>(`mutation { createServiceGroup(input: { name: "bench-monitor" }) { id project { id } } }`);
  const group = created.data!.createServiceGroup;
  const version = await cp.gql<{ addServiceVersion: { id: string } }>(
    `mutation($g: ID!) { addServiceVersion(groupId: $g, input: { name: "v1", model: { name: "wine-classifier", version: "1" } }) { id } }`,
    { g: group.id },
  );
  const versionId = version.data!.addServiceVersion.id;
  await cp.plane.prisma.serviceGroup.createMany({
    data: Array.from({ length: GROUPS - 1 }, (_, i) => ({ name: `bench-${String(i).padStart(4, '0')}`, projectId: group.project.id, description: `seeded group ${i}` })),
  });

  const now = Date.now();
  const rollup = (step: number, t: number) => {
    const requests = step * (5 + Math.sin(t / 3.6e6) * 3);
    return {
      step, t: new Date(t), groupId: group.id, versionId, instance: '',
      requests, throttled: requests * 0.02, errors: requests * 0.001, bytesIn: requests * 400, bytesOut: requests * 90,
      latencyBuckets: JSON.stringify({ le: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25], c: [0.2, 0.3, 0.3, 0.1, 0.07, 0.03].map((p) => Math.round(p * requests)) }),
      concurrencySum: 2 * (step / 15), cpuSum: 0.4 * (step / 15), memorySum: 2.5e8 * (step / 15), runningSum: step / 15, expectedSum: step / 15, samples: step / 15,
    };
  };
  const five = Array.from({ length: (7 * 86_400) / 300 }, (_, i) => rollup(300, Math.floor(now / 300_000) * 300_000 - i * 300_000));
  const one = Array.from({ length: 1440 }, (_, i) => rollup(60, Math.floor(now / 60_000) * 60_000 - i * 60_000));
  for (let i = 0; i < five.length; i += 500) await cp.plane.prisma.metricRollup.createMany({ data: five.slice(i, i + 500) });
  for (let i = 0; i < one.length; i += 500) await cp.plane.prisma.metricRollup.createMany({ data: one.slice(i, i + 500) });

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript((token: string) => localStorage.setItem('sluice.token', token), cp.adminToken);
  const page = await context.newPage();
  page.setDefaultTimeout(120_000);

  const listTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto(`${cp.url}/groups`);
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-group]').length >= n, GROUPS, { polling: 'raf' });
    listTimes.push(await page.evaluate(() => performance.now()));
  }
  const chartTimes: number[] = [];
  let points = 0;
  for (let i = 0; i < RUNS; i++) {
    await page.goto(`${cp.url}/groups/bench-monitor/monitoring?range=LAST_7D`);
    await page.waitForFunction(() => performance.getEntriesByName('sluice:first-chart').length > 0, undefined, { polling: 'raf' });
    chartTimes.push(await page.evaluate(() => performance.getEntriesByName('sluice:first-chart')[0]!.startTime));
    points = Number(await page.locator('figure[data-metric=QPS]').getAttribute('data-values'));
  }
  if (points < 1000) throw new Error(`the 7-day QPS chart holds ${points} points; the seed did not arrive`);
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  rows.push({ figure: `group list: ${GROUPS} groups rendered (median of ${RUNS}, navigation start → rows)`, value: round(median(listTimes), 0), unit: 'ms', raw_kB: '' });
  rows.push({ figure: `monitoring 7 d: first chart (median of ${RUNS}, navigation start → first chart; ${points} QPS points)`, value: round(median(chartTimes), 0), unit: 'ms', raw_kB: '' });
  report('web', rows, { loadAverage: load, listTimesMs: listTimes.map((x) => round(x, 0)), chartTimesMs: chartTimes.map((x) => round(x, 0)) });
  console.log(`load average: ${load}`);
} finally {
  await browser.close();
  await cp.close();
  rmSync(webRoot, { recursive: true, force: true });
}
