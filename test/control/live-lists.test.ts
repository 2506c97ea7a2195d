// The audit log and the resource-group list are live (issue 16, "no offline"): auditLogged
// tells admins of each mutation once it has answered (its audit entry is readable by then),
// resourceGroupsChanged tells any signed-in user of changes to resource groups and their nodes
// and nothing else; viewers may not follow the audit log.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { topics } from '../../platform/pubsub/port.ts';
import type { LocalPubSub } from '../../platform/pubsub/memory.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

describe('live audit log and resource groups', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
  });
  afterAll(async () => {
    await cp?.close();
  });

  const listening = (n: number) => vi.waitFor(() => expect((cp.pubsub as LocalPubSub).subscriberCount(topics.mutations)).toBe(n), { timeout: 10_000 });

  it('pushes each mutation to the audit log, after its entry is written', async () => {
    const client = cp.ws();
    const seen: { actions: string[]; entries: string[] }[] = [];
    const got = new Promise<void>((resolve, reject) => {
      client.subscribe<{ auditLogged: { at: string; actions: string[] } }>({ query: 'subscription { auditLogged { at actions } }' }, {
        next: (msg) => {
          if (!msg.data) return reject(new Error(JSON.stringify(msg.errors)));
          // read the log the moment the notice arrives: the entry must already be there
          void cp.gql<{ auditLogs: { edges: { node: { action: string } }[] } }>('query { auditLogs(first: 5) { edges { node { action } } } }').then((r) => {
            seen.push({ actions: msg.data!.auditLogged.actions, entries: r.data!.auditLogs.edges.map((e) => e.node.action) });
            resolve();
          }, reject);
        },
        error: reject,
        complete: () => undefined,
      });
    });
    await listening(1);
    expect((await cp.gql('mutation { createServiceGroup(input: { name: "audited" }) { id } }')).errors).toBeUndefined();
    await got;
    expect(seen[0]!.actions).toEqual(['createServiceGroup']);
    expect(seen[0]!.entries[0]).toBe('createServiceGroup');
    await client.dispose();
    await listening(0);
  });

  it('pushes resource-group changes, not unrelated mutations', async () => {
    const client = cp.ws();
    const notices: string[] = [];
    client.subscribe<{ resourceGroupsChanged: string }>({ query: 'subscription { resourceGroupsChanged }' }, {
      next: (msg) => { if (msg.data) notices.push(msg.data.resourceGroupsChanged); },
      error: () => undefined,
      complete: () => undefined,
    });
    await listening(1);
    expect((await cp.gql('mutation { createUser(username: "uma", password: "correct horse battery", role: VIEWER) { id } }')).errors).toBeUndefined();
    const created = await cp.gql<{ createResourceGroup: { id: string } }>('mutation { createResourceGroup(name: "pool-live") { id } }');
    expect(created.errors).toBeUndefined();
    await vi.waitFor(() => expect(notices).toHaveLength(1), { timeout: 5000 });
    expect(Number.isNaN(Date.parse(notices[0]!))).toBe(false);
    await client.dispose();
  });

  it('keeps the audit log from viewers', async () => {
    expect((await cp.gql('mutation { createUser(username: "vic", password: "correct horse battery", role: VIEWER) { id } }')).errors).toBeUndefined();
    const login = await cp.gql<{ login: { token: string } }>('mutation { login(username: "vic", password: "correct horse battery") { token } }', {}, null);
    expect(login.errors).toBeUndefined();
    const client = cp.ws(login.data!.login.token);
    const refused = await new Promise<string | undefined>((resolve) => {
      client.subscribe({ query: 'subscription { auditLogged { at } }' }, {
        next: (msg) => resolve(msg.errors?.[0]?.extensions?.code as string | undefined),
        error: (e) => resolve(Array.isArray(e) ? (e as { extensions?: { code?: string } }[])[0]?.extensions?.code : String(e)),
        complete: () => resolve(undefined),
      });
    });
    expect(refused).toBe('FORBIDDEN');
    await client.dispose();
  });
});
