// The inference GraphQL API on both databases: CONTRACT's fields answer with their codes for
// bad input (rule on an unknown feature, label file with wrong types, unknown label ids
// reported), webhook secrets are shown once and never again, and a project viewer may read
// the table but not change it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { providers } from '../fixtures/db.ts';
import { startTestControlPlane, type GraphQLResult, type TestControlPlane } from '../fixtures/control-plane.ts';
import { HELDOUT, putLogObject, record, seedGroup } from './helpers.ts';

const codeOf = (r: GraphQLResult) => r.errors?.[0]?.extensions?.code;

describe.each(providers)('inference GraphQL (%s)', (provider) => {
  let cp: TestControlPlane;
  let groupId: string;
  let store: FsObjectStore;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider });
    ({ groupId } = await seedGroup(cp.plane.prisma, `inf-${provider}`));
    store = new FsObjectStore(join(cp.dataDir, 'objects'));
    await putLogObject(store, [record(`inf-${provider}`, { rows: HELDOUT.rows.slice(0, 5), predictions: HELDOUT.labels.slice(0, 5), clientRequestId: 'g-1' })]);
  }, 120_000);

  afterAll(async () => {
    await cp?.plane.inference?.close();
    await cp?.close();
  });

  it('runs the job and reads the table, rows and quality', async () => {
    const run = await cp.gql<{ runInferenceTableJob: { objectsProcessed: number; rowsWritten: number; objectsQuarantined: number } }>(
      `mutation($g: ID!) { runInferenceTableJob(groupId: $g) { id objectsProcessed rowsWritten objectsQuarantined } }`, { g: groupId });
    expect(run.errors).toBeUndefined();
    expect(run.data!.runInferenceTableJob).toMatchObject({ objectsProcessed: 1, rowsWritten: 5, objectsQuarantined: 0 });
    const table = await cp.gql<{ inferenceTable: { rowCount: number; labelledRows: number; lastRunAt: string; location: string } }>(
      `query($g: ID!) { inferenceTable(groupId: $g) { rowCount labelledRows lastRunAt location pathPattern runs { state objectsTotal } } }`, { g: groupId });
    expect(table.data!.inferenceTable).toMatchObject({ rowCount: 5, labelledRows: 0, lastRunAt: expect.any(String), location: expect.stringContaining(`inference-table/group=inf-${provider}/`) });
    const rows = await cp.gql<{ inferenceRows: { rowIndex: number; features: Record<string, number>; label: unknown }[] }>(
      `query($g: ID!) { inferenceRows(groupId: $g, clientRequestId: "g-1") { requestId rowIndex version time features prediction label status latencyMs } }`, { g: groupId });
    expect(rows.data!.inferenceRows).toHaveLength(5);
    const labelled = await cp.gql<{ submitLabelBatch: { labelled: number; unknownCount: number; unknown: { clientRequestId: string }[] } }>(
      `mutation($g: ID!, $l: [LabelInput!]!) { submitLabelBatch(groupId: $g, labels: $l) { labelled unknownCount unknown { clientRequestId rowIndex } } }`,
      { g: groupId, l: [{ clientRequestId: 'g-1', label: HELDOUT.labels[0] }, { clientRequestId: 'g-1', rowIndex: 1, label: HELDOUT.labels[1] }, { clientRequestId: 'nope', label: 1 }] });
    expect(labelled.data!.submitLabelBatch).toMatchObject({ labelled: 2, unknownCount: 1, unknown: [{ clientRequestId: 'nope' }] });
    const q = await cp.gql<{ qualityMetrics: { version: string; labelledRows: number; accuracy: number }[] }>(
      `query($g: ID!) { qualityMetrics(groupId: $g) { version rows labelledRows accuracy errorRate latencyP99Ms drift { feature psi ksPValue jsDistance } } }`, { g: groupId });
    expect(q.data!.qualityMetrics).toEqual([expect.objectContaining({ version: 'v1', labelledRows: 2, accuracy: 1 })]);
    // each run stored the last hour's quality: the trend
    const history = await cp.gql<{ qualityHistory: { version: string; rows: number; quality: { rows: number; drift: unknown[] } }[] }>(
      `query($g: ID!) { qualityHistory(groupId: $g) { version windowFrom windowTo rows quality { rows accuracy drift { feature psi } } } }`, { g: groupId });
    expect(history.errors).toBeUndefined();
    expect(history.data!.qualityHistory[0]).toMatchObject({ version: 'v1', rows: 5, quality: { rows: 5 } });
  });

  it('answers bad input with stable codes', async () => {
    const unknownFeature = await cp.gql(`mutation($g: ID!) { createQualityRule(groupId: $g, input: { name: "x", metric: PSI, feature: "colour", threshold: 0.2 }) { rule { id } } }`, { g: groupId });
    expect(codeOf(unknownFeature)).toBe('BAD_USER_INPUT');
    expect(unknownFeature.errors![0]!.extensions).toMatchObject({ reason: 'UNKNOWN_FEATURE' });
    await store.put('imports/bad.csv', Buffer.from('client_request_id,row_index,label\ng-1,one,1\n'));
    const badFile = await cp.gql(`mutation($g: ID!) { importLabels(groupId: $g, key: "imports/bad.csv", format: CSV) { labelled } }`, { g: groupId });
    expect(codeOf(badFile)).toBe('BAD_USER_INPUT');
    const missing = await cp.gql(`mutation($g: ID!) { importLabels(groupId: $g, key: "imports/none.csv", format: CSV) { labelled } }`, { g: groupId });
    expect(codeOf(missing)).toBe('NOT_FOUND');
    const badUrl = await cp.gql(`mutation($g: ID!) { createQualityRule(groupId: $g, input: { name: "y", metric: ERROR_RATE, threshold: 0.1, webhookUrl: "ftp://x" }) { rule { id } } }`, { g: groupId });
    expect(codeOf(badUrl)).toBe('BAD_USER_INPUT');
    const metadata = await cp.gql(`mutation($g: ID!) { createQualityRule(groupId: $g, input: { name: "m", metric: ERROR_RATE, threshold: 0.1, webhookUrl: "http://169.254.169.254/latest/meta-data/" }) { rule { id } } }`, { g: groupId });
    expect(codeOf(metadata)).toBe('BAD_USER_INPUT');
    expect((metadata.errors?.[0]?.extensions as { reason?: string } | undefined)?.reason).toBe('WEBHOOK_DESTINATION_FORBIDDEN');
    const noGroup = await cp.gql(`query { inferenceTable(groupId: "nope") { rowCount } }`);
    expect(codeOf(noGroup)).toBe('NOT_FOUND');
    expect(codeOf(await cp.gql(`query($g: ID!) { alerts(groupId: $g) { id } }`, { g: groupId }, null))).toBe('UNAUTHENTICATED');
  });

  it('shows the webhook secret once, and lets a viewer read but not change', async () => {
    const created = await cp.gql<{ createQualityRule: { rule: { id: string }; webhookSecret: string } }>(
      `mutation($g: ID!) { createQualityRule(groupId: $g, input: { name: "acc", metric: ACCURACY, threshold: 0.9, webhookUrl: "http://127.0.0.1:9/hook" }) { rule { id metric threshold webhookUrl } webhookSecret } }`, { g: groupId });
    const secret = created.data!.createQualityRule.webhookSecret;
    expect(secret).toMatch(/^whsec_/);
    const listed = await cp.gql(`query($g: ID!) { qualityRules(groupId: $g) { id name metric feature threshold webhookUrl hasWebhookSecret } alerts(groupId: $g) { id } }`, { g: groupId });
    expect(JSON.stringify(listed)).not.toContain(secret);
    const row = await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: created.data!.createQualityRule.rule.id } });
    expect(row.webhookSecretEnc).not.toContain(secret);

    const project = await cp.plane.prisma.project.findUniqueOrThrow({ where: { name: 'inference-test' } });
    const user = await cp.gql<{ createUser: { id: string } }>(`mutation { createUser(username: "vic-${provider}", password: "viewer-pass-1", role: VIEWER) { id } }`);
    await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: VIEWER) { id } }`, { p: project.id, u: user.data!.createUser.id });
    const login = await cp.gql<{ login: { token: string } }>(`mutation { login(username: "vic-${provider}", password: "viewer-pass-1") { token } }`, {}, null);
    const token = login.data!.login.token;
    const read = await cp.gql<{ inferenceTable: { rowCount: number } }>(`query($g: ID!) { inferenceTable(groupId: $g) { rowCount } }`, { g: groupId }, token);
    expect(read.data!.inferenceTable.rowCount).toBe(5);
    expect(codeOf(await cp.gql(`mutation($g: ID!) { runInferenceTableJob(groupId: $g) { id } }`, { g: groupId }, token))).toBe('FORBIDDEN');
    expect(codeOf(await cp.gql(`mutation($g: ID!) { submitLabels(groupId: $g, labels: [{ clientRequestId: "g-1", label: 0 }]) }`, { g: groupId }, token))).toBe('FORBIDDEN');
  });
});
