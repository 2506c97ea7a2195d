// The dashboard's whole flow against the real thing (issue 16, "Done means"): `npm start`'s
// process (local orchestrator, real ONNX runtimes, the local edge, the embedded metrics scraper
// at a 1-second interval) serving a fresh build of web/, driven in Chromium: a wrong login, then
// create a service from the form (an invalid name and an image without a startup command refused
// on their fields first), add a second version, start both, a split over 100 refused on its field,
// then 70/30, an API key, a debug request sent by the browser to the edge (CORS) with its
// prediction and curl, a body that is not JSON, monitoring charts receiving points from real
// traffic live, log search, a status change made through the API arriving without a reload, stop
// and delete. Each refusal shows the server's message on its field and changes nothing on the
// server. Every page the flow visits (sign-in, create form, overview, debug, monitoring, logs, the
// list) is scanned by axe-core (nothing serious or critical), checked for console errors, and
// screenshotted at 1280 and 390 px into __screenshots__/.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { axeProblems } from '../fixtures/axe.ts';
import { testChromium } from '../fixtures/services.ts';
import { startSluice, type SluiceProcess } from '../fixtures/sluice-process.ts';

const SCREENSHOTS = resolve('test/e2e/__screenshots__');
const MODEL = resolve('runtime/demo/wine-classifier');

/** What the page shows after a change: a loaded 2-core machine (load average 20+) needs seconds, not expect.poll's 1 s default. */
const WAIT = { timeout: 30_000, interval: 250 };

interface GroupRow { id: string; status: string; versions: { id: string; name: string; status: string; trafficPercent: number }[] }

