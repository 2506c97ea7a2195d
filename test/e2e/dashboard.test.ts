// Browser end-to-end test of the dashboard: builds web/ with Vite, serves it from a real
// control plane (SQLite, fake orchestrator) and drives Chromium through sign-in, creating
// a group and two versions, live status on the list, the traffic split, an API key, and a
// terminal into an instance (a real /bin/sh behind the fake orchestrator).
// Chromium must launch: if it cannot, the suite fails (no skipping).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';
import { METRIC_NAMES } from '../../control/monitoring/reader.ts';
import { axeProblems } from '../fixtures/axe.ts';
import { testChromium } from '../fixtures/services.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

const SCREENSHOTS = resolve('test/e2e/__screenshots__');

interface GroupData {
  serviceGroup: { id: string; status: string; versions: { id: string; name: string; status: string; trafficPercent: number }[] } | null;
}

describe('dashboard (Chromium)', () => {
  let cp: TestControlPlane;
  let webRoot: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const browserErrors: string[] = [];

  beforeAll(async () => {
    // build the current sources into a private folder so a concurrent build of web/dist cannot interfere
    webRoot = mkdtempSync(join(tmpdir(), 'sluice-web-'));
    await build({ configFile: resolve('web/vite.config.ts'), logLevel: 'warn', build: { outDir: webRoot, emptyOutDir: true } });
    cp = await startTestControlPlane({ provider: 'sqlite', webRoot });
    browser = await chromium.launch({
      executablePath: testChromium(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(30_000); // a page load under a full parallel suite on 2 cores took over 10 s
    page.on('pageerror', (e) => browserErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') browserErrors.push(`console: ${m.text()}`);
    });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await cp?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
  });

  async function group(name: string): Promise<NonNullable<GroupData['serviceGroup']>> {
    const res = await cp.gql<GroupData>(`query($name: String) { serviceGroup(name: $name) { id status versions { id name status trafficPercent } } }`, { name });
    expect(res.errors).toBeUndefined();
    expect(res.data?.serviceGroup).toBeTruthy();
    return res.data!.serviceGroup!;
  }

  it('serves the dashboard for client routes too', async () => {
    for (const path of ['/', '/groups/does-not-exist']) {
      const res = await fetch(`${cp.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="app">');
    }
  });

  it('rejects a wrong token readably, then signs in with the admin token', async () => {
    await page.goto(cp.url);
    await page.fill('input[name=token]', 'not-a-real-token');
    await page.click('button[type=submit]');
    // the server's message, under the token field; nothing stored
    await expect.poll(() => page.locator('label:has(input[name=token]) .field-error').textContent()).toMatch(/not valid|token/i);
    expect(await page.evaluate(() => localStorage.getItem('sluice.token'))).toBeNull();
    expect(browserErrors.every((e) => e.includes('401'))).toBe(true); // the browser logs the refused request itself
    browserErrors.length = 0;
    // the sign-in page is a page too: accessible, and usable at both widths
    expect(await axeProblems(page)).toEqual([]);
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: join(SCREENSHOTS, `page-signin-${width}.png`), fullPage: true });
      if (width === 390) expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(391);
    }
    await page.setViewportSize({ width: 1400, height: 1000 });

    await page.fill('input[name=token]', cp.adminToken);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Service groups")');
    expect(await page.evaluate(() => localStorage.getItem('sluice.token'))).toBe(cp.adminToken);
    await page.waitForSelector('.live.on'); // the WebSocket for live updates is up
  });

  it('creates a group and two versions, and shows a server error readably', async () => {
    await page.click('button:has-text("New service group")');
    await page.fill('input[name=name]', 'fraud-model');
    await page.fill('input[name=description]', 'scores card payments');
    await page.click('form[aria-label="create service group"] button[type=submit]');
    await page.waitForSelector('h1:has-text("fraud-model")');
    expect(page.url()).toMatch(/\/groups\/[^/]+$/);

    for (const [name, modelVersion] of [['v1', '1'], ['v2', '2']] as const) {
      await page.click('button:has-text("Add version")');
      await page.fill('input[name=version-name]', name);
      await page.selectOption('select[name=model]', 'wine-classifier');
      await page.selectOption('select[name=model-version]', modelVersion);
      await page.fill('input[name=qps]', '50');
      await page.click('form[aria-label="add version"] button[type=submit]');
      await page.waitForSelector(`tr[data-version=${name}]`);
    }
    const rows = page.locator('table[data-testid=versions] tbody tr[data-version]');
    expect(await rows.count()).toBe(2);
    expect(await page.locator('tr[data-version=v2]').textContent()).toContain('wine-classifier v2');
    expect(await page.locator('tr[data-version=v1] [data-status]').getAttribute('data-status')).toBe('DRAFT');

    const g = await group('fraud-model');
    expect(g.versions.map((v) => v.name)).toEqual(['v1', 'v2']);

    // start v1 from its row; the row follows the orchestrator's reports to RUNNING
    await page.click('tr[data-version=v1] button:has-text("Start")');
    await expect.poll(() => page.locator('tr[data-version=v1] [data-status]').getAttribute('data-status')).toBe('RUNNING');
    expect(await page.locator('tr[data-version=v2] [data-status]').getAttribute('data-status')).toBe('DRAFT');

    // a duplicate group name: the CONFLICT/BAD_USER_INPUT error is shown, the page survives
    await page.click('a:has-text("← Service groups")');
    await page.click('button:has-text("New service group")');
    await page.fill('input[name=name]', 'fraud-model');
    await page.click('form[aria-label="create service group"] button[type=submit]');
    const error = page.locator('form[aria-label="create service group"] .error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^(CONFLICT|BAD_USER_INPUT): .*fraud-model/);
    await page.click('button:has-text("Cancel")');
  });

  it('updates the list live when versions start, without a reload', async () => {
    const row = page.locator('tr[data-group=fraud-model]');
    await row.waitFor();
    expect(await row.locator('[data-testid=versions-count]').textContent()).toBe('1/2');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    // another operator starts v2 through the API; the open list follows on its own
    const g = await group('fraud-model');
    const start = `mutation($id: ID!) { startServiceVersion(id: $id) { id } }`;
    expect((await cp.gql(start, { id: g.versions[1]!.id })).errors).toBeUndefined();
    await expect.poll(() => row.locator('[data-testid=versions-count]').textContent()).toBe('2/2');
    await expect.poll(() => row.locator('[data-status]').getAttribute('data-status')).toBe('RUNNING');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

    // the status filter narrows the list
    await page.selectOption('select[name=status-filter]', 'STOPPED');
    await page.waitForSelector('td.empty:has-text("No stopped service groups")');
    await page.selectOption('select[name=status-filter]', 'RUNNING');
    await row.waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'groups.png') });
  });

  it('sets the traffic split to 80/20 and shows it', async () => {
    await page.click('tr[data-group=fraud-model] a');
    await page.waitForSelector('[data-testid=traffic-editor]');
    await page.fill('input[name=traffic-v1]', '80');
    expect(await page.inputValue('input[name=traffic-v2]')).toBe('20');
    await page.click('button:has-text("Apply split")');
    await expect.poll(() => page.locator('tr[data-version=v1] [data-testid=traffic]').textContent()).toBe('80%');
    await expect.poll(() => page.locator('tr[data-version=v2] [data-testid=traffic]').textContent()).toBe('20%');
    const g = await group('fraud-model');
    expect(Object.fromEntries(g.versions.map((v) => [v.name, v.trafficPercent]))).toEqual({ v1: 80, v2: 20 });

    // a change made elsewhere reaches the open page through serviceGroupChanged
    const set = `mutation($g: ID!, $a: [TrafficAllocationInput!]!) { setTrafficAllocation(groupId: $g, allocations: $a) { id } }`;
    const res = await cp.gql(set, { g: g.id, a: [{ versionId: g.versions[0]!.id, percent: 30 }, { versionId: g.versions[1]!.id, percent: 70 }] });
    expect(res.errors).toBeUndefined();
    await expect.poll(() => page.locator('tr[data-version=v1] [data-testid=traffic]').textContent()).toBe('30%');
    expect(await page.inputValue('input[name=traffic-v1]')).toBe('30');

    // back to 80/20 through the UI for the rest of the flow
    await page.fill('input[name=traffic-v1]', '80');
    await page.click('button:has-text("Apply split")');
    await expect.poll(() => page.locator('tr[data-version=v2] [data-testid=traffic]').textContent()).toBe('20%');
  });

  it('creates an API key and shows the secret exactly once', async () => {
    await page.fill('input[name=key-name]', 'checkout');
    await page.click('form[aria-label="create api key"] button[type=submit]');
    const secret = page.locator('[data-testid=api-key-secret]');
    await secret.waitFor();
    const key = (await secret.textContent())?.trim() ?? '';
    expect(key.length).toBeGreaterThan(20);
    const listed = page.locator('table[data-testid=api-keys] tbody tr', { hasText: 'checkout' });
    await listed.waitFor();
    const prefix = (await listed.locator('code').textContent())?.replace('…', '') ?? '';
    expect(prefix.length).toBeGreaterThan(0);
    expect(key.startsWith(prefix)).toBe(true);
    expect(await listed.textContent()).toContain('never'); // not used yet

    await page.screenshot({ path: join(SCREENSHOTS, 'group.png'), fullPage: true });
    await page.click('nav.tabs a:has-text("Events")');
    await page.waitForSelector('table[data-testid=events] tbody tr td:has-text("Started")');
    await page.click('nav.tabs a:has-text("Overview")');

    // after a reload the key is listed but its secret is gone for good
    await page.reload();
    await page.waitForSelector('table[data-testid=api-keys] tbody tr:has-text("checkout")');
    expect(await page.locator('[data-testid=api-key-secret]').count()).toBe(0);
    expect(await page.content()).not.toContain(key);

    // revoking asks first, then the key leaves the list
    page.once('dialog', (d) => void d.accept());
    await page.click('table[data-testid=api-keys] tbody tr:has-text("checkout") button:has-text("Revoke")');
    await expect.poll(() => page.locator('table[data-testid=api-keys] tbody tr:has-text("checkout")').count()).toBe(0);
  });

  it('edits a version and restarts an instance', async () => {
    await page.click('tr[data-version=v2] button:has-text("Edit")');
    await page.fill('input[name=edit-qps]', '10');
    await page.check('input[name=edit-auth]');
    await page.click('form[aria-label="edit version v2"] button[type=submit]');
    await expect.poll(() => page.locator('tr[data-version=v2]').textContent()).toMatch(/1\/110\D*key/);
    const res = await cp.gql<{ serviceGroup: { versions: { name: string; qpsLimit: number | null; authEnabled: boolean }[] } }>(
      `query { serviceGroup(name: "fraud-model") { versions { name qpsLimit authEnabled } } }`,
    );
    expect(res.data?.serviceGroup.versions.find((v) => v.name === 'v2')).toEqual({ name: 'v2', qpsLimit: 10, authEnabled: true });

    await page.click('tr[data-version=v1] button:has-text("Instances")');
    const instance = page.locator('tr[data-instance="fraud-model-v1-0"]');
    await instance.waitFor();
    expect(await instance.locator('[data-status]').getAttribute('data-status')).toBe('RUNNING');

    // an admin opens a terminal into the instance and runs a command in it
    await instance.locator('button:has-text("Open terminal")').click();
    const terminal = page.locator('[data-testid=terminal]');
    await expect.poll(() => terminal.getAttribute('data-state')).toBe('open');
    await terminal.locator('.xterm').click();
    await page.keyboard.type('echo hello-$((1+2))');
    await page.keyboard.press('Enter');
    await expect.poll(() => terminal.locator('.xterm-rows').textContent()).toMatch(/hello-3/);
    expect(cp.orchestrator.terminals).toEqual([expect.stringMatching(/\/fraud-model-v1-0$/)]);
    await terminal.screenshot({ path: join(SCREENSHOTS, 'terminal.png') });
    await page.keyboard.type('echo shell-pid-$$');
    await page.keyboard.press('Enter');
    await expect.poll(() => terminal.locator('.xterm-rows').textContent()).toMatch(/shell-pid-\d+/);
    const pid = Number((await terminal.locator('.xterm-rows').textContent())!.match(/shell-pid-(\d+)/)![1]);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    await terminal.locator('button:has-text("Close terminal")').click(); // closing the view ends the shell
    expect(await page.locator('[data-testid=terminal]').count()).toBe(0);
    await expect.poll(alive, { timeout: 5000 }).toBe(false);

    page.once('dialog', (d) => void d.accept());
    await instance.locator('button:has-text("Restart")').click();
    await expect.poll(() => cp.orchestrator.restarted.length).toBe(1);
    expect(cp.orchestrator.restarted[0]).toMatch(/fraud-model-v1-0$/);
  });

  const axeReport: Record<string, string[]> = {};
  /** pages wider than the 390 px viewport (a phone would scroll sideways): path → page width */
  const narrowReport: Record<string, number> = {};
  async function checkNarrow(path: string): Promise<void> {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 391) narrowReport[path] = width;
  }

  it('gives every group view its own address that survives a reload, at 1280 and 390 px', async () => {
    for (const tab of ['monitoring', 'debug', 'logs', 'events', 'instances', 'inference', 'quality', 'overview'] as const) {
      await page.click(`nav.tabs a:has-text("${{ overview: 'Overview', monitoring: 'Monitoring', debug: 'Debug', logs: 'Logs', events: 'Events', instances: 'Instances', inference: 'Inference table', quality: 'Quality' }[tab]}")`);
      const path = tab === 'overview' ? '/groups/fraud-model' : `/groups/fraud-model/${tab}`;
      await expect.poll(() => new URL(page.url()).pathname).toBe(path);
      await page.reload();
      await page.waitForSelector('nav.tabs a.active');
      expect(await page.locator('nav.tabs a.active').getAttribute('href')).toBe(path);
      if (tab === 'inference') await page.waitForSelector('[data-testid=inference] td.empty:has-text("No rows yet")');
      if (tab === 'quality') await page.waitForSelector('[data-testid=quality] td.empty:has-text("No alerts")');
      axeReport[path] = await axeProblems(page);
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await page.screenshot({ path: join(SCREENSHOTS, `group-${tab}-${width}.png`), fullPage: true });
        if (width === 390) await checkNarrow(path);
      }
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
    for (const path of ['/new', '/resource-groups', '/audit', '/groups']) {
      await page.goto(`${cp.url}${path}`);
      await page.waitForSelector('main h1, main h2');
      axeReport[path] = await axeProblems(page);
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await page.screenshot({ path: join(SCREENSHOTS, `page${path.replace(/\//g, '-')}-${width}.png`), fullPage: true });
        if (width === 390) await checkNarrow(path);
      }
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
    await page.goto(`${cp.url}/groups/fraud-model`);
    await page.waitForSelector('tr[data-version=v1]');
    expect(Object.fromEntries(Object.entries(axeReport).filter(([, problems]) => problems.length > 0))).toEqual({});
    expect(narrowReport).toEqual({});
    expect(browserErrors).toEqual([]);
  }, 240_000); // 12 pages, each reloaded, scanned and shot twice: over 60 s at load average 30

  it('draws the monitoring charts, or says why a series is empty', async () => {
    await page.goto(`${cp.url}/groups/fraud-model/monitoring`);
    await page.waitForSelector('[data-testid=charts] canvas');
    expect(await page.locator('[data-testid=charts] figure').count()).toBe(10);
    // no traffic went through this group: every chart says why it is empty instead of drawing nothing
    await expect.poll(() => page.locator('[data-testid=empty-reason]').count()).toBeGreaterThan(0);
    // 7 days at five minutes for every metric is more points than one operation may ask: the
    // server refuses it saying how many points a series has, and the page asks again in parts
    const sevenDays: { names: number; refused: boolean }[] = [];
    const watch = (res: Response) => {
      const req = res.request();
      if (!req.url().endsWith('/graphql') || req.method() !== 'POST') return;
      const vars = (req.postDataJSON() as { variables?: { range?: string; step?: string; names?: string[] } } | null)?.variables;
      if (vars?.range !== 'LAST_7D' || vars.step !== 'FIVE_MINUTES' || !vars.names) return;
      const names = vars.names.length;
      void res.json().then((b: { errors?: { extensions?: { reason?: string } }[] }) => sevenDays.push({ names, refused: b.errors?.[0]?.extensions?.reason === 'TOO_MANY_POINTS' }));
    };
    page.on('response', watch);
    try {
      await page.selectOption('select[name=step]', 'FIVE_MINUTES');
      await page.selectOption('select[name=range]', 'LAST_7D');
      await expect.poll(() => sevenDays.filter((a) => !a.refused).reduce((n, a) => n + a.names, 0), { timeout: 30_000 }).toBe(METRIC_NAMES.length);
      expect(sevenDays.filter((a) => a.refused)).toEqual([{ names: METRIC_NAMES.length, refused: true }]);
      expect(sevenDays.filter((a) => !a.refused).length).toBeGreaterThan(1);
      expect(await page.locator('.panel [role=alert]').count()).toBe(0);
      await page.waitForSelector('[data-testid=charts] canvas');
    } finally {
      page.off('response', watch);
    }
    expect(browserErrors).toEqual([]);
  });

  it('prefills the debugger from the model signature, refuses a body that is not JSON, masks the key in the curl', async () => {
    await page.goto(`${cp.url}/groups/fraud-model/debug`);
    const body = page.locator('textarea[name=body]');
    await expect.poll(async () => (await body.inputValue()).length).toBeGreaterThan(0);
    const example = JSON.parse(await body.inputValue()) as { dataframe_split: { columns: string[]; data: unknown[][] } };
    expect(example.dataframe_split.columns.length).toBeGreaterThan(0);
    expect(example.dataframe_split.data[0]).toHaveLength(example.dataframe_split.columns.length);
    expect(await page.locator('[data-testid=debug-address]').textContent()).toMatch(/\/services\/fraud-model\/predict$/);

    await page.fill('input[name=api-key]', 'sk-secret-value');
    expect(await page.locator('[data-testid=curl]').textContent()).toContain('<API key>');
    expect(await page.locator('[data-testid=curl]').textContent()).not.toContain('sk-secret-value');
    await page.check('input[name=reveal]');
    expect(await page.locator('[data-testid=curl]').textContent()).toContain('sk-secret-value');
    await page.selectOption('select[name=pin]', 'v1');
    expect(await page.locator('[data-testid=curl]').textContent()).toContain('x-sluice-version: v1');

    await body.fill('{"dataframe_split": ');
    await page.click('form[aria-label="debug request"] button[type=submit]');
    await page.waitForSelector('[data-testid=body-error]');
    expect(await page.locator('[data-testid=body-error]').textContent()).toMatch(/Not JSON/);
    expect(await page.locator('[data-testid=debug-result]').count()).toBe(0);
  });

  it('searches the logs with the filters and toggles', async () => {
    await page.goto(`${cp.url}/groups/fraud-model/logs`);
    await page.waitForSelector('[data-testid=logs]');
    await page.fill('input[name=log-query]', 'no-such-line-xyz');
    await page.click('form[aria-label="log search"] button[type=submit]');
    await expect.poll(() => page.locator('[data-testid=logs]').textContent()).toMatch(/no line matches/);
    await page.check('input[name=log-live]');
    await page.uncheck('input[name=log-wrap]');
    expect(await page.locator('pre.logs.wrap').count()).toBe(0);
    await page.goto(`${cp.url}/groups/fraud-model`);
    await page.waitForSelector('tr[data-version=v1]');
    expect(browserErrors).toEqual([]);
  });

  it('creates a service with its first version in one submit, and a refused version leaves no group', async () => {
    await page.goto(`${cp.url}/new`);
    await page.fill('input[name=name]', 'Bad Name!');
    await page.fill('input[name=version-name]', 'v1');
    await page.click('form[aria-label="add version"] button[type=submit]');
    // the server's message shows under the service name field
    await page.waitForSelector('.field-error[data-field=name]');
    expect(await page.locator('label:has(input[name=name]) .field-error').count()).toBe(1);
    expect((await cp.gql(`query { serviceGroup(name: "Bad Name!") { id } }`)).data?.serviceGroup ?? null).toBeNull();

    // a custom image whose environment the server refuses: the message shows on that field, and the group made for it is removed
    await page.fill('input[name=name]', 'image-svc');
    await page.selectOption('select[name=source]', 'image');
    await page.fill('input[name=image]', 'registry.local/app:1');
    await page.fill('input[name=command]', 'python -m serve');
    await page.fill('textarea[name=env]', '1BAD=x');
    await page.click('form[aria-label="add version"] button[type=submit]');
    await page.waitForSelector('label:has(textarea[name=env]) .field-error');
    const refusedImage = (await cp.gql<{ serviceGroup: { id: string } | null }>(`query { serviceGroup(name: "image-svc") { id } }`)).data?.serviceGroup ?? null;

    await page.fill('input[name=name]', 'two-step');
    await page.selectOption('select[name=source]', 'model');
    await page.selectOption('select[name=model]', 'wine-classifier');
    await page.screenshot({ path: join(SCREENSHOTS, 'new-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 900 });
    await page.screenshot({ path: join(SCREENSHOTS, 'new-390.png'), fullPage: true });
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.click('form[aria-label="add version"] button[type=submit]');
    await page.waitForSelector('h1:has-text("two-step")');
    expect(new URL(page.url()).pathname).toBe('/groups/two-step');
    const g = await group('two-step');
    expect(g.versions.map((v) => v.name)).toEqual(['v1']);
    expect(refusedImage).toBeNull();
    browserErrors.length = 0; // the refused submits are logged by the browser as failed requests
    page.once('dialog', (d) => void d.accept());
    await page.click('.page-head button:has-text("Delete")');
    await page.waitForSelector('h1:has-text("Service groups")');
    await page.click('tr[data-group=fraud-model] a');
    await page.waitForSelector('tr[data-version=v1]');
  });

  it('refuses to delete a running group readably, then stops and deletes it', async () => {
    page.once('dialog', (d) => void d.accept());
    await page.click('.page-head button:has-text("Delete")');
    const error = page.locator('main > .error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/CONFLICT/);

    await page.click('button:has-text("Stop all")');
    await expect.poll(() => page.locator('h1 [data-status]').getAttribute('data-status')).toBe('STOPPED');
    page.once('dialog', (d) => void d.accept());
    await page.click('.page-head button:has-text("Delete")');
    await page.waitForSelector('h1:has-text("Service groups")');
    await page.selectOption('select[name=status-filter]', '');
    await page.waitForSelector('td.empty:has-text("No service groups yet")');
    const res = await cp.gql(`query { serviceGroup(name: "fraud-model") { id } }`);
    expect(res.data?.serviceGroup ?? null).toBeNull();
  });

  it('shows the rest of the operator pages without errors', async () => {
    await page.click('nav a:has-text("Resource groups")');
    await page.click('button:has-text("New resource group")');
    await page.fill('input[name=rg-name]', 'gpu-pool');
    await page.click('form[aria-label="create resource group"] button[type=submit]');
    await page.click('button:has-text("Add node")');
    await page.fill('input[name=node-name]', 'node-a');
    await page.click('form[aria-label="add node"] button[type=submit]');
    await page.waitForSelector('code:has-text("node-a")');

    await page.click('nav a:has-text("Audit log")');
    await page.waitForSelector('code:has-text("create")');

    expect(browserErrors).toEqual([]);
  });

  it('signs in with a username and password as a viewer, who cannot create groups', async () => {
    const res = await cp.gql(`mutation { createUser(username: "vera", password: "correct horse battery", role: VIEWER) { id } }`);
    expect(res.errors).toBeUndefined();
    await page.click('button:has-text("Sign out")');
    await page.click('button:has-text("Username & password")');
    await page.fill('input[name=username]', 'vera');
    await page.fill('input[name=password]', 'wrong password');
    await page.click('button[type=submit]');
    // the server's message under the password field (which of the two was wrong is not told)
    await expect.poll(() => page.locator('label:has(input[name=password]) .field-error').textContent()).toMatch(/wrong username or password/);
    expect(await page.locator('.who').count()).toBe(0);
    browserErrors.length = 0;
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click('button[type=submit]');
    await page.waitForSelector('.who:has-text("viewer")');
    await page.waitForSelector('text=Only admins can read the audit log'); // still on /audit, where the admin signed out
    await page.click('nav a:has-text("Service groups")');
    expect(await page.locator('button:has-text("New service group")').isDisabled()).toBe(true);
    expect(await page.locator('nav a:has-text("Audit log")').count()).toBe(0);
    const token = await page.evaluate(() => localStorage.getItem('sluice.token'));
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/); // a JWT: the viewer's own session
    expect(token).not.toBe(cp.adminToken);
    expect(browserErrors).toEqual([]);
  });
});
