// updateQualityRule (the dashboard's rule edit): threshold, name, window, minimum rows and webhook
// URL change; bad input answers BAD_USER_INPUT on the field at fault; a rule created without a
// webhook cannot be given one (it has no signing secret, and an edit never makes or shows one); the
// secret is in no answer; a project viewer cannot edit; an unknown rule is NOT_FOUND.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type GraphQLResult, type TestControlPlane } from '../fixtures/control-plane.ts';
import { seedGroup } from './helpers.ts';

const extensionsOf = (r: GraphQLResult) => r.errors?.[0]?.extensions as { code?: string; field?: string; reason?: string } | undefined;
const UPDATE = `mutation($id: ID!, $i: QualityRuleUpdateInput!) { updateQualityRule(id: $id, input: $i) { id name threshold windowSeconds minRows webhookUrl hasWebhookSecret } }`;

describe('updateQualityRule (sqlite)', () => {
  let cp: TestControlPlane;
  let groupId: string;
  let withHook: string;
  let withoutHook: string;
  let secret: string;

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    ({ groupId } = await seedGroup(cp.plane.prisma, 'rule-edit'));
    const a = await cp.gql<{ createQualityRule: { rule: { id: string }; webhookSecret: string } }>(
      `mutation($g: ID!) { createQualityRule(groupId: $g, input: { name: "acc", metric: ACCURACY, threshold: 0.9, webhookUrl: "http://127.0.0.1:9/hook" }) { rule { id } webhookSecret } }`, { g: groupId });
    withHook = a.data!.createQualityRule.rule.id;
    secret = a.data!.createQualityRule.webhookSecret;
    const b = await cp.gql<{ createQualityRule: { rule: { id: string }; webhookSecret: string | null } }>(
      `mutation($g: ID!) { createQualityRule(groupId: $g, input: { name: "errors", metric: ERROR_RATE, threshold: 0.05 }) { rule { id } webhookSecret } }`, { g: groupId });
    withoutHook = b.data!.createQualityRule.rule.id;
    expect(b.data!.createQualityRule.webhookSecret).toBeNull();
  }, 120_000);

  afterAll(async () => {
    await cp?.plane.inference?.close();
    await cp?.close();
  });

  it('changes the threshold, window and webhook URL, keeping the secret and never showing it', async () => {
    const res = await cp.gql<{ updateQualityRule: Record<string, unknown> }>(UPDATE, { id: withHook, i: { threshold: 0.8, windowSeconds: 600, minRows: 20, webhookUrl: 'https://retrain.example.com/hook' } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateQualityRule).toEqual({ id: withHook, name: 'acc', threshold: 0.8, windowSeconds: 600, minRows: 20, webhookUrl: 'https://retrain.example.com/hook', hasWebhookSecret: true });
    expect(JSON.stringify(res)).not.toContain(secret);
    const row = await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withHook } });
    expect(row.webhookSecretEnc).not.toBeNull();
    // fields left out stay as they were; a null URL removes the webhook
    const cleared = await cp.gql<{ updateQualityRule: { threshold: number; webhookUrl: string | null; hasWebhookSecret: boolean } }>(UPDATE, { id: withHook, i: { webhookUrl: null } });
    expect(cleared.data!.updateQualityRule).toMatchObject({ threshold: 0.8, webhookUrl: null, hasWebhookSecret: true });
    // and a URL can come back: the secret made at creation still signs it
    const back = await cp.gql<{ updateQualityRule: { webhookUrl: string } }>(UPDATE, { id: withHook, i: { webhookUrl: 'http://127.0.0.1:9/hook' } });
    expect(back.data!.updateQualityRule.webhookUrl).toBe('http://127.0.0.1:9/hook');
  });

  it('answers bad input on the field at fault and changes nothing', async () => {
    const cases: [Record<string, unknown>, string, string?][] = [
      [{ windowSeconds: 0 }, 'windowSeconds'],
      [{ minRows: 0 }, 'minRows'],
      [{ name: '   ' }, 'name'],
      [{ webhookUrl: 'ftp://example.com/hook' }, 'webhookUrl'],
      [{ webhookUrl: 'not a url' }, 'webhookUrl'],
      [{ name: 'errors' }, 'name', 'CONFLICT'],
    ];
    const before = await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withHook } });
    for (const [input, field, reason] of cases) {
      const res = await cp.gql(UPDATE, { id: withHook, i: input });
      expect(extensionsOf(res), JSON.stringify(input)).toMatchObject({ code: 'BAD_USER_INPUT', field, ...(reason ? { reason } : {}) });
    }
    expect(await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withHook } })).toEqual(before);
  });

  it('applies the webhook destination policy to an edited URL, in every spelling, and changes nothing', async () => {
    const before = await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withHook } });
    for (const url of ['http://[::1]:9000/hook', 'http://169.254.169.254/latest/meta-data/', 'http://2852039166/', 'http://167772161/hook', 'http://0xa.0.0.1/', 'http://[::ffff:10.0.0.1]/', 'http://[fd00::1]/', 'http://192.168.1.1/']) {
      const res = await cp.gql(UPDATE, { id: withHook, i: { webhookUrl: url } });
      expect(extensionsOf(res), url).toMatchObject({ code: 'BAD_USER_INPUT', field: 'webhookUrl', reason: 'WEBHOOK_DESTINATION_FORBIDDEN' });
    }
    expect(await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withHook } })).toEqual(before);
  });

  it('refuses a webhook URL on a rule that has no signing secret', async () => {
    const res = await cp.gql(UPDATE, { id: withoutHook, i: { webhookUrl: 'https://retrain.example.com/hook' } });
    expect(extensionsOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'webhookUrl', reason: 'NO_WEBHOOK_SECRET' });
    const row = await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withoutHook } });
    expect(row).toMatchObject({ webhookUrl: null, webhookSecretEnc: null });
    // the threshold of that rule can still change
    const ok = await cp.gql<{ updateQualityRule: { threshold: number } }>(UPDATE, { id: withoutHook, i: { threshold: 0.1 } });
    expect(ok.data!.updateQualityRule.threshold).toBe(0.1);
  });

  it('is NOT_FOUND for an unknown rule and FORBIDDEN for a project viewer', async () => {
    expect(extensionsOf(await cp.gql(UPDATE, { id: 'nope', i: { threshold: 1 } }))?.code).toBe('NOT_FOUND');
    const project = await cp.plane.prisma.project.findUniqueOrThrow({ where: { name: 'inference-test' } });
    const user = await cp.gql<{ createUser: { id: string } }>(`mutation { createUser(username: "rule-viewer", password: "viewer-pass-1", role: VIEWER) { id } }`);
    await cp.gql(`mutation($p: ID!, $u: ID!) { setProjectMember(projectId: $p, userId: $u, role: VIEWER) { id } }`, { p: project.id, u: user.data!.createUser.id });
    const login = await cp.gql<{ login: { token: string } }>(`mutation { login(username: "rule-viewer", password: "viewer-pass-1") { token } }`, {}, null);
    const res = await cp.gql(UPDATE, { id: withHook, i: { threshold: 0.1 } }, login.data!.login.token);
    expect(extensionsOf(res)?.code).toBe('FORBIDDEN');
    expect((await cp.plane.prisma.qualityRule.findUniqueOrThrow({ where: { id: withHook } })).threshold).toBe(0.8);
  });
});
