// A runtime told to stop (SIGTERM, as the orchestrator and `npm start`'s shutdown do) ends
// promptly whatever its clients hold open: an idle keep-alive connection in a client's pool
// (the control plane's metrics scraper keeps one) and a connection that has sent nothing
// yet. Its HTTP server is fed sockets by the front listener and never listens itself, so
// Node's own idle-connection closing never ran: such a connection held the runtime until the
// orchestrator's 10 s grace ran out and it was killed. A request in progress still gets its
// answer.
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { demoEnv, spawnRuntime, waitReady, type SpawnedRuntime } from './spawn-runtime.ts';

const get = (url: string, agent: Agent) =>
  new Promise<number>((resolve, reject) => {
    request(`${url}/ready`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject).end();
  });

describe('a stopping runtime', () => {
  const started: SpawnedRuntime[] = [];
  afterAll(() => {
    for (const r of started) r.proc.kill('SIGKILL');
  });

  it('exits at once although a client holds an idle keep-alive connection and a silent one', async () => {
    const runtime = await spawnRuntime(demoEnv('1'), { built: true });
    started.push(runtime);
    await waitReady(runtime.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await get(runtime.url, agent)).toBe(200); // its socket now idles in the pool
    const silent = connect(Number(new URL(runtime.url).port), '127.0.0.1');
    await new Promise((r) => silent.once('connect', r));
    silent.on('error', () => undefined);

    const t0 = Date.now();
    const code = await runtime.stop();
    const ms = Date.now() - t0;
    expect(code).toBe(0);
    // the runtime's own fallback exits after 10 s whatever is open: far under it means the
    // connections were closed, not waited out
    expect(ms).toBeLessThan(5_000);
    expect(runtime.output.join('\n')).not.toMatch(/did not finish in 10 s/);
    agent.destroy();
    silent.destroy();
  }, 30_000);
});
