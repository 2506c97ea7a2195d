// Watchdog for test/setup/services.ts: started detached with the test runner's pid and the
// temp folder of the private services. If the runner dies without its teardown (SIGKILL,
// a second Ctrl-C), this stops the private PostgreSQL and Redis and deletes the folder, so a
// run never leaves a server or a folder behind. It exits once the folder is gone either way.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const [parentPid, root] = [Number(process.argv[2]), process.argv[3]];

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

const pidIn = (file) => {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
};

async function reap() {
  // postgres: SIGINT = fast shutdown; redis: SIGTERM
  const servers = [
    [pidIn(join(root, 'pg', 'postmaster.pid')), 'SIGINT'],
    [pidIn(join(root, 'redis', 'pid')), 'SIGTERM'],
  ].filter(([pid]) => pid && alive(pid));
  for (const [pid, sig] of servers) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 10_000;
  while (servers.some(([pid]) => alive(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const [pid] of servers) {
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  rmSync(root, { recursive: true, force: true });
}

process.on('SIGTERM', () => process.exit(0));
const timer = setInterval(() => {
  if (!existsSync(root)) process.exit(0);
  if (!alive(parentPid)) {
    clearInterval(timer);
    reap().finally(() => process.exit(0));
  }
}, 250);
