// Labels, quality and rules as a specification, on a fixed clock: accuracy equals what the
// test computes from the predictions and labels it sent; relabels and resubmits are
// idempotent; unknown ids are reported; a label file with wrong types is refused; shifted
// inputs raise one PSI alert (no storm) whose signed webhook verifies, and it resolves on
// normal traffic; a webhook that answers 500 or times out is retried and recorded; a rule
// on an unknown feature is refused; the A/B verdict says "not enough data" until it has it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { InferenceService } from '../../control/inference/service.ts';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../control/inference/webhooks.ts';
import { HELDOUT, putLogObject, record, seedGroup } from './helpers.ts';

interface Received { body: string; signature: string | undefined }

function receiver(answer: (req: IncomingMessage) => number | 'hang'): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ body, signature: req.headers[SIGNATURE_HEADER] as string | undefined });
      const a = answer(req);
      if (a === 'hang') return;
      res.writeHead(a).end('ok');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, got })));
}

describe('labels, quality, rules and webhooks', () => {
  let db: TestDatabase;
  let dir: string;
  let store: FsObjectStore;
  let service: InferenceService;
  let groupId: string;
  let v1: string;
  let clock = new Date('2026-06-01T10:00:00Z');
  const G = 'wine-quality';
  const servers: Server[] = [];

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'sluice-quality-'));
    store = new FsObjectStore(join(dir, 'objects'));
    service = new InferenceService({
      prisma: db.prisma,
      store,
      pubsub: createMemoryPubSub(),
      secrets: { seal: (s) => Buffer.from(s).toString('base64'), open: (s) => Buffer.from(s, 'base64').toString() },
      workDir: join(dir, 'work'),
      now: () => clock,
      webhook: { attempts: 3, minBackoffMs: 20, maxBackoffMs: 50, timeoutMs: 300 },
      // the receivers below listen on loopback: allowed explicitly
      webhookAllowHosts: ['127.0.0.1'],
    });
    ({ groupId, v1 } = await seedGroup(db.prisma, G));
  }, 60_000);

  afterAll(async () => {
    await service.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends the held-out rows as v1 traffic at `at` (batches of 9), with v1's predictions; returns the client ids. */
  async function traffic(at: Date, tag: string, shift = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < HELDOUT.rows.length; i += 9) {
      const id = `${tag}-${i}`;
      const rows = HELDOUT.rows.slice(i, i + 9).map((r) => r.map((v, c) => (c === 0 ? v + shift : v)));
      await putLogObject(store, [record(G, { rows, predictions: HELDOUT.versions['1']!.predictions.slice(i, i + 9), clientRequestId: id, at })]);
      ids.push(id);
    }
    return ids;
  }

  it('accuracy equals the share of predictions that match the submitted labels', async () => {
    const ids = await traffic(clock, 'base');
    await service.runJob(groupId);
    const labels = ids.flatMap((id, k) => HELDOUT.rows.slice(k * 9, k * 9 + 9).map((_, j) => ({ clientRequestId: id, rowIndex: j, label: HELDOUT.labels[k * 9 + j] })));
    // a wrong label first, then the right one: the latest wins
    await service.labels.submit(G, [{ clientRequestId: ids[0]!, rowIndex: 0, label: 99 }]);
    const report = await service.labels.submit(G, [...labels, { clientRequestId: 'nobody', rowIndex: 0, label: 1 }]);
    expect(report).toMatchObject({ labelled: HELDOUT.rows.length, unknownCount: 1, unknown: [{ clientRequestId: 'nobody', rowIndex: 0 }] });
    // resubmitting is idempotent
    await service.labels.submit(G, labels);
    const expected = HELDOUT.versions['1']!.predictions.filter((p, i) => p === HELDOUT.labels[i]).length / HELDOUT.rows.length;
    const [q] = await service.quality(groupId);
    expect(q).toMatchObject({ version: 'v1', rows: HELDOUT.rows.length, labelledRows: HELDOUT.rows.length });
    expect(q!.accuracy).toBeCloseTo(expected, 12);
    expect(q!.classes.map((c) => c.label)).toEqual(['0', '1', '2']);
    const info = await service.tableInfo(groupId);
    expect(info).toMatchObject({ rowCount: HELDOUT.rows.length, labelledRows: HELDOUT.rows.length });
    // the held-out rows look like the training data: no feature drifts much
    expect(Math.max(...q!.drift.map((d) => d.psi ?? 0))).toBeLessThan(1);
    expect(q!.drift).toHaveLength(13);
    const row = (await service.rows(groupId, { clientRequestId: ids[0]!, first: 1 }))[0]!;
    expect(row.label).toBe(HELDOUT.labels[row.rowIndex]);
  });

  it('imports a label file and refuses one with wrong types', async () => {
    const csv = 'client_request_id,row_index,label\nbase-0,1,' + String(HELDOUT.labels[1]) + '\nghost,0,1\n';
    await store.put('imports/labels.csv', Buffer.from(csv));
    const report = await service.labels.importFile(G, 'imports/labels.csv', 'CSV');
    expect(report).toMatchObject({ received: 2, labelled: 1, unknownCount: 1 });
    await store.put('imports/bad.csv', Buffer.from('client_request_id,row_index,label\nbase-0,first,1\n'));
    await expect(service.labels.importFile(G, 'imports/bad.csv', 'CSV')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { reason: 'BAD_LABEL_FILE' } });
    await store.put('imports/bad.jsonl', Buffer.from('{"client_request_id": "base-0", "row_index": {"x": 1}, "label": 1}\n'));
    await expect(service.labels.importFile(G, 'imports/bad.jsonl', 'JSONL')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await store.put('imports/ok.jsonl', Buffer.from('{"client_request_id": "base-0", "row_index": 2, "label": ' + String(HELDOUT.labels[2]) + '}\n'));
    expect(await service.labels.importFile(G, 'imports/ok.jsonl', 'JSONL')).toMatchObject({ labelled: 1, unknownCount: 0 });
    await expect(service.labels.submit(G, [{ clientRequestId: '', label: 1 }])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('refuses a rule on an unknown feature', async () => {
    await expect(service.rules.create(groupId, { name: 'x', metric: 'PSI', feature: 'colour', threshold: 0.2 }, null)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { reason: 'UNKNOWN_FEATURE' } });
  });

  it('shifted inputs open one PSI alert with a signed webhook; normal traffic resolves it', async () => {
    const hook = await receiver(() => 200);
    servers.push(hook.server);
    const { webhookSecret } = await service.rules.create(groupId, { name: 'alcohol drift', metric: 'PSI', feature: 'alcohol', threshold: 0.5, webhookUrl: hook.url, windowSeconds: 300, versionId: v1 }, null);
    expect(webhookSecret).toMatch(/^whsec_/);
    const stored = await db.prisma.qualityRule.findFirstOrThrow({ where: { name: 'alcohol drift' } });
    expect(stored.webhookSecretEnc).not.toContain(webhookSecret!);
    // 10 minutes later, shifted inputs
    clock = new Date(clock.getTime() + 600_000);
    await traffic(new Date(clock.getTime() - 1000), 'shifted', 5);
    await service.runJob(groupId); // evaluates the rules after the run
    await service.rules.evaluate(groupId); // again: still one open alert
    let alerts = await db.prisma.qualityAlert.findMany({ where: { groupId } });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ state: 'OPEN', version: 'v1' });
    expect(alerts[0]!.value).toBeGreaterThan(0.5);
    await service.deliverer.idle();
    expect(hook.got).toHaveLength(1);
    expect(verifyWebhookSignature(webhookSecret!, hook.got[0]!.signature, hook.got[0]!.body)).toBe(true);
    expect(verifyWebhookSignature('whsec_wrong', hook.got[0]!.signature, hook.got[0]!.body)).toBe(false);
    const body = JSON.parse(hook.got[0]!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ event: 'OPENED', group: G, version: 'v1', metric: 'PSI', feature: 'alcohol', threshold: 0.5, rule: { name: 'alcohol drift' } });
    expect((body.rows as { pathPattern: string }).pathPattern).toMatch(/inference-table\/group=wine-quality\/version=v1\/dt=\*\/\*\.parquet$/);
    // 10 minutes later, normal traffic
    clock = new Date(clock.getTime() + 600_000);
    await traffic(new Date(clock.getTime() - 1000), 'normal');
    await service.runJob(groupId);
    alerts = await db.prisma.qualityAlert.findMany({ where: { groupId } });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ state: 'RESOLVED', openKey: null });
    await service.deliverer.idle();
    expect(hook.got.map((g) => (JSON.parse(g.body) as { event: string }).event)).toEqual(['OPENED', 'RESOLVED']);
    const deliveries = await db.prisma.webhookDelivery.findMany({ where: { alertId: alerts[0]!.id } });
    expect(deliveries.map((d) => [d.state, d.attempts, d.responseStatus])).toEqual([['DELIVERED', 1, 200], ['DELIVERED', 1, 200]]);
    const events = await db.prisma.event.findMany({ where: { reason: { in: ['QualityAlertOpened', 'QualityAlertResolved'] } } });
    expect(events.map((e) => e.reason).sort()).toEqual(['QualityAlertOpened', 'QualityAlertResolved']);
  });

  it('retries a webhook that answers 500 or times out, and records every delivery', async () => {
    const failing = await receiver(() => 500);
    const hanging = await receiver(() => 'hang');
    servers.push(failing.server, hanging.server);
    await service.rules.create(groupId, { name: 'errors-500', metric: 'ACCURACY', threshold: 1.01, webhookUrl: failing.url, windowSeconds: 3600 }, null);
    await service.rules.create(groupId, { name: 'errors-hang', metric: 'ACCURACY', threshold: 1.01, webhookUrl: hanging.url, windowSeconds: 3600 }, null);
    await service.rules.evaluate(groupId);
    await service.deliverer.idle();
    expect(failing.got).toHaveLength(3);
    expect(hanging.got).toHaveLength(3);
    const deliveries = await db.prisma.webhookDelivery.findMany({ where: { alert: { rule: { name: { in: ['errors-500', 'errors-hang'] } } } }, include: { alert: { include: { rule: true } } } });
    const byRule = Object.fromEntries(deliveries.map((d) => [d.alert.rule.name, d]));
    expect(byRule['errors-500']).toMatchObject({ state: 'FAILED', attempts: 3, responseStatus: 500, lastError: 'answered HTTP 500' });
    expect(byRule['errors-hang']).toMatchObject({ state: 'FAILED', attempts: 3, lastError: expect.stringMatching(/timed out/) });
  });

  it('gives an A/B verdict only when both versions have enough labelled rows', async () => {
    let v = await service.verdict(groupId);
    expect(v.outcome).toBe('NOT_ENOUGH_DATA');
    // v2 answers the same requests (as shadow traffic would): it gets every row wrong
    const at = new Date(clock.getTime() - 500);
    for (let i = 0; i < HELDOUT.rows.length; i += 9) {
      await putLogObject(store, [record(G, { version: 'v2', rows: HELDOUT.rows.slice(i, i + 9), predictions: HELDOUT.labels.slice(i, i + 9).map((l) => (l + 1) % 3), clientRequestId: `normal-${i}`, at, shadow: true })]);
    }
    await service.runJob(groupId);
    const normalLabels = Array.from({ length: HELDOUT.rows.length }, (_, i) => ({ clientRequestId: `normal-${Math.floor(i / 9) * 9}`, rowIndex: i % 9, label: HELDOUT.labels[i] }));
    await service.labels.submit(G, normalLabels);
    v = await service.verdict(groupId, new Date(clock.getTime() - 300_000), clock);
    expect(v).toMatchObject({ versionA: 'v1', versionB: 'v2', outcome: 'A_BETTER' });
    const acc = v.comparisons.find((c) => c.metric === 'ACCURACY')!;
    expect(acc.sampleA).toBe(HELDOUT.rows.length);
    expect(acc.sampleB).toBe(HELDOUT.rows.length);
    expect(acc.b).toBe(0);
    expect(acc.pValue!).toBeLessThan(0.001);
  });
});
