// The trust bench's attackers, as a process of their own: `loops` callers each send the given
// GraphQL query back to back until told to stop, then report every answer's latency. Kept out
// of the measuring process so that reading the attackers' large answers does not delay the
// measuring client's own event loop (which would show up as server latency), and run at the
// lowest CPU priority because a real attacker's CPU is on another machine: what is left to
// measure is what their queries cost the platform.
import { performance } from 'node:perf_hooks';
import { setPriority } from 'node:os';

interface Orders { url: string; token: string; query: string; loops: number }

const orders = await new Promise<Orders>((resolve) => process.once('message', (m) => resolve(m as Orders)));
try {
  setPriority(19);
} catch {
  // not allowed here: the attackers then compete at normal priority (the figures say so)
}
let stop = false;
const latencies: number[] = [];
let failed = 0;
process.on('message', (m: { cmd?: string }) => {
  if (m.cmd === 'stop') stop = true;
});
const body = JSON.stringify({ query: orders.query });
process.send?.({ ready: true });
await Promise.all(
  Array.from({ length: orders.loops }, async () => {
    while (!stop) {
      const t = performance.now();
      try {
        const res = await fetch(orders.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${orders.token}` }, body });
        await res.text();
        if (!res.ok) failed++;
      } catch {
        failed++;
      }
      latencies.push(performance.now() - t);
    }
  }),
);
process.send?.({ latencies, failed }, () => process.exit(0));