describe('dashboard flow against npm start (Chromium)', () => {
  let sluice: SluiceProcess;
  let dataDir: string;
  let webRoot: string;
  let browser: Browser;
  let page: Page;
  let apiKey = '';
  const browserErrors: string[] = [];
  /** QPS points above zero that reached the page over metricsUpdated (read off its WebSocket) */
  const liveQps: { t: string; v: number }[] = [];

  async function groupNames(): Promise<string[]> {
    const res = await sluice.graphql<{ serviceGroups: { name: string }[] }>(`{ serviceGroups { name } }`);
    expect(res.errors).toBeUndefined();
    return (res.data?.serviceGroups ?? []).map((g) => g.name).sort();
  }

  async function group(name: string): Promise<GroupRow | null> {
    const res = await sluice.graphql<{ serviceGroup: GroupRow | null }>(`query($name: String) { serviceGroup(name: $name) { id status versions { id name status trafficPercent } } }`, { name });
    expect(res.errors).toBeUndefined();
    return res.data?.serviceGroup ?? null;
  }

  /** Per page: no serious/critical axe finding, no unexpected console error, screenshots at both widths. */
  async function shoot(name: string): Promise<void> {
    expect({ page: name, axe: await axeProblems(page) }).toEqual({ page: name, axe: [] });
    expect({ page: name, errors: unexpectedErrors() }).toEqual({ page: name, errors: [] });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: join(SCREENSHOTS, `flow-${name}-${width}.png`), fullPage: true });
      // usable at 390 px: the page itself never scrolls sideways (wide tables scroll in their own box)
      if (width === 390) expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(391);
    }
    await page.setViewportSize({ width: 1400, height: 1000 });
  }

  /** the browser logs each refused request itself ("Failed to load resource … 400"): those are expected here */
  function unexpectedErrors(): string[] {
    return browserErrors.filter((e) => !/Failed to load resource: the server responded with a status of (400|401|403|422)/.test(e));
  }

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'sluice-web-flow-'));
    await build({ configFile: resolve('web/vite.config.ts'), logLevel: 'warn', build: { outDir: webRoot, emptyOutDir: true } });
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-flow-'));
    sluice = await startSluice({
      dataDir,
      // a loaded shared machine can take longer than the default 150 s to bring the control plane up
      readyTimeoutMs: 240_000,
      env: {
        SLUICE_DEMO: '0',
        SLUICE_WEB_ROOT: webRoot,
        // the test's setting for the scrape interval: a point per second instead of per 15 s
        SLUICE_METRICS_INTERVAL_SECONDS: '1',
        SLUICE_RUN_AS: 'none',
        LOG_LEVEL: 'warn',
      },
    });
    // a registered model with two versions (the demo's classifier files), uploaded as a user would
    const signature = readFileSync(join(MODEL, '1', 'signature.json'), 'utf8');
    for (const version of ['1', '2']) {
      const res = await fetch(`${sluice.controlUrl}/models/upload?name=wine&version=${version}&signature=${encodeURIComponent(signature)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sluice.adminToken()}`, 'content-type': 'application/octet-stream' },
        body: readFileSync(join(MODEL, version, 'model.onnx')),
      });
      expect(res.status, await res.clone().text()).toBeLessThan(300);
    }
    browser = await chromium.launch({
      executablePath: testChromium(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => browserErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') browserErrors.push(`console: ${m.text()}`);
    });
    // the dashboard opens one WebSocket at sign-in for every live view: watch what it receives
    page.on('websocket', (ws) => {
      ws.on('framereceived', ({ payload }) => {
        let msg: { type?: string; payload?: { data?: { metricsUpdated?: { name: string; points: { t: string; v: number | null }[] }[] } } };
        try {
          msg = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')) as typeof msg;
        } catch {
          return;
        }
        const updated = msg.type === 'next' ? msg.payload?.data?.metricsUpdated : undefined;
        if (!updated) return;
        for (const s of updated) if (s.name === 'QPS') for (const p of s.points) if (p.v !== null && p.v > 0) liveQps.push({ t: p.t, v: p.v });
      });
    });
  }, 420_000);

  afterAll(async () => {
    await browser?.close();
    await sluice?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
  }, 60_000);

  it('refuses a wrong login on the token field, then signs in', async () => {
    await page.goto(sluice.controlUrl);
    await page.fill('input[name=token]', 'not-the-admin-token');
    await page.click('button[type=submit]');
    await expect.poll(() => page.locator('label:has(input[name=token]) .field-error').textContent(), WAIT).toMatch(/not valid|token/i);
    expect(await page.evaluate(() => localStorage.getItem('sluice.token'))).toBeNull();
    expect(await page.locator('h1:has-text("Service groups")').count()).toBe(0); // still signed out
    await shoot('signin');
    await page.fill('input[name=token]', sluice.adminToken());
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Service groups")');
    await page.waitForSelector('.live.on');
  });

  it('creates a service from the form, after refusing an invalid name and an image without a startup command', async () => {
    await page.goto(`${sluice.controlUrl}/new`);
    await page.fill('input[name=name]', 'Bad Name!');
    await page.fill('input[name=version-name]', 'v1');
    const groupsBefore = await groupNames();
    await page.click('form[aria-label="add version"] button[type=submit]');
    const nameError = page.locator('label:has(input[name=name]) .field-error');
    await nameError.waitFor();
    // the server's own message (domain/names.ts), on the name field
    expect(await nameError.textContent()).toMatch(/name "Bad Name!" is not a DNS-1123 label/);
    expect(await group('Bad Name!')).toBeNull();
    expect(await groupNames()).toEqual(groupsBefore);

    await page.fill('input[name=name]', 'flow');
    await page.selectOption('select[name=source]', 'image');
    await page.fill('input[name=image]', 'registry.local/scorer:1');
    await page.click('form[aria-label="add version"] button[type=submit]');
    const commandError = page.locator('label:has(input[name=command]) .field-error');
    await commandError.waitFor();
    expect(await commandError.textContent()).toMatch(/image\.command is required/);
    expect(await group('flow')).toBeNull(); // the group made for the refused version is gone again
    expect(await groupNames()).toEqual(groupsBefore);
    await shoot('new');

    await page.selectOption('select[name=source]', 'model');
    await page.selectOption('select[name=model]', 'wine');
    await page.selectOption('select[name=model-version]', '1');
    await page.click('form[aria-label="add version"] button[type=submit]');
    await page.waitForSelector('h1:has-text("flow")');
    expect(new URL(page.url()).pathname).toBe('/groups/flow');

    await page.click('button:has-text("Add version")');
    await page.fill('input[name=version-name]', 'v2');
    await page.selectOption('select[name=model]', 'wine');
    await page.selectOption('select[name=model-version]', '2');
    await page.click('form[aria-label="add version"] button[type=submit]');
    await page.waitForSelector('tr[data-version=v2]');
    expect((await group('flow'))!.versions.map((v) => v.name)).toEqual(['v1', 'v2']);
  });

  it('starts both versions and follows them to RUNNING', async () => {
    await page.click('button:has-text("Start all")');
    for (const v of ['v1', 'v2']) {
      await expect.poll(() => page.locator(`tr[data-version=${v}] [data-status]`).getAttribute('data-status'), { timeout: 180_000, interval: 500 }).toBe('RUNNING');
    }
  }, 200_000);

  it('refuses a split over 100 on the split, then sets 70/30', async () => {
    await page.waitForSelector('[data-testid=traffic-editor]');
    const before = (await group('flow'))!.versions.map((v) => v.trafficPercent);
    await page.fill('input[name=traffic-v1]', '120');
    await page.click('button:has-text("Apply split")');
    const refused = page.locator('.field-error[data-field=allocations]');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/from 0 to 100/);
    expect((await group('flow'))!.versions.map((v) => v.trafficPercent)).toEqual(before);

    await page.fill('input[name=traffic-v1]', '70');
    await page.click('button:has-text("Apply split")');
    await expect.poll(() => page.locator('tr[data-version=v1] [data-testid=traffic]').textContent(), WAIT).toBe('70%');
    await expect.poll(() => page.locator('tr[data-version=v2] [data-testid=traffic]').textContent(), WAIT).toBe('30%');
    expect(Object.fromEntries((await group('flow'))!.versions.map((v) => [v.name, v.trafficPercent]))).toEqual({ v1: 70, v2: 30 });
  });

  it('creates an API key', async () => {
    await page.fill('input[name=key-name]', 'flow-key');
    await page.click('form[aria-label="create api key"] button[type=submit]');
    const secret = page.locator('[data-testid=api-key-secret]');
    await secret.waitFor();
    apiKey = (await secret.textContent())?.trim() ?? '';
    expect(apiKey.length).toBeGreaterThan(20);
    await shoot('overview');
  });

  it('sends a debug request from the browser to the edge and shows the prediction and the curl', async () => {
    await page.click('nav.tabs a:has-text("Debug")');
    const body = page.locator('textarea[name=body]');
    await expect.poll(async () => (await body.inputValue()).includes('alcohol'), WAIT).toBe(true); // the signature's example row
    await page.fill('input[name=api-key]', apiKey);
    const preflights: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'OPTIONS') preflights.push(r.url());
    });
    await page.click('form[aria-label="debug request"] button[type=submit]');
    const result = page.locator('[data-testid=debug-result]');
    await result.waitFor();
    expect(await result.textContent()).toMatch(/HTTP 200/);
    const answer = JSON.parse((await result.locator('pre').textContent()) ?? '{}') as { predictions?: unknown[]; version?: string };
    expect(answer.predictions).toHaveLength(1);
    expect(['v1', 'v2']).toContain(answer.version);
    expect(await result.textContent()).toContain(`version ${answer.version}`); // read from x-sluice-version, exposed by CORS
    const curl = (await page.locator('[data-testid=curl]').textContent()) ?? '';
    expect(curl).toContain(`${sluice.edgeUrl}/services/flow/predict`);
    expect(curl).toContain('<API key>');
    expect(curl).not.toContain(apiKey);
    await shoot('debug');

    // a body that is not JSON: refused on the body field, and nothing is sent
    const calls = preflights.length;
    await body.fill('{"dataframe_split": [1, 2');
    await page.click('form[aria-label="debug request"] button[type=submit]');
    await page.waitForSelector('[data-testid=body-error]');
    expect(await page.locator('[data-testid=body-error]').textContent()).toMatch(/Not JSON/);
    expect(await result.count()).toBe(0);
    expect(preflights.length).toBe(calls);
  });

  it('draws points from real traffic on the monitoring charts as they arrive', async () => {
    await page.click('nav.tabs a:has-text("Monitoring")');
    await page.waitForSelector('[data-testid=charts] canvas');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    const qps = page.locator('figure[data-metric=QPS]');
    // real requests through the edge, a few per second for a while
    const row = { dataframe_split: { columns: ['alcohol', 'malic_acid', 'ash', 'alcalinity_of_ash', 'magnesium', 'total_phenols', 'flavanoids', 'nonflavanoid_phenols', 'proanthocyanins', 'color_intensity', 'hue', 'od280/od315_of_diluted_wines', 'proline'], data: [[13.2, 1.78, 2.14, 11.2, 100, 2.65, 2.76, 0.26, 1.28, 4.38, 1.05, 3.4, 1050]] } };
    // the charts have their first data (the range's query) before anything counts as live
    await expect.poll(() => page.locator('[data-testid=empty-reason]:has-text("loading")').count(), WAIT).toBe(0);
    const charts = page.locator('[data-testid=charts]');
    const updatesBefore = Number(await charts.getAttribute('data-live-updates'));
    liveQps.length = 0;
    let sent = 0;
    const deadline = Date.now() + 60_000;
    const arrived = async () => liveQps.length > 0 && Number(await charts.getAttribute('data-live-updates')) > updatesBefore && Number(await qps.getAttribute('data-values')) > 0;
    while (Date.now() < deadline) {
      const res = await fetch(`${sluice.edgeUrl}/services/flow/predict`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body: JSON.stringify(row) });
      expect(res.status).toBe(200);
      sent++;
      if (await arrived()) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(sent).toBeGreaterThan(0);
    // a QPS point above zero (real requests through the edge) came over metricsUpdated on the page's
    // WebSocket, the page applied live messages after its first load, and the QPS chart has points
    expect(liveQps.length, 'no QPS point above zero arrived over metricsUpdated').toBeGreaterThan(0);
    expect(Number(await charts.getAttribute('data-live-updates'))).toBeGreaterThan(updatesBefore);
    expect(Number(await qps.getAttribute('data-values'))).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7); // no reload
    await shoot('monitoring');
  }, 90_000);

  it('searches the logs', async () => {
    await page.click('nav.tabs a:has-text("Logs")');
    await page.waitForSelector('[data-testid=logs]');
    await page.fill('input[name=log-query]', 'listening');
    await page.click('form[aria-label="log search"] button[type=submit]');
    // the unfiltered lines shown before give way to the matching ones only
    const shown = () => page.locator('[data-testid=logs] span:not(.meta)').allTextContents();
    await expect.poll(async () => { const lines = await shown(); return lines.length > 0 && lines.every((l) => l.includes('listening')); }, { timeout: 60_000 }).toBe(true);
    await page.fill('input[name=log-query]', 'no-such-line-xyz');
    await page.click('form[aria-label="log search"] button[type=submit]');
    await expect.poll(() => page.locator('[data-testid=logs]').textContent(), WAIT).toMatch(/no line matches/);
    await shoot('logs');
  }, 120_000);

  it('shows a status change made through the API without a reload', async () => {
    await page.click('nav.tabs a:has-text("Overview")');
    await page.waitForSelector('tr[data-version=v2]');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 9));
    const g = (await group('flow'))!;
    const set = await sluice.graphql(`mutation($g: ID!, $a: [TrafficAllocationInput!]!) { setTrafficAllocation(groupId: $g, allocations: $a) { id } }`, { g: g.id, a: [{ versionId: g.versions[0]!.id, percent: 100 }, { versionId: g.versions[1]!.id, percent: 0 }] });
    expect(set.errors).toBeUndefined();
    const stop = await sluice.graphql(`mutation($id: ID!) { stopServiceVersion(id: $id) { id } }`, { id: g.versions[1]!.id });
    expect(stop.errors).toBeUndefined();
    await expect.poll(() => page.locator('tr[data-version=v2] [data-status]').getAttribute('data-status'), { timeout: 60_000 }).toBe('STOPPED');
    await expect.poll(() => page.locator('tr[data-version=v1] [data-testid=traffic]').textContent(), WAIT).toBe('100%');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(9);
  }, 90_000);

  it('stops and deletes the service', async () => {
    await page.click('button:has-text("Stop all")');
    await expect.poll(() => page.locator('h1 [data-status]').getAttribute('data-status'), { timeout: 60_000 }).toBe('STOPPED');
    page.once('dialog', (d) => void d.accept());
    await page.click('.page-head button:has-text("Delete")');
    await page.waitForSelector('h1:has-text("Service groups")');
    expect(await group('flow')).toBeNull();
    await page.waitForSelector('td.empty');
    await shoot('groups');
    expect(unexpectedErrors()).toEqual([]);
  }, 90_000);
});
