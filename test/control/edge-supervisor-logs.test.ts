// The local edge's output reaches the platform log store even after a control-plane crash:
// the edge writes into files in the data dir (no pipe to break) and the supervisor tails them
// by saved offset, so a control plane that adopts the surviving edge resumes where the
// crashed one stopped. The edge here is a small stand-in that numbers its lines (so a lost or
// repeated line shows) and answers the control socket as the real one does; the first
// supervisor runs in a process of its own and is killed with SIGKILL.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EDGE_LOG_KEY, EdgeSupervisor, PLATFORM_LOG_DIR } from '../../control/edge-supervisor.ts';
import { LogStore } from '../../control/logs/store.ts';
import { isAlive } from '../../platform/data-dir-lock.ts';

// argv: --supervised <dataDir>. Prints "out N" on stdout and "err N" on stderr every 5 ms until
// SIGTERM, then "out last" and exits.
const FAKE_EDGE = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const dataDir = process.argv[process.argv.length - 1];
const sock = path.join(dataDir, 'edge.sock');
fs.rmSync(sock, { force: true });
http.createServer((req, res) => {
  const body = JSON.stringify({ pid: process.pid, port: 1, buckets: [] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(sock, () => fs.writeFileSync(path.join(dataDir, 'edge.pid'), process.pid + '\\n'));
let n = 0;
const timer = setInterval(() => {
  process.stdout.write('out ' + n + '\\n');
  process.stderr.write('err ' + n + '\\n');
  n++;
}, 5);
process.on('SIGTERM', () => { clearInterval(timer); process.stdout.write('out last'); process.exit(0); });
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lines of the platform log store's edge segments (read afresh from disk), as stream + text. */
function storedLines(dataDir: string): { stream: string; text: string }[] {
  return new LogStore({ root: join(dataDir, PLATFORM_LOG_DIR) })
    .segments(EDGE_LOG_KEY)
    .flatMap((seg) => readFileSync(seg.path, 'utf8').split('\n').filter(Boolean))
    .map((l) => {
      const [, , stream, ...text] = l.split('\t');
      return { stream: stream!, text: text.join('\t') };
    });
}

describe('edge supervisor: the edge output reaches the log store across a control-plane crash', () => {
  let dataDir: string;
  let edgePid = 0;
  afterEach(() => {
    if (edgePid && isAlive(edgePid)) process.kill(edgePid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('kill -9 of the control plane: the adopted edge goes on logging and every line arrives once', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-edge-logs-'));
    const bin = join(dataDir, 'bin', 'edge');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'main.cjs'), FAKE_EDGE);
    // the supervisor recognises a surviving edge by `edge/main` and `--supervised` in its command line
    const command = { execPath: process.execPath, args: [join(bin, 'main.cjs'), '--supervised', dataDir] };

    const first = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/edge-supervisor-child.ts', dataDir, JSON.stringify(command)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ pid: number; adopted: boolean }>((resolve, reject) => {
      first.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { pid: number; adopted: boolean }));
      first.once('exit', (code) => reject(new Error(`supervisor exited with ${code}`)));
    });
    edgePid = started.pid;
    expect(started.adopted).toBe(false);
    await sleep(600);
    const crashed = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await crashed;
    // the edge lives on and logs while no control plane runs
    await sleep(500);
    expect(isAlive(edgePid)).toBe(true);

    const store = new LogStore({ root: join(dataDir, PLATFORM_LOG_DIR) });
    const before = storedLines(dataDir).length;
    const second = new EdgeSupervisor({
      dataDir,
      env: { ...process.env },
      log: { info() {}, warn() {}, error() {} },
      command,
      logSink: (lines) => store.append(EDGE_LOG_KEY, lines),
    });
    const again = await second.start();
    expect(again).toMatchObject({ pid: edgePid, adopted: true });
    await sleep(600);
    const whileAdopted = storedLines(dataDir).length;
    await second.close();
    expect(isAlive(edgePid)).toBe(false);

    const lines = storedLines(dataDir);
    const numbers = (stream: string) => lines.filter((l) => l.stream === stream && l.text !== 'out last').map((l) => Number(l.text.split(' ')[1]));
    for (const [stream, tag] of [['o', 'out'], ['e', 'err']] as const) {
      const got = numbers(stream);
      expect(lines.filter((l) => l.stream === stream).every((l) => l.text.startsWith(tag))).toBe(true);
      // every line from 0 on, in order, none twice
      expect(got).toEqual(got.map((_, i) => i));
    }
    expect(lines.at(-1)).toEqual({ stream: 'o', text: 'out last' });
    // lines arrived before the crash, and after the adoption (the crash window's included)
    expect(before).toBeGreaterThan(0);
    expect(whileAdopted).toBeGreaterThan(before);
    console.log(`[edge logs] ${lines.length} lines stored (${before} before the crash, ${whileAdopted - before} after the adoption up to the stop), none lost, none duplicated`);
  }, 60_000);
});
