// One Sluice per data dir. `npm start` takes `<data dir>/sluice.lock` (its pid, created
// exclusively, 0600) before it opens the database, so a second start on a data dir in use
// fails at once with DATA_DIR_IN_USE ("another Sluice (pid N) is using data dir X") instead
// of SQLite's busy errors half-way through start-up. A lock whose pid is no longer alive
// (a killed process) is stale and taken over. Released on a clean stop.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'sluice.lock';

export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(readonly pid: number, readonly dataDir: string) {
    super(`another Sluice (pid ${pid}) is using data dir ${dataDir}; stop it first, or start this one with another SLUICE_DATA_DIR`);
  }
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) ? pid : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export interface DataDirLock {
  readonly path: string;
  /** the pid of a dead holder this lock was taken over from, if any */
  readonly tookOverFrom: number | null;
  release(): void;
}

/** Takes the data dir's lock for `pid` (this process) or throws DataDirInUseError. */
export function lockDataDir(dataDir: string, pid: number = process.pid): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  let tookOverFrom: number | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try { writeSync(fd, `${pid}\n`); } finally { closeSync(fd); }
      return {
        path,
        tookOverFrom,
        release() {
          // only our own lock: a takeover by someone else after we lost it is theirs
          if (holderOf(path) === pid) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(path);
    if (holder !== null && holder !== pid && isAlive(holder)) throw new DataDirInUseError(holder, dataDir);
    // stale (its process is gone), empty (a crash between create and write), or our own pid
    // left by an earlier process that had it: take it over
    tookOverFrom = holder;
    try { unlinkSync(path); } catch (error) { if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; }
  }
  throw new Error(`could not take the lock ${path}: it keeps changing hands`);
}
