// GPU figures per replica from `nvidia-smi` (the driver's own tool): the utilisation of each
// GPU a replica's processes run on and the memory they hold there. Where the tool is missing
// or finds no GPU the probe says why, and GPU series stay empty with that reason — never
// invented numbers.

import { execFile } from 'node:child_process';
import { groupMembers } from '../orchestrator/local/proc-stats.ts';

export interface GpuUse {
  /** percent of the GPU(s) the processes run on (the busiest one) */
  utilPercent: number;
  memoryBytes: number;
}

export interface GpuProbe {
  /** null when GPUs can be measured; else why not */
  status(): string | null;
  /** figures per process group (a replica's pid), for the groups given */
  read(pgids: number[]): Promise<Map<number, GpuUse>>;
}

type Run = (args: string[]) => Promise<string>;

const runNvidiaSmi =
  (command: string): Run =>
  (args) =>
    new Promise((resolve, reject) => {
      execFile(command, args, { timeout: 5_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });

const rows = (csv: string) => csv.split('\n').map((l) => l.split(',').map((c) => c.trim())).filter((r) => r.length > 1);

export function createNvidiaSmiProbe(options: { command?: string; run?: Run } = {}): GpuProbe {
  const run = options.run ?? runNvidiaSmi(options.command ?? 'nvidia-smi');
  let reason: string | null = 'GPU figures not read yet';
  return {
    status: () => reason,
    async read(pgids) {
      const out = new Map<number, GpuUse>();
      let gpus: string[][];
      try {
        gpus = rows(await run(['--query-gpu=uuid,utilization.gpu,memory.used', '--format=csv,noheader,nounits']));
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        reason = e.code === 'ENOENT' ? 'nvidia-smi is not installed: no GPU on this machine' : `nvidia-smi failed: ${e.message.split('\n')[0]}`;
        return out;
      }
      if (gpus.length === 0) {
        reason = 'nvidia-smi lists no GPU';
        return out;
      }
      reason = null;
      const utilByGpu = new Map(gpus.map((g) => [g[0] as string, Number(g[1])]));
      let apps: string[][];
      try {
        apps = rows(await run(['--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,noheader,nounits']));
      } catch {
        return out;
      }
      const groupOf = new Map<number, number>();
      for (const pg of pgids) for (const pid of [pg, ...groupMembers(pg)]) groupOf.set(pid, pg);
      for (const [pidText, uuid, memMiB] of apps) {
        const pg = groupOf.get(Number(pidText));
        if (pg === undefined) continue;
        const prev = out.get(pg) ?? { utilPercent: 0, memoryBytes: 0 };
        out.set(pg, {
          utilPercent: Math.max(prev.utilPercent, utilByGpu.get(uuid ?? '') ?? 0),
          memoryBytes: prev.memoryBytes + (Number(memMiB) || 0) * 1024 * 1024,
        });
      }
      return out;
    },
  };
}
