// Drill: PostgreSQL stopped for 30 s under traffic. `npm start` runs against a private
// PostgreSQL of this test (never the shared one), the load runs through the edge all along,
// and the server is frozen with SIGSTOP — the worst kind of outage: connections are accepted
// by the kernel and then nothing answers, so only the control plane's own timeouts stop a
// call from hanging. Expected: predictions keep being answered (the edge holds its last
// configuration), GraphQL answers DATABASE_UNAVAILABLE quickly (never a hang, never a crash),
// and once PostgreSQL is back the control plane recovers by itself: GraphQL works and a
// traffic change reaches the edge again, without a restart. Requests are counted as sent,
// answered and failed; every answered request has its inference record (lost = 0). Counts
// are printed for the note.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_COLUMNS, DEMO_ROW, recordedIds } from '../fixtures/demo-traffic.ts';
import { startSluice, type SluiceProcess } from '../fixtures/sluice-process.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../setup/services.ts';

const DOWN_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface GroupState { serviceGroup: { id: string; versions: { id: string; name: string; status: string; trafficPercent: number }[] } }
const GROUP = `{ serviceGroup(name: "wine-quality") { id versions { id name status trafficPercent } } }`;
const SET_TRAFFIC = `mutation($g: ID!, $a: [TrafficAllocationInput!]!) { setTrafficAllocation(groupId: $g, allocations: $a) { id } }`;

/** The pids of `pid`'s children (PostgreSQL's backends and auxiliary processes under the postmaster). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // fields after the command (which may hold spaces) — state, then ppid
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Freezes (SIGSTOP) or thaws (SIGCONT) the whole server: the postmaster and every backend.
 * The postmaster alone is not enough — each open connection has its own backend process that
 * would go on answering.
 */
function signalServer(pg: PrivatePostgres, signal: 'SIGSTOP' | 'SIGCONT'): number {
  const postmaster = pg.proc.pid!;
  if (signal === 'SIGSTOP') process.kill(postmaster, signal); // first: no new backend is forked meanwhile
  const children = childrenOf(postmaster);
  for (const pid of children) {
    try { process.kill(pid, signal); } catch { /* exited meanwhile */ }
  }
  if (signal === 'SIGCONT') process.kill(postmaster, signal);
  return children.length + 1;
}

