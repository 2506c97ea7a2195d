// GPU figures from nvidia-smi: attributed to a replica through its process group, and where
// the tool is missing the probe says why (GPU series then carry that reason, never numbers).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createNvidiaSmiProbe } from '../../control/monitoring/gpu.ts';

const ownGroup = () => Number(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);

it('reads utilisation and memory per replica process group', async () => {
  const probe = createNvidiaSmiProbe({
    run: async (args) =>
      args[0]?.startsWith('--query-gpu')
        ? 'GPU-aaa, 73, 2048\nGPU-bbb, 5, 10\n'
        : `${process.pid}, GPU-aaa, 512\n999999, GPU-bbb, 100\n`,
  });
  const pg = ownGroup();
  const read = await probe.read([pg]);
  expect(probe.status()).toBeNull();
  expect(read.get(pg)).toEqual({ utilPercent: 73, memoryBytes: 512 * 1024 * 1024 });
  expect(read.size).toBe(1);
});

it('says why when there is no nvidia-smi', async () => {
  const probe = createNvidiaSmiProbe({ command: '/nonexistent/nvidia-smi' });
  expect((await probe.read([1])).size).toBe(0);
  expect(probe.status()).toMatch(/not installed: no GPU/);
});
