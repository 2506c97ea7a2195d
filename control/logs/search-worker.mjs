// The log scanner, run in a worker thread so that no search (a slow regex above all) can
// stall the control plane's event loop: the main thread sends a plan (byte ranges of
// segment files, newest first) and the filters, and kills this worker when it runs past its
// time limit. Plain JavaScript because worker threads load files natively (no TS loader).
//
// Segment lines are `${timeMs}\t${instance}\t${o|e}\t${text}\n` (see store.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { isAscii } from 'node:buffer';
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

/**
 * The longest run of plain characters every match of `pattern` must contain (grep's trick):
 * lines without it cannot match, so Buffer.lastIndexOf skips them and only the rest meet the
 * regex. '' when there is no such run (top-level alternation, or no literals).
 */
export function requiredLiteral(pattern) {
  let best = '';
  let cur = '';
  const flush = () => {
    if (cur.length > best.length) best = cur;
    cur = '';
  };
  const quantifierAt = (i) => {
    const q = pattern[i];
    if (q === '?' || q === '*' || (q === '{' && /^\{0[,}]/.test(pattern.slice(i)))) return 'optional';
    if (q === '+' || q === '{') return 'repeat';
    return null;
  };
  const addChar = (ch, next) => {
    const q = quantifierAt(next);
    if (q === 'optional') flush();
    else if (q === 'repeat') {
      cur += ch;
      flush();
    } else cur += ch;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const e = pattern[i + 1] ?? '';
      i++;
      if (/[.*+?^${}()|[\]\\/-]/.test(e)) addChar(e, i + 1);
      else flush(); // \d, \w, \b, \u…: not a plain character
      continue;
    }
    if (c === '|') return '';
    if (c === '(' || c === '[') {
      flush();
      // skip the group or class (its content may be optional or alternated)
      let depth = 0;
      let inClass = false;
      for (; i < pattern.length; i++) {
        const d = pattern[i];
        if (d === '\\') { i++; continue; }
        if (inClass) { if (d === ']') { inClass = false; if (depth === 0) break; } continue; }
        if (d === '[') { inClass = true; continue; }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      continue;
    }
    if ('.^$)]}'.includes(c)) { flush(); continue; }
    if ('?*+{'.includes(c)) { flush(); if (c === '{') i = Math.max(i, pattern.indexOf('}', i)); continue; }
    addChar(c, i + 1);
  }
  flush();
  return best;
}

/** Substring or instance search straight on the bytes (Buffer.lastIndexOf jumps between hits). */
function scanBytes(view, off, n, start, seq, needle, instNeedle, fromMs, toMs, instance, lines, limit, re = null) {
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
    if (needle && view.subarray(p.msgStart, le).indexOf(needle) < 0) continue;
    const text = view.toString('utf8', p.msgStart, le);
    if (re && !re.test(text)) continue;
    lines.push({ time: p.time, instance: p.instance, stream: p.stream, line: text, seq, offset: start + ls });
    if (lines.length >= limit) return true;
  }
  return false;
}

/** Bytes decoded at a time by the regex scan: small enough to stop soon once a page is full. */
const WINDOW = 64 * 1024;

/**
 * Regex search, newest line first, each line's message tested as a slice of its window. A
 * window (whole lines) is decoded once, as latin1 when it is all ASCII: that is a plain copy,
 * where UTF-8 decoding costs several times what the regex does (see the logs benchmark). The
 * window is walked forwards (String#indexOf is much faster than lastIndexOf) and its matches
 * handed out newest first.
 */
function scanRegex(view, off, n, start, seq, re, fromMs, toMs, instance, lines, limit) {
  let we = n; // the window's end, just after a '\n'
  while (we > off) {
    let ws = Math.max(off, we - WINDOW);
    if (ws > off) ws = Math.max(off, view.lastIndexOf(NL, ws - 1) + 1);
    const bytes = view.subarray(ws, we);
    const ascii = isAscii(bytes);
    const text = bytes.toString(ascii ? 'latin1' : 'utf8');
    const found = [];
    let charAt = 0; // UTF-8 windows: byte offset `byteAt` of character `charAt`, counted forwards
    let byteAt = 0;
    for (let ls = 0; ls < text.length; ) {
      let lineEnd = text.indexOf('\n', ls);
      if (lineEnd < 0) lineEnd = text.length;
      const lineStart = ls;
      ls = lineEnd + 1;
      const t1 = text.indexOf('\t', lineStart);
      if (t1 < 0 || t1 >= lineEnd) continue;
      const t2 = text.indexOf('\t', t1 + 1);
      if (t2 < 0 || t2 + 2 >= lineEnd || text.charCodeAt(t2 + 2) !== TAB) continue;
      const msg = text.slice(t2 + 3, lineEnd);
      if (!re.test(msg)) continue;
      const time = Number(text.slice(lineStart, t1));
      if (!(time >= fromMs && time <= toMs)) continue;
      const inst = text.slice(t1 + 1, t2);
      if (instance != null && inst !== instance) continue;
      if (!ascii) {
        byteAt += Buffer.byteLength(text.slice(charAt, lineStart));
        charAt = lineStart;
      }
      found.push({ time, instance: inst, stream: text.charCodeAt(t2 + 1) === 101 ? 'stderr' : 'stdout', line: msg, seq, offset: start + ws + (ascii ? lineStart : byteAt) });
    }
    for (let k = found.length - 1; k >= 0; k--) {
      lines.push(found[k]);
      if (lines.length >= limit) return true;
    }
    we = ws;
  }
  return false;
}

function scan(job) {
  const { ranges, fromMs, toMs, instance, query, regex, limit } = job;
  const re = regex ? new RegExp(query, 'u') : null;
  const literal = re ? requiredLiteral(query) : '';
  // a regex with a literal of its own is searched for that literal first
  const needle = !regex && query ? Buffer.from(query, 'utf8') : literal.length >= 3 ? Buffer.from(literal, 'utf8') : null;
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
        const hit = re && !needle
          ? scanRegex(view, off, n, start, r.seq, re, fromMs, toMs, instance, lines, limit)
          : scanBytes(view, off, n, start, r.seq, needle, instNeedle, fromMs, toMs, instance, lines, limit, re);
        if (hit) return { lines, scannedBytes, complete: false };
        end = start + off;
      }
    } finally {
      closeSync(fd);
    }
  }
  return { lines, scannedBytes, complete: true };
}

// (imported outside a worker by tests of requiredLiteral: no port then)
parentPort?.on('message', (job) => {
  try {
    parentPort.postMessage({ id: job.id, ok: true, result: scan(job) });
  } catch (error) {
    parentPort.postMessage({ id: job.id, ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
parentPort?.postMessage({ ready: true });
