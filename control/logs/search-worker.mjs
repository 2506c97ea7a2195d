// The log scanner, run in a worker thread so that no search (a slow regex above all) can
// stall the control plane's event loop: the main thread sends a plan (byte ranges of
// segment files, newest first) and the filters, and kills this worker when it runs past its
// time limit. Plain JavaScript because worker threads load files natively (no TS loader).
//
// Segment lines are `${timeMs}\t${instance}\t${o|e}\t${text}\n` (see store.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const NL = 10;
const TAB = 9;
const CHUNK = 1 << 20;

/** Parses the line in buf[ls, le) (le at its '\n'); null when malformed. */
function parseLine(buf, ls, le) {
  const t1 = buf.indexOf(TAB, ls);
  if (t1 < 0 || t1 >= le) return null;
  const t2 = buf.indexOf(TAB, t1 + 1);
  if (t2 < 0 || t2 >= le) return null;
  const t3 = t2 + 2;
  if (t3 >= le || buf[t3] !== TAB) return null;
  const time = Number(buf.toString('latin1', ls, t1));
  if (!Number.isFinite(time)) return null;
  return { time, instance: buf.toString('utf8', t1 + 1, t2), stream: buf[t2 + 1] === 101 ? 'stderr' : 'stdout', msgStart: t3 + 1 };
}

function scan(job) {
  const { ranges, fromMs, toMs, instance, query, regex, limit } = job;
  const re = regex ? new RegExp(query, 'u') : null;
  const needle = !regex && query ? Buffer.from(query, 'utf8') : null;
  const instNeedle = instance != null ? Buffer.from(`\t${instance}\t`, 'utf8') : null;
  const lines = [];
  let scannedBytes = 0;
  for (const r of ranges) {
    let fd;
    try {
      fd = openSync(r.path, 'r');
    } catch {
      continue; // dropped since the plan was made
    }
    try {
      let end = r.hi;
      const buf = Buffer.allocUnsafe(CHUNK);
      while (end > r.lo) {
        let start = Math.max(r.lo, end - CHUNK);
        const n = readSync(fd, buf, 0, end - start, start);
        scannedBytes += n;
        let off = 0;
        if (start > r.lo) {
          // begin at a line start; the cut-off head is read again with the next chunk
          const nl = buf.indexOf(NL, 0);
          if (nl < 0 || nl >= n - 1) break; // no line boundary (cannot happen with capped lines)
          off = nl + 1;
        }
        const view = buf.subarray(0, n);
        // walk lines backwards: [ls, le) with view[le] === '\n'
        let pos = n - 1; // index of the '\n' ending the current line
        const probe = needle ?? instNeedle;
        while (pos >= off) {
          let ls;
          let le;
          if (probe) {
            const hit = view.lastIndexOf(probe, pos - 1);
            if (hit < off) break;
            ls = view.lastIndexOf(NL, hit) + 1;
            if (ls < off) ls = off;
            le = view.indexOf(NL, hit);
            if (le < 0 || le > pos) le = pos;
          } else {
            le = pos;
            ls = view.lastIndexOf(NL, le - 1) + 1;
            if (ls < off) ls = off;
          }
          pos = ls - 1;
          const p = parseLine(view, ls, le);
          if (!p) continue;
          if (p.time < fromMs || p.time > toMs) continue;
          if (instance != null && p.instance !== instance) continue;
          let text;
          if (needle) {
            if (view.subarray(p.msgStart, le).indexOf(needle) < 0) continue;
          } else if (re) {
            text = view.toString('utf8', p.msgStart, le);
            if (!re.test(text)) continue;
          }
          lines.push({ time: p.time, instance: p.instance, stream: p.stream, line: text ?? view.toString('utf8', p.msgStart, le), seq: r.seq, offset: start + ls });
          if (lines.length >= limit) return { lines, scannedBytes, complete: false };
        }
        end = start + off;
      }
    } finally {
      closeSync(fd);
    }
  }
  return { lines, scannedBytes, complete: true };
}

parentPort.on('message', (job) => {
  try {
    parentPort.postMessage({ id: job.id, ok: true, result: scan(job) });
  } catch (error) {
    parentPort.postMessage({ id: job.id, ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