/** One GraphQL call as the admin that gives up after `ms` (a hang shows as code HANG, not as a stuck test). */
async function graphql<T>(sluice: SluiceProcess, query: string, variables?: Record<string, unknown>, ms = 20_000): Promise<{ data?: T; errors?: { extensions?: { code?: string } }[]; status: number }> {
  try {
    const res = await fetch(`${sluice.controlUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sluice.adminToken()}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(ms),
    });
    return { ...((await res.json()) as object), status: res.status };
  } catch (err) {
    return { errors: [{ extensions: { code: (err as Error).name === 'TimeoutError' ? 'HANG' : String(err) } }], status: 0 };
  }
}

describe('drill: PostgreSQL stopped for 30 s under traffic', () => {
  let root: string;
  let dataDir: string;
  let pg: PrivatePostgres;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sluice-drill-pg-'));
    chmodSync(root, 0o755); // the server may run as the `postgres` user
    pg = await startPrivatePostgres(root);
    dataDir = join(root, 'data');
    sluice = await startSluice({ dataDir, env: { DATABASE_URL: pg.url } });
  }, 180_000);

  afterAll(async () => {
    if (pg?.proc.exitCode === null) signalServer(pg, 'SIGCONT'); // a failed run may leave it frozen
    await sluice?.stop('SIGTERM');
    await pg?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('the edge keeps serving, GraphQL answers DATABASE_UNAVAILABLE quickly, and everything recovers by itself', async () => {
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    const before = await sluice.graphql<GroupState>(GROUP);
    expect(before.errors).toBeUndefined();
    const group = before.data!.serviceGroup;
    expect(group.versions.map((v) => [v.name, v.status, v.trafficPercent])).toEqual([['v1', 'RUNNING', 80], ['v2', 'RUNNING', 20]]);

    type Phase = 'up' | 'down' | 'back';
    let phase: Phase = 'up';
    const prefix = 'drill-pg-';
    const counts = { sent: 0, answered: 0, failed: 0 };
    const byPhase: Record<Phase, Record<string, number>> = { up: {}, down: {}, back: {} };
    const failures: Record<string, number> = {};
    const answeredIds = new Set<string>();
    let stop = false;
    const loop = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const id = `${prefix}${worker}-${i}`;
        const at = phase;
        counts.sent++;
        try {
          const res = await fetch(`${sluice.edgeUrl}/services/wine-quality/predict`, {
            method: 'POST', headers: { 'content-type': 'application/json', authorization: key },
            body: JSON.stringify({ client_request_id: id, dataframe_split: { columns: DEMO_COLUMNS, data: [DEMO_ROW] } }),
          });
          const text = await res.text();
          if (res.status === 200) {
            counts.answered++;
            answeredIds.add(id);
            const v = res.headers.get('x-sluice-version') ?? '?';
            byPhase[at][v] = (byPhase[at][v] ?? 0) + 1;
          } else {
            counts.failed++;
            const k = `${res.status} ${text.slice(0, 80)}`;
            failures[k] = (failures[k] ?? 0) + 1;
          }
        } catch (err) {
          counts.failed++;
          failures[String(err)] = (failures[String(err)] ?? 0) + 1;
          await sleep(20);
        }
      }
    };
    const workers = [0, 1, 2].map(loop); // bounded: three requests in flight at most
    await sleep(1500);

    // PostgreSQL freezes: GraphQL calls made meanwhile answer a stable code, each quickly
    const frozen = signalServer(pg, 'SIGSTOP');
    phase = 'down';
    const frozenAt = Date.now();
    const apiDown: { ms: number; code: string }[] = [];
    while (Date.now() - frozenAt < DOWN_MS - 12_000) {
      const t = Date.now();
      const r = await graphql<GroupState>(sluice, GROUP);
      apiDown.push({ ms: Date.now() - t, code: r.errors?.[0]?.extensions?.code ?? (r.data ? 'OK' : '?') });
      await sleep(1000);
    }
    // a mutation meanwhile fails the same way and changes nothing
    const v1 = group.versions.find((v) => v.name === 'v1')!;
    const v2 = group.versions.find((v) => v.name === 'v2')!;
    const t = Date.now();
    const failedSet = await graphql(sluice, SET_TRAFFIC, { g: group.id, a: [{ versionId: v1.id, percent: 0 }, { versionId: v2.id, percent: 100 }] });
    apiDown.push({ ms: Date.now() - t, code: failedSet.errors?.[0]?.extensions?.code ?? 'OK' });
    const healthDown = await fetch(`${sluice.controlUrl}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status).catch(() => 0);
    await sleep(Math.max(0, DOWN_MS - (Date.now() - frozenAt)));

    signalServer(pg, 'SIGCONT');
    phase = 'back';
    if (sluice.child.exitCode !== null || sluice.child.signalCode !== null) console.log(`npm start exited (${sluice.child.exitCode ?? sluice.child.signalCode}):\n${sluice.output().slice(-6000)}`);
    console.log(`[drill postgres] froze ${frozen} PostgreSQL processes; GraphQL while down ${JSON.stringify(apiDown)}, /healthz ${healthDown}`);
    expect(apiDown.every((a) => a.code === 'DATABASE_UNAVAILABLE')).toBe(true);
    const backAt = Date.now();
    // recovers by itself: GraphQL answers again, without a restart
    let recovered: GroupState | undefined;
    while (!recovered && Date.now() - backAt < 30_000) {
      const r = await graphql<GroupState>(sluice, GROUP);
      if (r.data?.serviceGroup) recovered = r.data;
      else await sleep(250);
    }
    const recoveredMs = Date.now() - backAt;
    expect(recovered?.serviceGroup.versions.map((v) => [v.name, v.status, v.trafficPercent])).toEqual([['v1', 'RUNNING', 80], ['v2', 'RUNNING', 20]]);
    // and changes push again: all traffic to v2 reaches the edge
    const set = await sluice.graphql(SET_TRAFFIC, { g: group.id, a: [{ versionId: v1.id, percent: 0 }, { versionId: v2.id, percent: 100 }] });
    expect(set.errors).toBeUndefined();
    const pushedFrom = Date.now();
    let onlyV2 = false;
    while (!onlyV2 && Date.now() - pushedFrom < 15_000) {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${sluice.edgeUrl}/services/wine-quality/predict`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: key },
          body: JSON.stringify({ dataframe_split: { columns: DEMO_COLUMNS, data: [DEMO_ROW] } }),
        });
        await res.text();
        seen.add(res.headers.get('x-sluice-version') ?? '?');
      }
      onlyV2 = seen.size === 1 && seen.has('v2');
    }
    stop = true;
    await Promise.all(workers);

    let recorded: string[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      recorded = recordedIds(dataDir, prefix);
      if (recorded.length >= answeredIds.size || Date.now() > deadline) break;
      await sleep(250);
    }
    const lost = [...answeredIds].filter((id) => !recorded.includes(id)).length;
    const duplicated = recorded.length - new Set(recorded).size;
    const slowest = Math.max(...apiDown.map((a) => a.ms));
    console.log(`[drill postgres] sent ${counts.sent}, answered ${counts.answered}, failed ${counts.failed}, records ${recorded.length}, lost ${lost}, duplicated ${duplicated}; answered by phase ${JSON.stringify(byPhase)}; failures ${JSON.stringify(failures)}; GraphQL while down ${JSON.stringify(apiDown)} (slowest ${slowest} ms), /healthz ${healthDown}; GraphQL back ${recoveredMs} ms after SIGCONT; traffic change reached the edge: ${onlyV2}`);

    // background tasks whose failure nobody handled (platform/process.ts logs them instead of crashing)
    const unhandled = sluice.output().split('\n').filter((l) => l.includes('unhandled rejection of a background task'));
    console.log(`[drill postgres] unhandled background rejections: ${unhandled.length}${unhandled.length ? `\n${unhandled.slice(0, 3).join('\n')}` : ''}`);
    expect(sluice.child.exitCode).toBeNull(); // no crash
    expect(counts.failed).toBe(0);
    expect(counts.sent).toBe(counts.answered);
    for (const p of ['up', 'down', 'back'] as const) expect(Object.values(byPhase[p]).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(apiDown.length).toBeGreaterThanOrEqual(4); // calls of up to ~6 s each, a second apart, over ~18 s, and the mutation
    expect(apiDown.every((a) => a.code === 'DATABASE_UNAVAILABLE')).toBe(true);
    expect(slowest).toBeLessThan(12_000); // a bounded wait, never a hang
    expect(onlyV2).toBe(true);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
  }, 150_000);
});
