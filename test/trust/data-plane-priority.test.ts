// The data plane gets the CPU before the control plane's own work (control/data-plane-
// priority.ts): the control plane's threads take a higher nice value, and the processes of
// the data plane (the edge, local replicas) are spawned from a thread that keeps the normal
// one — a child forked from a lowered thread would inherit its nice value, and an
// unprivileged process can never lower it back. Checked in a process of its own (lowering
// the test runner's threads would slow every other test), reading each task's nice value
// from /proc.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

const PROBE = `
import { prioritizeDataPlane } from './control/data-plane-priority.ts';
import { spawn } from 'node:child_process';
import { openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
const niceOf = (path) => Number(readFileSync(path, 'utf8').split(') ')[1].split(' ')[16]);
const tasks = () => readdirSync('/proc/self/task').map(Number);
const before = tasks();
const priority = await prioritizeDataPlane({ nice: 10 });
const devnull = openSync('/dev/null', 'w');
const dataPlane = await priority.spawn({ command: 'sleep', args: ['30'], env: process.env, detached: true, stdout: devnull, stderr: devnull });
const direct = spawn('sleep', ['30'], { stdio: 'ignore' });
// a thread the control plane starts later (a log search worker, libuv's pool)
const later = new Worker("process.getBuiltinModule('node:worker_threads').parentPort.postMessage(Number(process.getBuiltinModule('node:fs').readlinkSync('/proc/thread-self').split('/').pop())); setTimeout(() => {}, 2000);", { eval: true });
const laterTid = await new Promise((r) => later.once('message', r));
const exited = new Promise((r) => dataPlane.once('exit', (code, signal) => r(signal)));
const out = {
  lowered: priority.lowered,
  main: niceOf('/proc/self/stat'),
  threadsBefore: before.map((t) => niceOf('/proc/self/task/' + t + '/stat')),
  laterThread: niceOf('/proc/self/task/' + laterTid + '/stat'),
  dataPlaneChild: niceOf('/proc/' + dataPlane.pid + '/stat'),
  directChild: niceOf('/proc/' + direct.pid + '/stat'),
};
process.kill(dataPlane.pid, 'SIGTERM');
direct.kill('SIGTERM');
out.dataPlaneExit = await exited;
await later.terminate();
await priority.close();
console.log(JSON.stringify(out));
`;

describe('data plane priority', () => {
  it.runIf(process.platform === 'linux')(
    "lowers the control plane's threads (and those it starts later) while the processes it spawns for the data plane keep the normal priority",
    () => {
      const base = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[16]);
      expect(base).toBe(0); // the test assumes it starts at the normal priority
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        lowered: number; main: number; threadsBefore: number[]; laterThread: number; dataPlaneChild: number; directChild: number; dataPlaneExit: string;
      };
      expect(out.lowered).toBeGreaterThan(0);
      expect(out.main).toBe(10);
      expect(out.threadsBefore.every((n) => n === 10)).toBe(true);
      expect(out.laterThread).toBe(10);
      // why the spawner thread exists: a child forked from a lowered thread inherits its value
      expect(out.directChild).toBe(10);
      expect(out.dataPlaneChild).toBe(0);
      // the spawned child is watched like a ChildProcess: its exit arrives
      expect(out.dataPlaneExit).toBe('SIGTERM');
    },
  );
});
