// The runtime as the orchestrator runs it: a spawned `runtime/server.ts` per demo version,
// scored over HTTP. Its predictions must equal scikit-learn's on the held-out rows (as
// recorded by runtime/demo/train.py), and every bad request must get its stable error.
import { request as httpRequest, Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DIR, REPO_ROOT, demoEnv, spawnRuntime, waitReady, type Heldout, type SpawnedRuntime } from './spawn-runtime.ts';

const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const MAX_ROWS = 1000;

let v1: SpawnedRuntime;
let v2: SpawnedRuntime;

beforeAll(async () => {
  [v1, v2] = await Promise.all([spawnRuntime(demoEnv('1')), spawnRuntime({ ...demoEnv('2'), SLUICE_MAX_ROWS: String(MAX_ROWS) })]);
  await Promise.all([waitReady(v1.url), waitReady(v2.url)]);
});

afterAll(async () => {
  const codes = await Promise.all([v1?.stop(), v2?.stop()]);
  // SIGTERM is a clean stop
  expect(codes).toEqual([0, 0]);
});

/** The runtime's answer to /invocations: predictions, or an MLflow-shaped error. */
interface InvocationBody {
  predictions?: unknown;
  error_code?: string;
  message?: string;
  details?: unknown;
}

async function invoke(url: string, body: unknown): Promise<{ status: number; json: InvocationBody }> {
  const res = await fetch(`${url}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as InvocationBody };
}

describe('predictions equal scikit-learn on the held-out rows', () => {
  for (const version of ['1', '2'] as const) {
    it(`version ${version}, one batch in dataframe_split`, async () => {
      const runtime = version === '1' ? v1 : v2;
      const { status, json } = await invoke(runtime.url, { dataframe_split: { columns: heldout.columns, data: heldout.rows } });
      expect(status).toBe(200);
      expect(json).toEqual({ predictions: heldout.versions[version].predictions });
    });
  }

  it('the two versions are different models (they disagree on some held-out rows)', () => {
    const { 1: a, 2: b } = heldout.versions;
    expect(a.predictions.some((p, i) => p !== b.predictions[i])).toBe(true);
  });

  it('dataframe_records with columns in reverse order, and row by row through inputs as {column: [value]}', async () => {
    const records = heldout.rows.map((row) => Object.fromEntries(heldout.columns.map((c, j) => [c, row[j]]).reverse()));
    const batch = await invoke(v2.url, { dataframe_records: records });
    expect(batch.json.predictions).toEqual(heldout.versions['2'].predictions);

    const reversed = [...heldout.columns].reverse();
    const split = await invoke(v1.url, { dataframe_split: { columns: reversed, data: heldout.rows.map((r) => [...r].reverse()) } });
    expect(split.json.predictions).toEqual(heldout.versions['1'].predictions);

    const single: number[] = [];
    for (const row of heldout.rows) {
      const { status, json } = await invoke(v1.url, { client_request_id: 'one', inputs: Object.fromEntries(heldout.columns.map((c, j) => [c, [row[j]]])) });
      expect(status).toBe(200);
      single.push(...(json.predictions as number[]));
    }
    expect(single).toEqual(heldout.versions['1'].predictions);
  });
});

describe('endpoints', () => {
  it('health, ready, metrics', async () => {
    expect((await fetch(`${v1.url}/health`)).status).toBe(200);
    const ready = await fetch(`${v2.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', model: 'wine-classifier', version: '2', executionProvider: 'cpu' });

    const before = await fetch(`${v2.url}/metrics`).then((r) => r.text());
    const rowsBefore = Number(/sluice_runtime_rows_predicted_total\{[^}]*\} (\d+)/.exec(before)?.[1] ?? 0);
    await invoke(v2.url, { dataframe_split: { columns: heldout.columns, data: heldout.rows.slice(0, 5) } });
    await invoke(v2.url, { inputs: [[1]] });
    const text = await fetch(`${v2.url}/metrics`).then((r) => r.text());
    expect(text).toMatch(/sluice_runtime_requests_total\{status="200",model="wine-classifier",version="2"\} \d+/);
    expect(text).toMatch(/sluice_runtime_requests_total\{status="422",model="wine-classifier",version="2"\} \d+/);
    expect(text).toMatch(/sluice_runtime_request_duration_seconds_bucket\{le="0.005",/);
    expect(text).toContain('sluice_runtime_ready{model="wine-classifier",version="2"} 1');
    expect(Number(/sluice_runtime_rows_predicted_total\{[^}]*\} (\d+)/.exec(text)?.[1])).toBe(rowsBefore + 5);
  });

  it('unknown path 404, wrong method 405, not JSON or CSV 415, bad JSON 400', async () => {
    const notFound = await fetch(`${v1.url}/nope`);
    expect(notFound.status).toBe(404);
    expect((await notFound.json()).error_code).toBe('ENDPOINT_NOT_FOUND');
    const wrongMethod = await fetch(`${v1.url}/invocations`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    const text = await fetch(`${v1.url}/invocations`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a,b\n1,2' });
    expect(text.status).toBe(415);
    expect((await text.json()).error_code).toBe('BAD_REQUEST');
    const bad = await invoke(v1.url, '{"dataframe_split": ');
    expect(bad.status).toBe(400);
    expect(bad.json.error_code).toBe('BAD_REQUEST');
  });

  it('schema errors are 422 naming the column and row', async () => {
    const rows = heldout.rows.slice(0, 3).map((r) => [...r] as (number | string)[]);
    (rows[2] as (number | string)[])[4] = 'a hundred and one';
    const typed = await invoke(v1.url, { dataframe_split: { columns: heldout.columns, data: rows } });
    expect(typed.status).toBe(422);
    expect(typed.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', details: { column: 'magnesium', row: 2 } });

    const missing = await invoke(v1.url, { dataframe_split: { columns: heldout.columns.slice(1), data: [heldout.rows[0]!.slice(1)] } });
    expect(missing.status).toBe(422);
    expect(missing.json.message).toContain('Model is missing inputs ["alcohol"]');

    const ragged = await invoke(v1.url, { dataframe_split: { columns: heldout.columns, data: [heldout.rows[0], heldout.rows[1]!.slice(0, 12)] } });
    // a ragged frame is not a dataframe at all: MLflow's (pandas') 400
    expect(ragged.status).toBe(400);
    expect(ragged.json).toMatchObject({ error_code: 'BAD_REQUEST', message: expect.stringContaining('data[1] has 12 values') });

    const empty = await invoke(v1.url, { dataframe_split: { columns: heldout.columns, data: [] } });
    expect(empty.status).toBe(400);
  });
});

describe('limits', () => {
  // A raw socket: the test controls exactly what is sent when, and sees that a 413 leaves
  // the same connection able to carry the next request.
  function rawExchange(url: string): { send(data: string | Buffer): boolean; drained(): Promise<void>; nextResponse(): Promise<{ status: number; body: string }>; close(): void } {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let waiter: (() => void) | null = null;
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      waiter?.();
    });
    const parse = () => {
      const head = buffer.indexOf('\r\n\r\n');
      if (head === -1) return null;
      const headers = buffer.subarray(0, head).toString();
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
      if (buffer.length < head + 4 + length) return null;
      const body = buffer.subarray(head + 4, head + 4 + length).toString();
      buffer = buffer.subarray(head + 4 + length);
      return { status: Number(headers.split(' ')[1]), body };
    };
    return {
      send: (data) => socket.write(data),
      drained: () => new Promise((r) => socket.once('drain', () => r())),
      nextResponse: () =>
        new Promise((resolve, reject) => {
          socket.once('close', () => reject(new Error('connection closed')));
          const check = () => {
            const res = parse();
            if (res) {
              waiter = null;
              resolve(res);
            }
          };
          waiter = check;
          check();
        }),
      close: () => socket.destroy(),
    };
  }

  const head = (length: number) =>
    `POST /invocations HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;

  it('a declared body over 10 MiB is 413 before it is read, and the connection keeps working', async () => {
    const conn = rawExchange(v1.url);
    try {
      const size = 11 * 1024 * 1024;
      conn.send(head(size));
      // the answer comes while nearly all of the body is still unsent
      const first = await conn.nextResponse();
      expect(first.status).toBe(413);
      expect(JSON.parse(first.body).error_code).toBe('RESOURCE_LIMIT_EXCEEDED');
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let sent = 0; sent < size; sent += chunk.length) if (!conn.send(chunk)) await conn.drained();
      const body = JSON.stringify({ dataframe_split: { columns: heldout.columns, data: [heldout.rows[0]] } });
      conn.send(head(Buffer.byteLength(body)) + body);
      const second = await conn.nextResponse();
      expect(second.status).toBe(200);
      expect(JSON.parse(second.body).predictions).toEqual([heldout.versions['1'].predictions[0]]);
    } finally {
      conn.close();
    }
  });

  const agent = new Agent({ keepAlive: false });
  afterAll(() => agent.destroy());

  function post(url: string, write: (req: ReturnType<typeof httpRequest>) => void, headers: Record<string, string | number>) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${url}/invocations`, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      write(req);
    });
  }

  it('a chunked body that grows past the limit is 413', async () => {
    const res = await post(
      v1.url,
      (req) => {
        const piece = Buffer.alloc(512 * 1024, 0x20);
        for (let i = 0; i < 24; i++) req.write(piece);
        req.end();
      },
      { 'transfer-encoding': 'chunked' },
    );
    expect(res.status).toBe(413);
    expect((await fetch(`${v1.url}/health`)).status).toBe(200);
  });

  it('10^6 rows is a clear 413, not an out-of-memory', async () => {
    const row = `[${heldout.rows[0]!.join(',')}]`;
    const body = `{"inputs":[${new Array(1_000_000).fill(row).join(',')}]}`;
    const res = await invoke(v2.url, body);
    expect(res.status).toBe(413);
    expect(res.json.error_code).toBe('RESOURCE_LIMIT_EXCEEDED');
    // within the byte limit but over the row limit: the row limit answers
    const many = await invoke(v2.url, { inputs: new Array(MAX_ROWS + 1).fill(heldout.rows[0]) });
    expect(many.status).toBe(413);
    expect(many.json.message).toContain(`at most ${MAX_ROWS}`);
    expect((await fetch(`${v2.url}/ready`)).status).toBe(200);
  });
});

