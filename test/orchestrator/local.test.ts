// The local orchestrator against real child processes: replicas that answer, crash and get
// restarted, crash loops that stop, capacity that refuses, a control-plane crash that the
// next one cleans up, and the terminal.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalOrchestrator } from '../../control/orchestrator/local/orchestrator.ts';
import { listStateFiles } from '../../control/orchestrator/local/state-files.ts';
import { alive, FAKE_RUNTIME, fastTiming, imageDeployment, invoke, modelDeployment, Reports, waitFor } from './helpers.ts';

let dataDir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-orch-'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dataDir, { recursive: true, force: true });
});

function orchestrator(extra: Partial<Parameters<typeof createLocalOrchestrator>[0]> = {}) {
  const o = createLocalOrchestrator({
    dataDir,
    runtimeCommand: [process.execPath, FAKE_RUNTIME],
    capacity: { cpu: 4, memoryGiB: 8, gpus: [] },
    timing: fastTiming,
    statsPeriodMs: 200,
    ...extra,
  });
  const reports = new Reports(o);
  cleanups.push(() => o.close());
  return { o, reports };
}

function runningPorts(reports: Reports, versionId: string) {
  return [...reports.instances(versionId).values()].filter((i) => i.state === 'RUNNING').map((i) => ({ name: i.name, port: i.port as number, pid: i.pid as number }));
}

