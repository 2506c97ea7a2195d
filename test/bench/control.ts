// Benchmarks of the control plane (issue 3):
//  1. the group-list GraphQL query with 1,000 groups × 2 versions, on SQLite and on
//     PostgreSQL, against the same data read by one hand-written Prisma query in the same
//     run (the baseline: what GraphQL + Pothos + auth add);
//  2. fan-out of one change to 1,000 graphql-ws subscribers of serviceGroupChanged:
//     time from the mutation's reply until every subscriber has received the push.
import { performance } from 'node:perf_hooks';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { report, round, summarize, type BenchRow } from './_report.ts';

const GROUPS = Number(process.env.BENCH_GROUPS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);

// The list is paged (serviceGroups returns at most GROUP_PAGE_MAX; nesting versions under a
// page is costed at its size, list-bounds.ts): the whole list is read page by page through the
// connection, in pages the cost budget admits.
const PAGE = 40;
const LIST = `query($after: String) { serviceGroupsConnection(first: ${PAGE}, after: $after) { pageInfo { hasNextPage endCursor } edges { node {
  id name type status description creator createdAt runningVersions totalVersions callAddress
  versions { id name status trafficPercent replicas qpsLimit authEnabled creator createdAt updatedAt } } } } }`;
interface ListPage { serviceGroupsConnection: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: unknown[] } }

async function seed(cp: TestControlPlane): Promise<void> {
  const prisma = cp.plane.prisma as PrismaClient;
  const project = await prisma.project.findUniqueOrThrow({ where: { name: 'default' } });
  const batch = 100;
  for (let start = 0; start < GROUPS; start += batch) {
    await prisma.$transaction(async (tx) => {
      for (let i = start; i < Math.min(GROUPS, start + batch); i++) {
        await tx.serviceGroup.create({
          data: {
            name: `bench-${i}`, projectId: project.id, createdByName: 'admin',
            versions: { create: ['v1', 'v2'].map((name) => ({ name, modelSource: 'REGISTRY', modelName: 'wine-classifier', modelVersion: '1', createdByName: 'admin' })) },
          },
        });
      }
    });
  }
}

async function timeIt(fn: () => Promise<unknown>, rounds: number): Promise<number[]> {
  await fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

async function listBench(provider: 'sqlite' | 'postgresql', rows: BenchRow[]): Promise<void> {
  const cp = await startTestControlPlane({ provider });
  try {
    await seed(cp);
    const prisma = cp.plane.prisma as PrismaClient;
    const baseline = await timeIt(
      () => prisma.serviceGroup.findMany({ include: { versions: { orderBy: { createdAt: 'asc' } } }, orderBy: { createdAt: 'asc' } }),
      ROUNDS,
    );
    const before = cp.db.queryCount();
    const graphql = await timeIt(async () => {
      let after: string | null = null;
      let count = 0;
      for (;;) {
        const r: { data?: ListPage | null; errors?: unknown } = await cp.gql<ListPage>(LIST, { after });
        if (r.errors || !r.data) throw new Error(`bad answer: ${JSON.stringify(r.errors)}`);
        count += r.data.serviceGroupsConnection.edges.length;
        if (!r.data.serviceGroupsConnection.pageInfo.hasNextPage) break;
        after = r.data.serviceGroupsConnection.pageInfo.endCursor;
      }
      if (count < GROUPS) throw new Error(`bad answer: ${count} groups`);
    }, ROUNDS);
    const statements = (cp.db.queryCount() - before) / (ROUNDS + 1);
    const b = summarize(baseline);
    const g = summarize(graphql);
    rows.push({
      bench: `group list ${GROUPS}×2 in pages of ${PAGE} (${provider})`,
      'baseline prisma p50 ms': round(b.p50), 'graphql p50 ms': round(g.p50), 'graphql p99 ms': round(g.p99),
      'ratio p50': round(g.p50 / b.p50), 'SQL statements/query': round(statements, 1),
    });
  } finally {
    await cp.close();
  }
}

async function fanoutBench(rows: BenchRow[]): Promise<void> {
  const cp = await startTestControlPlane({ provider: 'sqlite' });
  try {
    const created = await cp.gql<{ createServiceGroup: { id: string } }>(`mutation { createServiceGroup(input: { name: "fanout" }) { id } }`);
    const id = created.data!.createServiceGroup.id;
    const client = cp.ws();
    let pending = 0;
    let allReceived: (() => void) | null = null;
    const subscriptions: (() => void)[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      subscriptions.push(client.subscribe(
        { query: `subscription($id: ID!) { serviceGroupChanged(id: $id) { description } }`, variables: { id } },
        { next: () => { if (--pending === 0) allReceived?.(); }, error: (e) => { throw e; }, complete: () => undefined },
      ));
    }
    ready.push(new Promise((r) => setTimeout(r, 1500))); // subscriptions registered
    await Promise.all(ready);
    const samples: number[] = [];
    for (let round_ = 0; round_ < 10; round_++) {
      pending = SUBSCRIBERS;
      const done = new Promise<void>((r) => { allReceived = r; });
      const t0 = performance.now();
      await cp.gql(`mutation($id: ID!, $d: String!) { updateServiceGroup(id: $id, input: { description: $d }) { id } }`, { id, d: `round ${round_}` });
      await done;
      samples.push(performance.now() - t0);
    }
    for (const unsubscribe of subscriptions) unsubscribe();
    const s = summarize(samples);
    rows.push({ bench: `subscription fan-out to ${SUBSCRIBERS} (graphql-ws, one socket)`, 'graphql p50 ms': round(s.p50), 'graphql p99 ms': round(s.p99) });
  } finally {
    await cp.close();
  }
}

const rows: BenchRow[] = [];
await listBench('sqlite', rows);
await listBench('postgresql', rows);
await fanoutBench(rows);
report('control', rows, { groups: GROUPS, rounds: ROUNDS, subscribers: SUBSCRIBERS });
process.exit(0);
