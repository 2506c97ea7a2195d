// The closed loop end to end, through the real product (`npm start` with the demo): traffic
// through the local edge (single rows and batches) → inference-log objects → the table job
// (runInferenceTableJob) → table rows equal to the requests' rows, count and values →
// labels → accuracy per version equals what this test computes from the answers it got and
// the labels it sent → shifted inputs raise a PSI drift alert (alertChanged streams it) →
// the webhook receiver here gets a POST whose x-sluice-signature verifies → normal traffic
// resolves the alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { verifyWebhookSignature } from '../../control/inference/webhooks.ts';
import { freePort } from '../fixtures/sluice-process.ts';
import { HELDOUT } from '../inference/helpers.ts';

const COLUMNS = HELDOUT.columns;


interface Sent { clientRequestId: string; version: string; rows: number[][]; predictions: number[]; labels: number[] }

describe('the inference table and quality loop, end to end', () => {
  let dataDir: string;
  let child: ChildProcess;
  let edge: string;
  let control: string;
  let token: string;
  let key: string;
  let output = '';
  let groupId: string;
  let v1Id: string;
  const hooks: { body: string; signature: string | undefined }[] = [];
  let hookServer: Server;
  let hookUrl: string;

  beforeAll(async () => {
    hookServer = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        hooks.push({ body, signature: req.headers['x-sluice-signature'] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/retrain`;

    dataDir = mkdtempSync(join(tmpdir(), 'sluice-loop-'));
    const ports = { SLUICE_PORT: await freePort(), SLUICE_EDGE_PORT: await freePort(), SLUICE_XDS_PORT: await freePort(), SLUICE_GATEWAY_PORT: await freePort() };
    edge = `http://127.0.0.1:${ports.SLUICE_EDGE_PORT}`;
    control = `http://127.0.0.1:${ports.SLUICE_PORT}`;
    // `npm start` exactly: the built control plane (test/global-build.ts keeps dist/ current)
    child = spawn(process.execPath, ['--enable-source-maps', 'dist/control/main.js'], {
      env: {
        ...process.env, SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', SLUICE_OBJECT_STORE: '', SLUICE_INFERENCE_TABLE_INTERVAL: '0',
        // the test's webhook receiver listens on loopback: refused unless the admin allows it
        SLUICE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (output.includes('[sluice] ready')) { clearInterval(timer); resolve(); }
      }, 100);
      child.once('exit', (code) => { clearInterval(timer); reject(new Error(`npm start exited with ${code}:\n${output}`)); });
    });
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    const g = await gql<{ serviceGroup: { id: string; versions: { id: string; name: string }[] } }>(`{ serviceGroup(name: "wine-quality") { id versions { id name } } }`);
    groupId = g.serviceGroup.id;
    v1Id = g.serviceGroup.versions.find((v) => v.name === 'v1')!.id;
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { child.kill('SIGKILL'); r(null); }, 20_000); child.once('exit', () => { clearTimeout(t); r(null); }); });
    }
    hookServer?.closeAllConnections();
    hookServer?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${control}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data as T;
  }

  let seq = 0;
  async function send(rows: number[][], labels: number[], pin?: string): Promise<Sent> {
    const clientRequestId = `loop-${seq++}`;
    const res = await fetch(`${edge}/services/wine-quality/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: key, ...(pin ? { 'x-sluice-version': pin } : {}) },
      body: JSON.stringify({ client_request_id: clientRequestId, dataframe_split: { columns: COLUMNS, data: rows } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { version: string; predictions: number[] };
    return { clientRequestId, version: body.version, rows, predictions: body.predictions, labels };
  }

  /** Runs the job until the table holds `rows` rows (the edge uploads its log in batches). */
  async function tableReaches(rows: number): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      await gql(`mutation($g: ID!) { runInferenceTableJob(groupId: $g) { id rowsWritten } }`, { g: groupId });
      const t = await gql<{ inferenceTable: { rowCount: number } }>(`query($g: ID!) { inferenceTable(groupId: $g) { rowCount } }`, { g: groupId });
      if (t.inferenceTable.rowCount >= rows) {
        expect(t.inferenceTable.rowCount).toBe(rows);
        return;
      }
      if (Date.now() > deadline) throw new Error(`the table has ${t.inferenceTable.rowCount} of ${rows} rows`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  const sent: Sent[] = [];

  it('turns single-row and batch requests into table rows equal to what was sent', async () => {
    for (let i = 0; i < 10; i++) sent.push(await send([HELDOUT.rows[i]!], [HELDOUT.labels[i]!]));
    for (let i = 10; i < HELDOUT.rows.length; i += 11) sent.push(await send(HELDOUT.rows.slice(i, i + 11), HELDOUT.labels.slice(i, i + 11)));
    await tableReaches(HELDOUT.rows.length);
    for (const s of sent) {
      const { inferenceRows } = await gql<{ inferenceRows: { rowIndex: number; version: string; features: Record<string, number>; prediction: number; status: number }[] }>(
        `query($g: ID!, $c: String) { inferenceRows(groupId: $g, clientRequestId: $c, first: 100) { rowIndex version features prediction status } }`,
        { g: groupId, c: s.clientRequestId },
      );
      expect(inferenceRows).toHaveLength(s.rows.length);
      for (const r of inferenceRows) {
        expect(r).toMatchObject({ version: s.version, status: 200, prediction: s.predictions[r.rowIndex] });
        expect(COLUMNS.map((c) => r.features[c])).toEqual(s.rows[r.rowIndex]);
      }
    }
  }, 180_000);

  it('joins labels and reports accuracy per version as computed from the answers', async () => {
    const labels = sent.flatMap((s) => s.labels.map((label, rowIndex) => ({ clientRequestId: s.clientRequestId, rowIndex, label })));
    const { submitLabels } = await gql<{ submitLabels: number }>(`mutation($g: ID!, $l: [LabelInput!]!) { submitLabels(groupId: $g, labels: $l) }`, { g: groupId, l: labels });
    expect(submitLabels).toBe(HELDOUT.rows.length);
    const { qualityMetrics } = await gql<{ qualityMetrics: { version: string; rows: number; labelledRows: number; accuracy: number | null; drift: { feature: string; psi: number }[] }[] }>(
      `query($g: ID!) { qualityMetrics(groupId: $g) { version rows labelledRows accuracy drift { feature psi ksPValue jsDistance } } }`,
      { g: groupId },
    );
    for (const version of ['v1', 'v2']) {
      const mine = sent.filter((s) => s.version === version);
      const rows = mine.reduce((n, s) => n + s.rows.length, 0);
      const q = qualityMetrics.find((m) => m.version === version);
      if (rows === 0) {
        expect(q).toBeUndefined();
        continue;
      }
      const correct = mine.reduce((n, s) => n + s.predictions.filter((p, i) => p === s.labels[i]).length, 0);
      expect(q).toMatchObject({ rows, labelledRows: rows });
      expect(q!.accuracy).toBeCloseTo(correct / rows, 12);
      expect(q!.drift.map((d) => d.feature)).toEqual(COLUMNS);
    }
  }, 60_000);

  it('raises a PSI alert on shifted inputs, signs the webhook, streams it, and resolves on normal traffic', async () => {
    const { createQualityRule } = await gql<{ createQualityRule: { rule: { id: string }; webhookSecret: string } }>(
      `mutation($g: ID!, $i: QualityRuleInput!) { createQualityRule(groupId: $g, input: $i) { rule { id name metric feature threshold } webhookSecret } }`,
      { g: groupId, i: { name: 'alcohol drift on v1', metric: 'PSI', feature: 'alcohol', threshold: 1.0, versionId: v1Id, webhookUrl: hookUrl } },
    );
    const secret = createQualityRule.webhookSecret;
    expect(secret).toBeTruthy();
    // the secret is never readable again
    const rules = await gql<{ qualityRules: Record<string, unknown>[] }>(`query($g: ID!) { qualityRules(groupId: $g) { id webhookUrl hasWebhookSecret } }`, { g: groupId });
    expect(JSON.stringify(rules)).not.toContain(secret);

    const ws = createClient({ url: `${control.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const streamed: { state: string; version: string }[] = [];
    const unsubscribe = ws.subscribe<{ alertChanged: { state: string; version: string } }>(
      { query: `subscription($g: ID!) { alertChanged(groupId: $g) { id state version value } }`, variables: { g: groupId } },
      { next: (m) => { if (m.data) streamed.push(m.data.alertChanged); }, error: () => undefined, complete: () => undefined },
    );
    await new Promise((r) => setTimeout(r, 300));

    // shifted inputs: alcohol far above anything in training
    const shifted = HELDOUT.rows.map((r) => [r[0]! + 6, ...r.slice(1)]);
    for (let k = 0; k < 3; k++) await send(shifted, HELDOUT.labels, 'v1');
    await tableReaches(HELDOUT.rows.length * 4);
    const { alerts } = await gql<{ alerts: { id: string; state: string; version: string; value: number; rule: { name: string } }[] }>(
      `query($g: ID!) { alerts(groupId: $g) { id state version value rule { name } deliveries { state attempts responseStatus } } }`,
      { g: groupId },
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ state: 'OPEN', version: 'v1', rule: { name: 'alcohol drift on v1' } });
    expect(alerts[0]!.value).toBeGreaterThan(1.0);

    const deadline = Date.now() + 30_000;
    while (hooks.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(hooks).toHaveLength(1);
    expect(verifyWebhookSignature(secret, hooks[0]!.signature, hooks[0]!.body)).toBe(true);
    const body = JSON.parse(hooks[0]!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ event: 'OPENED', group: 'wine-quality', version: 'v1', metric: 'PSI', threshold: 1.0, alert: { id: alerts[0]!.id } });
    // the value the alert opened with: a run that lands between two shifted batches may open it,
    // and later evaluations of the still-open alert update its current value
    expect(typeof body.value).toBe('number');
    expect(body.value as number).toBeGreaterThan(1.0);
    expect(String((body.rows as { pathPattern: string }).pathPattern)).toContain('inference-table/group=wine-quality/version=v1/dt=*/*.parquet');
    while (!streamed.some((a) => a.state === 'OPEN') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(streamed.some((a) => a.state === 'OPEN' && a.version === 'v1')).toBe(true);

    // normal traffic dilutes the window back under the threshold
    for (let k = 0; k < 30; k++) await send(HELDOUT.rows, HELDOUT.labels, 'v1');
    await tableReaches(HELDOUT.rows.length * 34);
    const after = await gql<{ alerts: { state: string; resolvedAt: string | null }[] }>(`query($g: ID!) { alerts(groupId: $g) { state resolvedAt } }`, { g: groupId });
    expect(after.alerts).toEqual([{ state: 'RESOLVED', resolvedAt: expect.any(String) }]);
    while (hooks.length < 2 && Date.now() < deadline + 30_000) await new Promise((r) => setTimeout(r, 100));
    expect((JSON.parse(hooks[1]!.body) as { event: string }).event).toBe('RESOLVED');
    expect(verifyWebhookSignature(secret, hooks[1]!.signature, hooks[1]!.body)).toBe(true);
    while (!streamed.some((a) => a.state === 'RESOLVED') && Date.now() < deadline + 30_000) await new Promise((r) => setTimeout(r, 100));
    expect(streamed.some((a) => a.state === 'RESOLVED')).toBe(true);
    unsubscribe();
    await ws.dispose();
  }, 240_000);
});