describe('start-up', () => {
  function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'runtime/server.ts'], {
        cwd: REPO_ROOT,
        env: { ...process.env, PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
      proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
      proc.on('exit', (code) => resolve({ code, output }));
    });
  }

  it('a file that is not a model ends the process with code 1 and the reason', async () => {
    const { code, output } = await runToExit({ ...demoEnv('1'), SLUICE_MODEL_PATH: `${DEMO_DIR}/heldout.json` });
    expect(code).toBe(1);
    expect(output).toContain('INVALID_ARTIFACT');
  });

  it('missing settings end the process with code 1', async () => {
    const { code, output } = await runToExit({ SLUICE_MODEL_PATH: '', SLUICE_MODEL_SIGNATURE: '' });
    expect(code).toBe(1);
    expect(output).toContain('SLUICE_MODEL_PATH must be set');
  });

  it('SLUICE_USE_GPU=1 without CUDA falls back to the CPU with a log line', async () => {
    const runtime = await spawnRuntime({ ...demoEnv('1'), SLUICE_USE_GPU: '1' });
    try {
      await waitReady(runtime.url);
      const ready = (await fetch(`${runtime.url}/ready`).then((r) => r.json())) as { executionProvider: string };
      if (ready.executionProvider === 'cpu') expect(runtime.output.join('\n')).toContain('CUDA execution provider unavailable, running on CPU');
      else expect(ready.executionProvider).toBe('cuda');
      const { json } = await invoke(runtime.url, { dataframe_split: { columns: heldout.columns, data: heldout.rows } });
      expect(json.predictions).toEqual(heldout.versions['1'].predictions);
    } finally {
      await runtime.stop();
    }
  });
});