describe('local orchestrator', () => {
  it('runs two replicas that answer /invocations, with logs, events and usage', async () => {
    process.env.SLUICE_SECRET_TEST = 'do-not-leak';
    cleanups.push(() => void delete process.env.SLUICE_SECRET_TEST);
    const { o, reports } = orchestrator();
    const d = modelDeployment({ replicas: 2 });
    await o.deploy(d);
    await reports.until(reports.versionStatus('ver-1', 'RUNNING'), 'version RUNNING');

    const running = runningPorts(reports, 'ver-1');
    expect(running.map((r) => r.name).sort()).toEqual(['wine-v1-0', 'wine-v1-1']);
    for (const r of running) {
      const answer = await invoke(r.port, [[1, 2, 3], [10, 20, 30]]);
      expect(answer).toEqual({ status: 200, body: { predictions: [6, 60] } });
      const env = (await (await fetch(`http://127.0.0.1:${r.port}/env`)).json()) as Record<string, unknown>;
      const workDir = join(dataDir, 'runtime', 'wine', 'v1', r.name);
      expect(env.cwd).toBe(workDir);
      expect(env.model).toBe('wine-classifier');
      expect(env.leaked).toBeNull();
      expect(JSON.parse(readFileSync(env.signature as string, 'utf8'))).toEqual(d.source.kind === 'model' ? d.source.signature : null);
    }
    expect(reports.events('Scheduled').map((e) => e.resourceName).sort()).toEqual(['wine-v1-0', 'wine-v1-1']);
    expect(reports.events('Started')).toHaveLength(2);

    await waitFor(async () => (await o.logs('ver-1')).some((l) => l.line.includes('invocations rows=2')), 'logs');
    const logs = await o.logs('ver-1', { instance: 'wine-v1-0' });
    expect(logs.every((l) => l.instance === 'wine-v1-0')).toBe(true);
    expect(logs.some((l) => l.stream === 'stdout' && l.line.startsWith('fake runtime listening'))).toBe(true);
    expect(logs.some((l) => l.stream === 'stderr' && l.line === 'fake runtime stderr hello')).toBe(true);
    expect(await o.logs('ver-1', { limit: 1 })).toHaveLength(1);
    // kept on disk in the version's log segments
    const segment = readFileSync(join(dataDir, 'logs', 'ver-1', '0000000001.log'), 'utf8');
    expect(segment).toMatch(/^\d{13}\twine-v1-0\to\tfake runtime listening/m);

    await reports.until(
      () => [...reports.instances('ver-1').values()].every((i) => (i.memoryBytes ?? 0) > 1_000_000 && i.cpuMillicores !== undefined),
      'cpu and memory figures',
    );
  });

  it('restarts a killed replica with back-off and counts the restart', async () => {
    const { o, reports } = orchestrator();
    await o.deploy(modelDeployment({ replicas: 2 }));
    await reports.until(reports.versionStatus('ver-1', 'RUNNING'), 'version RUNNING');
    const victim = runningPorts(reports, 'ver-1').find((r) => r.name === 'wine-v1-1');
    if (!victim) throw new Error('no replica 1');
    process.kill(victim.pid, 'SIGKILL');

    await reports.until(
      () => {
        const i = reports.instances('ver-1').get('wine-v1-1');
        return i?.state === 'RUNNING' && i.restartCount === 1 && i.pid !== victim.pid;
      },
      'replica restarted',
    );
    const backoff = reports.events('BackOff', 'wine-v1-1');
    expect(backoff).toHaveLength(1);
    expect(backoff[0]?.level).toBe('WARNING');
    expect(backoff[0]?.message).toContain('killed by SIGKILL');
    expect(reports.events('Started', 'wine-v1-1')).toHaveLength(2);
    const restarted = reports.instances('ver-1').get('wine-v1-1');
    expect((await invoke(restarted?.port as number, [[1, 1]])).body.predictions).toEqual([2]);
    expect(reports.instances('ver-1').get('wine-v1-0')?.restartCount).toBe(0);
    expect(alive(victim.pid)).toBe(false);
  });

  it('restarts an instance on request', async () => {
    const { o, reports } = orchestrator();
    await o.deploy(modelDeployment());
    await reports.until(reports.versionStatus('ver-1', 'RUNNING'), 'version RUNNING');
    const before = reports.instances('ver-1').get('wine-v1-0');
    await o.restartInstance('ver-1', 'wine-v1-0');
    await reports.until(() => {
      const i = reports.instances('ver-1').get('wine-v1-0');
      return i?.state === 'RUNNING' && i.restartCount === 1;
    }, 'restarted on request');
    expect(reports.instances('ver-1').get('wine-v1-0')?.pid).not.toBe(before?.pid);
    expect(alive(before?.pid as number)).toBe(false);
    expect(reports.events('Killing', 'wine-v1-0')).toHaveLength(1);
    await expect(o.restartInstance('ver-1', 'nope-0')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('stops every process of a version, shell wrappers included', async () => {
    const { o, reports } = orchestrator();
    // A shell that starts the server as its child: the grandchild must go too.
    const d = imageDeployment(['/bin/sh', '-c', `"${process.execPath}" "${FAKE_RUNTIME}"; echo done`], { replicas: 2 });
    await o.deploy(d);
    await reports.until(reports.versionStatus('ver-1', 'RUNNING'), 'version RUNNING');
    const ports = runningPorts(reports, 'ver-1');
    const serverPids = await Promise.all(
      ports.map(async (p) => ((await (await fetch(`http://127.0.0.1:${p.port}/env`)).json()) as { pid: number }).pid),
    );
    const pids = [...ports.map((p) => p.pid), ...serverPids];
    expect(new Set(pids).size).toBe(4);
    pids.forEach((pid) => expect(alive(pid)).toBe(true));

    await o.stop('ver-1');
    expect(reports.all.at(-1)).toEqual({ type: 'version', versionId: 'ver-1', status: 'STOPPED' });
    pids.forEach((pid) => expect(alive(pid)).toBe(false));
    expect(reports.instances('ver-1').size).toBe(0);
    const terminating = new Set(reports.all.flatMap((r) => (r.type === 'instance' && r.instance.state === 'TERMINATING' ? [r.instance.name] : [])));
    expect([...terminating].sort()).toEqual(['wine-v1-0', 'wine-v1-1']);
    expect(listStateFiles(join(dataDir, 'runtime'))).toEqual([]);
  });

  it('gives up on a command that exits at once: FAILED with the reason, bounded restarts', async () => {
    const { o, reports } = orchestrator();
    const d = imageDeployment([process.execPath, FAKE_RUNTIME]);
    if (d.source.kind !== 'image') throw new Error('image expected');
    d.source.env = [{ name: 'FAKE_EXIT_CODE', value: '3' }];
    await o.deploy(d);
    await reports.until(reports.versionStatus('ver-1', 'FAILED'), 'version FAILED');
    const failed = reports.all.find((r) => r.type === 'version' && r.status === 'FAILED');
    expect(failed && failed.type === 'version' ? failed.reason : '').toMatch(/wine-v1-0: CrashLoopBackOff: exit code 3: fatal: cannot load model/);
    expect(reports.instances('ver-1').get('wine-v1-0')).toMatchObject({ state: 'FAILED', restartCount: 2 });
    // It gives up (no back-off timer left), having started exactly 3 times; a start after
    // giving up would show in the count of 6 below, after a full second round of back-offs.
    await reports.until(() => reports.events('BackOff').some((e) => e.message.includes('gave up')), 'BackOff: gave up');
    expect(reports.events('Started')).toHaveLength(3);
    const backoffs = reports.events('BackOff');
    expect(backoffs.at(-1)?.message).toContain('gave up after 3 failed starts');

    // Starting it again gives it a fresh try (still failing: FAILED again, no storm).
    const from = reports.all.length;
    await o.deploy(d);
    await reports.until(reports.versionStatus('ver-1', 'FAILED', from), 'FAILED again');
    expect(reports.events('Started')).toHaveLength(6);
  });

  it('refuses what does not fit: FailedScheduling and FAILED; dedicated GPU nodes place and pin GPUs', async () => {
    const { o, reports } = orchestrator({ capacity: { cpu: 2, memoryGiB: 4, gpus: [{ type: 'T4', count: 1 }] } });
    await o.deploy(modelDeployment({ replicas: 3, resources: { cpu: 1, memoryGiB: 1, gpuType: null, gpuCount: 0 } }));
    await reports.until(reports.versionStatus('ver-1', 'FAILED'), 'FAILED');
    const fs = reports.events('FailedScheduling');
    expect(fs).toHaveLength(1);
    expect(fs[0]).toMatchObject({ level: 'WARNING', resourceKind: 'Version', resourceName: 'wine-v1' });
    expect(fs[0]?.message).toContain('insufficient cpu');
    expect(reports.events('Started')).toHaveLength(0);
    expect(o.capacityFree()[0]).toMatchObject({ cpu: 2, memoryGiB: 4, gpus: 1 });

    // A GPU type the pool does not have.
    await o.deploy(modelDeployment({ versionId: 'ver-2', versionName: 'v2', resources: { cpu: 1, memoryGiB: 1, gpuType: 'A100', gpuCount: 1 } }));
    await reports.until(reports.versionStatus('ver-2', 'FAILED'), 'ver-2 FAILED');
    expect(reports.events('FailedScheduling').at(-1)?.message).toContain('insufficient A100 GPUs');

    // A dedicated group: two A100 nodes, one NotReady; one replica fits, the second does not.
    const dedicated = {
      resourceGroupName: 'rg-gpu',
      nodes: [
        { name: 'gpu-a', cpu: 8, memoryGiB: 32, gpuType: 'A100', gpuCount: 2, state: 'READY' },
        { name: 'gpu-b', cpu: 8, memoryGiB: 32, gpuType: 'A100', gpuCount: 2, state: 'NOT_READY' },
      ],
    };
    const gpu = modelDeployment({ versionId: 'ver-3', versionName: 'v3', replicas: 1, resources: { cpu: 4, memoryGiB: 16, gpuType: 'A100', gpuCount: 2 }, dedicated });
    await o.deploy(gpu);
    await reports.until(reports.versionStatus('ver-3', 'RUNNING'), 'ver-3 RUNNING');
    const inst = reports.instances('ver-3').get('wine-v3-0');
    expect(inst?.node).toBe('gpu-a');
    const env = (await (await fetch(`http://127.0.0.1:${inst?.port}/env`)).json()) as Record<string, unknown>;
    expect(env).toMatchObject({ gpu: '1', cuda: '0,1' });
    const from = reports.all.length;
    await o.deploy({ ...gpu, replicas: 2 });
    await reports.until(reports.versionStatus('ver-3', 'FAILED', from), 'scale-up FAILED');
    expect(reports.events('FailedScheduling').at(-1)?.message).toMatch(/0\/1 nodes are available for wine-v3-1/);
    // The running replica is untouched.
    expect(reports.instances('ver-3').get('wine-v3-0')?.state).toBe('RUNNING');
  });

  /** A control plane that deploys these, then crashes (SIGKILL): the replicas' pids, left running. */
  async function crashedControlPlane(deployments: ReturnType<typeof modelDeployment>[]): Promise<Record<string, number>> {
    const host = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'crash-host.ts'), JSON.stringify({ dataDir, runtimeCommand: [process.execPath, FAKE_RUNTIME], deployments })],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => void (host.exitCode === null && host.kill('SIGKILL')));
    const pids = await new Promise<Record<string, number>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('crash host did not get ready')), 30_000);
      createInterface({ input: host.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.startsWith('READY ')) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice(6)) as Record<string, number>);
        }
      });
    });
    host.kill('SIGKILL');
    await new Promise((r) => host.once('exit', r));
    const all = Object.values(pids);
    all.forEach((pid) => expect(alive(pid)).toBe(true));
    // Safety net if the test fails half-way: never leave these behind.
    cleanups.push(() => all.forEach((pid) => void (alive(pid) && process.kill(-pid, 'SIGKILL'))));
    return pids;
  }

  it('after a control-plane crash, adopts the wanted replicas and kills the rest', async () => {
    const a = modelDeployment({ versionId: 'ver-a', versionName: 'va', replicas: 2 });
    const b = modelDeployment({ versionId: 'ver-b', versionName: 'vb', replicas: 1 });
    const pids = await crashedControlPlane([a, b]);
    expect(Object.values(pids)).toHaveLength(3);

    const { o, reports } = orchestrator();
    await o.reconcile([a]);
    await reports.until(reports.versionStatus('ver-a', 'RUNNING'), 'adopted version RUNNING');
    expect(alive(pids['wine-vb-0'] as number)).toBe(false);
    expect(reports.all).toContainEqual({ type: 'instanceRemoved', versionId: 'ver-b', name: 'wine-vb-0' });
    const adopted = reports.instances('ver-a');
    expect(adopted.get('wine-va-0')?.pid).toBe(pids['wine-va-0']);
    expect(adopted.get('wine-va-1')?.pid).toBe(pids['wine-va-1']);
    expect(reports.events('Adopted')).toHaveLength(2);
    expect(reports.events('Started')).toHaveLength(0);
    // they were serving: they never left the routes (no state but RUNNING reported for them),
    // so a control-plane restart does not withdraw every endpoint while it probes them
    const statesOf = (name: string) => reports.all.flatMap((r) => (r.type === 'instance' && r.instance.name === name ? [r.instance.state] : []));
    expect(statesOf('wine-va-0')).toEqual(['RUNNING']);
    expect(statesOf('wine-va-1')).toEqual(['RUNNING']);
    expect((await invoke(adopted.get('wine-va-0')?.port as number, [[2, 3]])).body.predictions).toEqual([5]);
    expect(listStateFiles(join(dataDir, 'runtime')).map((s) => s.record.instance).sort()).toEqual(['wine-va-0', 'wine-va-1']);
    // Logs written before the crash are still readable.
    expect((await o.logs('ver-a')).some((l) => l.line.startsWith('fake runtime listening'))).toBe(true);

    // An adopted process that dies is noticed and restarted as our own child.
    process.kill(pids['wine-va-1'] as number, 'SIGKILL');
    await reports.until(() => {
      const i = reports.instances('ver-a').get('wine-va-1');
      return i?.state === 'RUNNING' && i.restartCount === 1;
    }, 'adopted replica restarted');

    const finalPids = [...reports.instances('ver-a').values()].map((i) => i.pid as number);
    await o.close();
    finalPids.forEach((pid) => expect(alive(pid)).toBe(false));
    expect(existsSync(join(dataDir, 'runtime', 'wine', 'va', 'wine-va-0', 'instance-state.json'))).toBe(false);
  });

  it('keeps an adopted replica whose first readiness probe is slow, out of the routes until it answers: the startup timeout counts from the adoption, not from the process start', async () => {
    const a = modelDeployment({ versionId: 'ver-a', versionName: 'va', replicas: 1 });
    const pid = (await crashedControlPlane([a]))['wine-va-0'] as number;
    // the process started "long ago" (the clock is ten minutes ahead), and does not answer the
    // first probe (stopped for longer than the probe timeout), as under a loaded machine
    process.kill(pid, 'SIGSTOP');
    const { o, reports } = orchestrator({
      clock: { now: () => new Date(Date.now() + 600_000) },
      // liveness out of the way: this is about readiness (a loaded machine may miss short probes)
      timing: { ...fastTiming, startupTimeoutMs: 5_000, probeTimeoutMs: 200, livenessPeriodMs: 600_000 },
    });
    await o.reconcile([a]);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, 'SIGCONT');
    await reports.until(() => reports.instances('ver-a').get('wine-va-0')?.state === 'RUNNING', 'adopted replica RUNNING');
    expect(reports.events('Killing').map((e) => e.message)).toEqual([]);
    expect(reports.instances('ver-a').get('wine-va-0')).toMatchObject({ pid, restartCount: 0 });
    expect(alive(pid)).toBe(true);
    // routable as it was, withdrawn while it did not answer, back once it did
    const states = reports.all.flatMap((r) => (r.type === 'instance' && r.instance.name === 'wine-va-0' ? [r.instance.state] : []));
    expect(states.filter((st, i) => st !== states[i - 1])).toEqual(['RUNNING', 'WAITING', 'RUNNING']);
  });

  it('opens a terminal in the replica working dir', async () => {
    const { o, reports } = orchestrator();
    await o.deploy(modelDeployment());
    await reports.until(reports.versionStatus('ver-1', 'RUNNING'), 'version RUNNING');
    const term = await o.openTerminal('ver-1', 'wine-v1-0');
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number | null>((r) => term.onExit(r));
    term.write('pwd\n');
    term.write('echo port=$PORT\n');
    const workDir = join(dataDir, 'runtime', 'wine', 'v1', 'wine-v1-0');
    await waitFor(() => out.includes(workDir) && /port=\d+/.test(out), 'pwd output');
    expect(out).toContain(`port=${reports.instances('ver-1').get('wine-v1-0')?.port}`);
    term.write('exit 7\n');
    expect(await exited).toBe(7);
    await expect(o.openTerminal('ver-1', 'wine-v1-9')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reports Unhealthy while a replica is not ready yet, then RUNNING', async () => {
    const { o, reports } = orchestrator({ timing: { ...fastTiming, unhealthyEventEvery: 4 } });
    const d = imageDeployment([process.execPath, FAKE_RUNTIME], { replicas: 1 });
    if (d.source.kind !== 'image') throw new Error('image expected');
    // HTTP probes only apply to the runtime: run the fake as the model runtime, slow to load.
    const slow = createLocalOrchestrator({
      dataDir,
      runtimeCommand: ['/usr/bin/env', 'FAKE_READY_AFTER_MS=600', process.execPath, FAKE_RUNTIME],
      capacity: { cpu: 4, memoryGiB: 8, gpus: [] },
      timing: { ...fastTiming, unhealthyEventEvery: 4 },
    });
    cleanups.push(() => slow.close());
    const slowReports = new Reports(slow);
    await slow.deploy(modelDeployment({ versionId: 'ver-slow', versionName: 'slow' }));
    await slowReports.until(slowReports.versionStatus('ver-slow', 'RUNNING'), 'slow replica RUNNING');
    const unhealthy = slowReports.events('Unhealthy', 'wine-slow-0');
    expect(unhealthy.every((e) => e.level === 'WARNING' && e.message.startsWith('Readiness probe failed: '))).toBe(true);
    expect(unhealthy.map((e) => e.message)).toContain('Readiness probe failed: HTTP probe failed with statuscode: 503');
    expect(slowReports.instances('ver-slow').get('wine-slow-0')?.restartCount).toBe(0);
    // An image version is probed on its port only: on a slow machine its TCP probe may fail while
    // the process boots (and say so), but no HTTP probe is ever made.
    await o.deploy(d);
    await reports.until(reports.versionStatus('ver-1', 'RUNNING'), 'image RUNNING');
    const imageProbeFailures = reports.events('Unhealthy').map((e) => e.message);
    expect(imageProbeFailures.every((m) => m.startsWith('Readiness probe failed: dial tcp: '))).toBe(true);
  });

  it('rejects bad deployments with typed errors', async () => {
    const { o } = orchestrator();
    await expect(o.deploy(modelDeployment({ groupName: 'Bad_Name' }))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(o.deploy(modelDeployment({ replicas: 0 }))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(o.deploy(imageDeployment([]))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
