// Webhook destinations (SSRF): a rule may not point its webhook at loopback, private,
// link-local or reserved addresses in any spelling (IPv4/IPv6 loopback, 10/8, 169.254 cloud
// metadata, IPv4-mapped IPv6, a decimal IP), unless the admin allow-list names it; deliveries
// check the addresses they connect to (a name re-resolving to 127.0.0.1 after the rule was
// saved is refused: DNS rebinding) and never follow a redirect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { WebhookDeliverer } from '../../control/inference/webhooks.ts';
import { WEBHOOK_DESTINATION_FORBIDDEN, WebhookTargetPolicy, isForbiddenDestination } from '../../control/inference/webhook-target.ts';
import { seedGroup } from './helpers.ts';

const PUBLIC = '93.184.216.34';
const fixed = (map: Record<string, string[]>) => async (host: string): Promise<LookupAddress[]> => {
  const list = map[host];
  if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return null;
}

describe('webhook destination policy', () => {
  const policy = new WebhookTargetPolicy([], fixed({ 'hooks.example.com': [PUBLIC], 'internal.example.com': ['10.1.2.3'], 'mixed.example.com': [PUBLIC, '::1'] }));

  it.each([
    ['IPv4 loopback', 'http://127.0.0.1:9000/hook'],
    ['IPv4 loopback elsewhere in 127/8', 'http://127.8.9.10/'],
    ['IPv6 loopback', 'http://[::1]:9000/hook'],
    ['10/8', 'http://10.0.0.5/hook'],
    ['172.16/12', 'https://172.20.1.1/'],
    ['192.168/16', 'http://192.168.1.1/'],
    ['cloud metadata 169.254.169.254', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/'],
    ['IPv4-mapped IPv6 metadata', 'http://[::ffff:169.254.169.254]/'],
    ['decimal IP', 'http://2130706433/'],
    ['hex IP', 'http://0x7f.1/'],
    ['unspecified 0.0.0.0', 'http://0.0.0.0:8080/'],
    ['IPv6 unique local', 'http://[fd00::1]/'],
    ['IPv6 link-local', 'http://[fe80::1]/'],
    ['a name resolving to 10/8', 'http://internal.example.com/hook'],
    ['a name with one loopback address among public ones', 'http://mixed.example.com/hook'],
  ])('refuses %s', async (_what, url) => {
    const err = await refusal(policy.checkUrl(url));
    expect(isForbiddenDestination(err)).toBe(true);
    expect((err as { code: string }).code).toBe('BAD_USER_INPUT');
    expect((err as { details: { reason: string } }).details.reason).toBe(WEBHOOK_DESTINATION_FORBIDDEN);
  });

  it('accepts public destinations, and names that do not resolve yet (checked again at delivery)', async () => {
    expect((await policy.checkUrl(`http://${PUBLIC}/hook`)).hostname).toBe(PUBLIC);
    expect((await policy.checkUrl('https://hooks.example.com/retrain')).hostname).toBe('hooks.example.com');
    expect((await policy.checkUrl('https://not-yet.example.com/retrain')).hostname).toBe('not-yet.example.com');
  });

  it('refuses other schemes and credentials in the URL with a plain bad-input error', async () => {
    for (const url of ['ftp://hooks.example.com/', 'file:///etc/passwd', 'http://user:pw@hooks.example.com/', 'not a url']) {
      const err = await refusal(policy.checkUrl(url));
      expect((err as { code: string }).code).toBe('BAD_USER_INPUT');
      expect(isForbiddenDestination(err)).toBe(false);
    }
  });

  it('lets the admin allow-list hosts, addresses and CIDRs, and only those', async () => {
    const allowing = new WebhookTargetPolicy(['127.0.0.1', 'internal.example.com', '192.168.10.0/24', 'fd00::/8'], fixed({ 'internal.example.com': ['10.1.2.3'] }));
    await allowing.checkUrl('http://127.0.0.1:9000/hook');
    await allowing.checkUrl('http://[::ffff:127.0.0.1]/');
    await allowing.checkUrl('http://internal.example.com/hook');
    await allowing.checkUrl('http://192.168.10.7/');
    await allowing.checkUrl('http://[fd00::5]/');
    expect(isForbiddenDestination(await refusal(allowing.checkUrl('http://127.0.0.2/')))).toBe(true);
    expect(isForbiddenDestination(await refusal(allowing.checkUrl('http://192.168.11.7/')))).toBe(true);
    expect(isForbiddenDestination(await refusal(allowing.checkUrl('http://169.254.169.254/')))).toBe(true);
    expect(() => new WebhookTargetPolicy(['10.0.0.0/99'])).toThrow(/CIDR/);
  });
});

describe('webhook delivery against the policy', () => {
  let db: TestDatabase;
  let groupId: string;
  const servers: Server[] = [];
  const hits: string[] = [];

  const listen = (answer: (res: import('node:http').ServerResponse) => void): Promise<number> => {
    const server = createServer((req, res) => {
      hits.push(`${req.socket.localPort}${req.url}`);
      req.resume();
      req.on('end', () => answer(res));
    });
    servers.push(server);
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  };

  async function delivery(url: string): Promise<string> {
    const rule = await db.prisma.qualityRule.create({ data: { groupId, name: `r-${Math.random()}`, metric: 'ACCURACY', threshold: 0.5, webhookUrl: url } });
    const alert = await db.prisma.qualityAlert.create({ data: { ruleId: rule.id, groupId, value: 0.1 } });
    return (await db.prisma.webhookDelivery.create({ data: { alertId: alert.id, event: 'OPENED', url, body: '{}' } })).id;
  }

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    ({ groupId } = await seedGroup(db.prisma, 'ssrf'));
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await db?.drop();
  });

  it('refuses a name that re-resolves to loopback after the rule was saved (DNS rebinding), without retrying', async () => {
    const port = await listen((res) => res.writeHead(200).end('ok'));
    let calls = 0;
    // the first resolution (rule saved) answers a public address, every later one loopback
    const rebinding = async (): Promise<LookupAddress[]> => (calls++ === 0 ? [{ address: PUBLIC, family: 4 }] : [{ address: '127.0.0.1', family: 4 }]);
    const policy = new WebhookTargetPolicy([], rebinding);
    const url = `http://rebind.example.com:${port}/hook`;
    await policy.checkUrl(url);
    const deliverer = new WebhookDeliverer({ prisma: db.prisma, secretFor: async () => 'whsec_x', policy, attempts: 3, minBackoffMs: 10, timeoutMs: 2000 });
    const id = await delivery(url);
    const before = hits.length;
    deliverer.enqueue(id);
    await deliverer.idle();
    deliverer.close();
    const d = await db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });
    expect(d.state).toBe('FAILED');
    expect(d.attempts).toBe(1);
    expect(d.lastError).toContain(WEBHOOK_DESTINATION_FORBIDDEN);
    expect(hits.length).toBe(before);
  });

  it('refuses a stored delivery to a literal private address (a rule saved before the policy existed)', async () => {
    const port = await listen((res) => res.writeHead(200).end('ok'));
    const deliverer = new WebhookDeliverer({ prisma: db.prisma, secretFor: async () => null, policy: new WebhookTargetPolicy([]), attempts: 3, minBackoffMs: 10, timeoutMs: 2000 });
    const before = hits.length;
    const ids = [await delivery(`http://127.0.0.1:${port}/hook`), await delivery(`http://[::ffff:127.0.0.1]:${port}/hook`), await delivery(`http://2130706433:${port}/hook`)];
    for (const id of ids) deliverer.enqueue(id);
    await deliverer.idle();
    deliverer.close();
    for (const id of ids) {
      const d = await db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });
      expect(d.state).toBe('FAILED');
      expect(d.lastError).toContain(WEBHOOK_DESTINATION_FORBIDDEN);
    }
    expect(hits.length).toBe(before);
  });

  it('does not follow a redirect, even from an allowed receiver to another allowed one', async () => {
    const target = await listen((res) => res.writeHead(200).end('ok'));
    const redirecting = await listen((res) => res.writeHead(302, { location: `http://127.0.0.1:${target}/metadata` }).end());
    const deliverer = new WebhookDeliverer({ prisma: db.prisma, secretFor: async () => null, policy: new WebhookTargetPolicy(['127.0.0.1']), attempts: 2, minBackoffMs: 10, timeoutMs: 2000 });
    const id = await delivery(`http://127.0.0.1:${redirecting}/hook`);
    deliverer.enqueue(id);
    await deliverer.idle();
    deliverer.close();
    const d = await db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });
    expect(d.state).toBe('FAILED');
    expect(d.responseStatus).toBe(302);
    expect(d.lastError).toMatch(/302.*not followed/);
    expect(hits.filter((h) => h.startsWith(`${target}/`))).toEqual([]);
    expect(hits.filter((h) => h.startsWith(`${redirecting}/`)).length).toBe(2);
  });

  it('delivers to an allowed loopback receiver', async () => {
    const port = await listen((res) => res.writeHead(204).end());
    const deliverer = new WebhookDeliverer({ prisma: db.prisma, secretFor: async () => 'whsec_y', policy: new WebhookTargetPolicy(['127.0.0.1']), attempts: 2, minBackoffMs: 10, timeoutMs: 2000 });
    const id = await delivery(`http://127.0.0.1:${port}/ok`);
    deliverer.enqueue(id);
    await deliverer.idle();
    deliverer.close();
    expect((await db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } })).state).toBe('DELIVERED');
  });
});
