// Logs where the orchestrator keeps them (Kubernetes: the pod log API): logSearch filters and
// pages the orchestrator's lines by time, and logTail polls for new ones. The Kubernetes
// orchestrator's own reading of the pod log API is covered in test/orchestrator/kubernetes.test.ts.
import { expect, it } from 'vitest';
import { LogService } from '../../control/logs/service.ts';
import type { LogLine, Orchestrator } from '../../control/orchestrator/port.ts';

function podLogs(lines: LogLine[]): Orchestrator {
  return {
    kind: 'test',
    logs: async (_v: string, o: { instance?: string; sinceMs?: number } = {}) =>
      lines.filter((l) => (!o.instance || l.instance === o.instance) && (o.sinceMs === undefined || l.time.getTime() >= Date.now() - o.sinceMs)),
  } as unknown as Orchestrator;
}

it('searches the pod log API newest first, by window, text and instance, with paging', async () => {
  const now = Date.now();
  const lines: LogLine[] = Array.from({ length: 300 }, (_, i) => ({ time: new Date(now - 300_000 + i * 1000), instance: `pod-${i % 3}`, stream: 'stdout', line: `line ${i}${i % 5 === 0 ? ' ERROR' : ''}` }));
  const logs = new LogService({ orchestrator: podLogs(lines), store: null, searcher: null });
  const first = await logs.search('v', { fromMs: now - 3_600_000, toMs: now, query: 'ERROR', limit: 10 });
  expect(first.lines.map((l) => l.line)).toEqual([295, 290, 285, 280, 275, 270, 265, 260, 255, 250].map((n) => `line ${n} ERROR`));
  const second = await logs.search('v', { fromMs: now - 3_600_000, toMs: now, query: 'ERROR', limit: 10, before: first.before });
  expect(second.lines[0]?.line).toBe('line 245 ERROR');
  const re = await logs.search('v', { fromMs: now - 3_600_000, toMs: now, query: '^line 1\\d$', regex: true, instance: 'pod-1', limit: 100 });
  expect(re.lines.map((l) => l.line)).toEqual(['line 19', 'line 16', 'line 13']); // 'line 10 ERROR' has more after it
  await expect(logs.search('v', { fromMs: now, toMs: now - 1 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  await expect(logs.search('v', { fromMs: 0, toMs: now, query: '(x+)+y', regex: true })).rejects.toMatchObject({ details: { reason: 'UNSAFE_REGEX' } });
});

it('tails by polling the pod log API', async () => {
  const lines: LogLine[] = [];
  const logs = new LogService({ orchestrator: podLogs(lines), store: null, searcher: null, pollMs: 20 });
  const tail = logs.tail('v', { query: 'hello' });
  setTimeout(() => lines.push({ time: new Date(Date.now() + 5), instance: 'pod-0', stream: 'stdout', line: 'hello there' }), 50);
  const next = await tail.next();
  expect(next.value?.line).toBe('hello there');
  await tail.return?.();
});
