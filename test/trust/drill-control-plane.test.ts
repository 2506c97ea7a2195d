// Drill: the control plane of `npm start` is stopped under a bounded loopback load — SIGTERM,
// then SIGKILL — and started again. Every request is counted as sent, answered (200) or failed;
// every answered request must have exactly one inference record once the control plane is
// back (records lost = 0), and the state (80/20) comes back. SIGTERM is a clean stop of the
// whole product (Ctrl-C: the edge and the replicas stop too). SIGKILL is a crash of the
// control plane alone: the edge is a process of its own (control/edge-supervisor.ts) and keeps
// serving while the control plane is down and while it starts again (it adopts the edge), so
// the load runs through the crash and the restart and next to nothing fails. Counts are
// printed for the note.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_COLUMNS, DEMO_ROW, recordedIds } from '../fixtures/demo-traffic.ts';
import { startSluice, type SluiceProcess } from '../fixtures/sluice-process.ts';

describe('drill: control plane stopped under traffic', () => {
  let dataDir: string;
  let sluice: SluiceProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-drill-'));
    sluice = await startSluice({ dataDir });
  }, 180_000);

  afterAll(async () => {
    await sluice?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("kill -9 of a version's only replica: its share fails only until the control plane sees it gone, then v1 takes it; v2 comes back", async () => {
    const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
    const prefix = 'drill-replica-';
    const results: { at: number; status: number; what: string }[] = [];
    const answeredIds = new Set<string>();
    let stop = false;
    const call = (id: string, pin?: string) =>
      fetch(`${sluice.edgeUrl}/services/wine-quality/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: key, ...(pin ? { 'x-sluice-version': pin } : {}) },
        body: JSON.stringify({ client_request_id: id, dataframe_split: { columns: DEMO_COLUMNS, data: [DEMO_ROW] } }),
      });
    const loop = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const id = `${prefix}${worker}-${i}`;
        const at = Date.now();
        try {
          const res = await call(id);
          const body = (await res.json()) as { version?: string; error_code?: string };
          if (res.status === 200) answeredIds.add(id);
          results.push({ at, status: res.status, what: res.status === 200 ? String(body.version) : String(body.error_code) });
        } catch (error) {
          results.push({ at, status: 0, what: String((error as { cause?: { code?: string } }).cause?.code ?? error) });
        }
      }
    };
    const workers = [0, 1, 2].map(loop); // bounded: three requests in flight at most
    await new Promise((r) => setTimeout(r, 1500));
    // v2's only replica, as the local orchestrator recorded it
    const stateDir = join(dataDir, 'runtime', 'wine-quality', 'v2');
    const [instance] = readdirSync(stateDir);
    const { pid } = JSON.parse(readFileSync(join(stateDir, instance!, 'instance-state.json'), 'utf8')) as { pid: number };
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 4000));
    stop = true;
    await Promise.all(workers);
    const failed = results.filter((r) => r.status !== 200);
    const window = failed.length > 0 ? Math.max(...failed.map((r) => r.at)) - killedAt : 0;
    const after = results.filter((r) => r.at >= killedAt);
    const byVersion = (list: typeof results) => list.reduce<Record<string, number>>((m, r) => ({ ...m, [`${r.status} ${r.what}`]: (m[`${r.status} ${r.what}`] ?? 0) + 1 }), {});
    console.log(`[drill sole replica] sent ${results.length}, answered ${results.length - failed.length}, failed ${failed.length} (last one started ${window} ms after the kill); after the kill ${JSON.stringify(byVersion(after))}`);
    // what fails is v2's share while it is still listed: a clear code, and only right after the
    // kill (tens of ms on a quiet machine, a few hundred with the whole suite running beside it;
    // the bound leaves room for a loaded CI machine)
    for (const f of failed) expect(['502 TEMPORARILY_UNAVAILABLE', '503 TEMPORARILY_UNAVAILABLE']).toContain(`${f.status} ${f.what}`);
    expect(failed.every((f) => f.at - killedAt < 2000)).toBe(true);
    // from then on v1 answers (v2's replacement comes up in its own time)
    expect(after.filter((r) => r.at - killedAt >= 2000).every((r) => r.status === 200)).toBe(true);
    expect(after.some((r) => r.what === 'v1')).toBe(true);
    // v2 comes back by itself and answers again
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await call(`${prefix}pinned`, 'v2').catch(() => null);
      if (res?.status === 200) break;
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
    }
    // no answered request lost its record
    let recorded: string[] = [];
    const recordDeadline = Date.now() + 30_000;
    for (;;) {
      recorded = recordedIds(dataDir, prefix);
      if ([...answeredIds].every((id) => recorded.includes(id)) || Date.now() > recordDeadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect([...answeredIds].filter((id) => !recorded.includes(id))).toEqual([]);
  }, 120_000);

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal}: answered requests all recorded, state back after restart`, async () => {
      const key = readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
      const prefix = `drill-${signal}-`;
      const counts = { sent: 0, answered: 0, failed: 0, answeredWhileDown: 0 };
      const failedBy = new Map<string, number>();
      const failedAt: number[] = [];
      let down = false;
      const answeredIds = new Set<string>();
      let stop = false;
      const loop = async (worker: number) => {
        for (let i = 0; !stop; i++) {
          const id = `${prefix}${worker}-${i}`;
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
              if (down) counts.answeredWhileDown++;
            } else {
              counts.failed++;
              const code = /"error_code":"([A-Z_]+)"/.exec(text)?.[1] ?? '';
              const why = `${res.status} ${code}${down ? ' (down)' : ''}`;
              failedBy.set(why, (failedBy.get(why) ?? 0) + 1);
              failedAt.push(Date.now());
            }
          } catch (error) {
            counts.failed++;
            const why = `${(error as { cause?: { code?: string } }).cause?.code ?? 'error'}${down ? ' (down)' : ''}`;
            failedBy.set(why, (failedBy.get(why) ?? 0) + 1);
            failedAt.push(Date.now());
            await new Promise((r) => setTimeout(r, 20)); // down: do not spin
          }
        }
      };
      const workers = [0, 1, 2].map(loop); // bounded: three requests in flight at most
      await new Promise((r) => setTimeout(r, 1500));
      const edgePid = Number(readFileSync(join(dataDir, 'edge.pid'), 'utf8'));
      const stoppedAt = Date.now();
      await sluice.stop(signal);
      down = true;
      if (signal === 'SIGTERM') {
        stop = true;
        await Promise.all(workers);
        // a clean stop takes the edge with it
        expect(() => process.kill(edgePid, 0)).toThrow();
      }
      sluice = await startSluice({ dataDir, ports: sluice.ports });
      const backAt = Date.now() - stoppedAt;
      down = false;
      if (signal === 'SIGKILL') {
        await new Promise((r) => setTimeout(r, 1000)); // and a second after the restart
        stop = true;
        await Promise.all(workers);
        // the surviving edge was adopted, not replaced
        expect(Number(readFileSync(join(dataDir, 'edge.pid'), 'utf8'))).toBe(edgePid);
      }
      // the restarted process delivers what the spool held (a SIGKILL leaves it on disk)
      let recorded: string[] = [];
      const deadline = Date.now() + 30_000;
      for (;;) {
        recorded = recordedIds(dataDir, prefix);
        if (recorded.length >= answeredIds.size || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const lost = [...answeredIds].filter((id) => !recorded.includes(id)).length;
      const duplicated = recorded.length - new Set(recorded).size;
      // when the failures happened, in ms after the stop (the restarted one was ready at backAt)
      const when = failedAt.length > 0 ? `${failedAt[0]! - stoppedAt}..${failedAt.at(-1)! - stoppedAt} ms after the stop, back ${backAt} ms after it` : `back ${backAt} ms after the stop`;
      const summary = `[drill ${signal}] sent ${counts.sent}, answered ${counts.answered} (${counts.answeredWhileDown} while the control plane was down or starting), failed ${counts.failed} ${JSON.stringify(Object.fromEntries(failedBy))} (${when}), records ${recorded.length}, lost ${lost}, duplicated ${duplicated}`;
      console.log(summary);
      expect(counts.answered).toBeGreaterThan(0);
      if (signal === 'SIGKILL') {
        // the data plane survives the control plane: it served all along
        expect(counts.answeredWhileDown, summary).toBeGreaterThan(0);
        expect(counts.failed, summary).toBeLessThanOrEqual(Math.max(2, Math.floor(counts.sent * 0.01)));
      }
      expect(lost, summary).toBe(0);
      expect(duplicated, summary).toBe(0);
      const state = await sluice.graphql<{ serviceGroup: { versions: { name: string; status: string; trafficPercent: number }[] } }>(
        `{ serviceGroup(name: "wine-quality") { versions { name status trafficPercent } } }`);
      expect(state.data!.serviceGroup.versions.map((v) => [v.name, v.status, v.trafficPercent])).toEqual([['v1', 'RUNNING', 80], ['v2', 'RUNNING', 20]]);
    }, 240_000);
  }
});
