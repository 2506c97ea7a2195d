// One small JSON file per running replica in its working dir, written when its process
// starts and removed when it ends: the only memory that survives a control-plane crash, so
// the next control plane can find what was left running and adopt it or clean it up.

import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Placement } from './capacity.ts';

export interface InstanceStateRecord {
  versionId: string;
  groupName: string;
  versionName: string;
  instance: string;
  index: number;
  pid: number;
  /** kernel start time of the pid (clock ticks since boot): guards against a recycled PID */
  procStartTime: number | null;
  port: number;
  startedAt: string;
  /** hash of what was deployed: a changed spec means the old process must not be adopted */
  specHash: string;
  restartCount: number;
  placement: Placement;
  /**
   * it had answered its readiness probe (rewritten when it does): a control plane that adopts
   * it keeps it routable while one probe confirms it, instead of withdrawing every endpoint of
   * every version for the length of a restart. Absent in files written before this existed.
   */
  ready?: boolean;
}

export const STATE_FILE = 'instance-state.json';

export function writeStateFile(workDir: string, record: InstanceStateRecord): void {
  const path = join(workDir, STATE_FILE);
  // Write-then-rename so a crash mid-write never leaves a half file to misread.
  writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${path}.tmp`, path);
}

export function removeStateFile(workDir: string): void {
  rmSync(join(workDir, STATE_FILE), { force: true });
}

/** Every state file under {runtimeRoot}/{group}/{version}/{instance}/. Unreadable ones are skipped and removed. */
export function listStateFiles(runtimeRoot: string): { workDir: string; record: InstanceStateRecord }[] {
  const found: { workDir: string; record: InstanceStateRecord }[] = [];
  if (!existsSync(runtimeRoot)) return found;
  for (const group of subdirs(runtimeRoot)) {
    for (const version of subdirs(join(runtimeRoot, group))) {
      for (const instance of subdirs(join(runtimeRoot, group, version))) {
        const workDir = join(runtimeRoot, group, version, instance);
        const path = join(workDir, STATE_FILE);
        if (!existsSync(path)) continue;
        try {
          const record = JSON.parse(readFileSync(path, 'utf8')) as InstanceStateRecord;
          if (typeof record.pid === 'number' && typeof record.versionId === 'string') found.push({ workDir, record });
          else rmSync(path, { force: true });
        } catch {
          rmSync(path, { force: true });
        }
      }
    }
  }
  return found;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
