// A replica the proxies still route to is gone (exited, unready, removed): until they hear
// it, its version's share of the split fails (a retry never crosses versions), so the
// lifecycle marks that data-plane change urgent and the xDS publisher rebuilds without its
// quiet time. A replica becoming routable is not urgent: nothing fails meanwhile.
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../control/domain/lifecycle.ts';
import type { ChangeNotice } from '../../control/domain/changes.ts';
import type { DomainDeps } from '../../control/domain/deps.ts';
import { createMemoryPubSub } from '../../platform/pubsub/memory.ts';
import { topics } from '../../platform/pubsub/port.ts';

type Row = { id: string; name: string; state: string; host: string | null; port: number | null };

function setup() {
  const rows = new Map<string, Row>();
  const prisma = {
    serviceVersion: { findUnique: async () => ({ id: 'v-1', groupId: 'g-1', status: 'RUNNING' }) },
    instance: {
      findUnique: async ({ where }: { where: { name: string } }) => rows.get(where.name) ?? null,
      upsert: async ({ where, create, update }: { where: { name: string }; create: Row; update: Partial<Row> }) => {
        const row = { ...(rows.get(where.name) ?? { ...create, id: `i-${rows.size}` }), ...update } as Row;
        rows.set(where.name, row);
        return row;
      },
      delete: async ({ where }: { where: { id: string } }) => {
        for (const [name, r] of rows) if (r.id === where.id) rows.delete(name);
      },
    },
  };
  const pubsub = createMemoryPubSub();
  const notices: ChangeNotice[] = [];
  const sub = pubsub.subscribe<ChangeNotice>(topics.dataPlane);
  void (async () => {
    for await (const n of sub) notices.push(n);
  })();
  const lifecycle = new Lifecycle({ prisma, pubsub, now: () => new Date() } as unknown as DomainDeps);
  const report = (state: string, port = 7001) =>
    lifecycle.apply({ type: 'instance', versionId: 'v-1', instance: { name: 'wine-v1-0', state, restartCount: 0, host: '127.0.0.1', port } as never });
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return { lifecycle, report, notices, settle };
}

describe('a replica gone is an urgent data-plane change', () => {
  it('urgent when a routable replica stops being one; not when one becomes routable', async () => {
    const { report, notices, settle } = setup();
    await report('STARTING');
    await report('RUNNING');
    await settle();
    expect(notices.map((n) => n.urgent ?? false)).toEqual([false]);
    await report('FAILED');
    await settle();
    expect(notices.map((n) => n.urgent ?? false)).toEqual([false, true]);
    // back, then restarted on another port: the old endpoint is gone at once
    await report('RUNNING');
    await report('RUNNING', 7002);
    await settle();
    expect(notices.map((n) => n.urgent ?? false)).toEqual([false, true, false, true]);
  });

  it('urgent when a running replica is removed', async () => {
    const { lifecycle, report, notices, settle } = setup();
    await report('RUNNING');
    await lifecycle.apply({ type: 'instanceRemoved', versionId: 'v-1', name: 'wine-v1-0' });
    await settle();
    expect(notices.map((n) => n.urgent ?? false)).toEqual([false, true]);
  });
});
