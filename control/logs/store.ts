// The on-disk log store: every version's instance output in append-only segment files under
// `{root}/{versionId}/`, each with a sparse time index, capped per version (oldest segments
// are dropped first and the lines they held are counted in `dropped`). Appends come from the
// local orchestrator's tails; searches are planned here (which byte ranges of which segments
// can hold lines of a time window) and run by the scanner in search.ts.
//
// Segment line format: `${timeMs}\t${instance}\t${o|e}\t${text}\n` (o = stdout, e = stderr).
// Times are the arrival time at the control plane, kept non-decreasing per version so the
// index can bound a window by byte offsets.

import { appendFileSync, mkdirSync, openSync, readSync, closeSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { badInput } from '../../platform/errors.ts';
import type { LogLine } from '../orchestrator/port.ts';

export const DEFAULT_LOG_CAP_BYTES = 256 * 1024 * 1024;
/** one index entry per this many bytes of segment data */
const INDEX_EVERY = 64 * 1024;

interface IndexEntry {
  t: number;
  off: number;
  /** lines in the segment before this offset */
  n: number;
}

interface Segment {
  seq: number;
  path: string;
  idxPath: string;
  size: number;
  lines: number;
  firstMs: number;
  lastMs: number;
  index: IndexEntry[];
  lastIndexedOff: number;
}

interface VersionLogs {
  dir: string;
  segments: Segment[]; // oldest first
  dropped: number;
  lastMs: number;
}

/** A byte range of one segment that the scanner reads backwards. */
export interface ScanRange {
  seq: number;
  path: string;
  lo: number;
  hi: number;
}

/** Where a page ends: the oldest line returned, so the next page reads what lies before it. */
export interface LogCursor {
  seq: number;
  offset: number;
}

export const encodeCursor = (c: LogCursor) => `${c.seq}.${c.offset}`;

export function decodeCursor(text: string): LogCursor {
  const m = /^(\d{1,12})\.(\d{1,15})$/.exec(text);
  if (!m) throw badInput(`"before" is not a cursor this server handed out: ${JSON.stringify(text.slice(0, 40))}`, { reason: 'BAD_CURSOR' });
  return { seq: Number(m[1]), offset: Number(m[2]) };
}

export interface LogStoreOptions {
  root: string;
  /** bytes kept per version (default 256 MiB) */
  capBytes?: number;
  /** size at which a segment is closed and a new one begun (default cap/8, 64 KiB .. 32 MiB) */
  segmentBytes?: number;
  now?: () => number;
}

const VERSION_ID = /^[A-Za-z0-9_-]{1,100}$/;

export class LogStore {
  readonly capBytes: number;
  private readonly segmentBytes: number;
  private readonly versions = new Map<string, VersionLogs>();
  private readonly listeners = new Map<string, Set<(lines: LogLine[]) => void>>();

  constructor(private readonly options: LogStoreOptions) {
    this.capBytes = options.capBytes ?? DEFAULT_LOG_CAP_BYTES;
    this.segmentBytes = options.segmentBytes ?? Math.min(32 * 1024 * 1024, Math.max(64 * 1024, Math.floor(this.capBytes / 8)));
    mkdirSync(options.root, { recursive: true });
  }

  /** Appends a batch (one tail drain) and tells the followers. Never throws on a full disk. */
  append(versionId: string, batch: LogLine[]): void {
    if (batch.length === 0) return;
    const v = this.open(versionId);
    let text = '';
    let seg = v.segments.at(-1) ?? this.newSegment(v);
    let pendingIndex: IndexEntry[] = [];
    let added = 0;
    let bytes = 0;
    const stamped: LogLine[] = [];
    const flush = () => {
      if (!text) return;
      try {
        appendFileSync(seg.path, text);
        if (pendingIndex.length > 0) appendFileSync(seg.idxPath, pendingIndex.map((e) => `${e.t} ${e.off} ${e.n}\n`).join(''));
      } catch {
        // a full disk loses these lines, never the replica: the raw files still hold them
        return;
      }
      seg.size += bytes;
      seg.lines += added;
      seg.index.push(...pendingIndex);
      text = '';
      pendingIndex = [];
      added = 0;
      bytes = 0;
    };
    for (const l of batch) {
      const t = Math.max(l.time.getTime(), v.lastMs);
      v.lastMs = t;
      const body = l.line.includes('\n') ? l.line.replace(/\n/g, ' ') : l.line;
      const rec = `${t}\t${l.instance}\t${l.stream === 'stderr' ? 'e' : 'o'}\t${body}\n`;
      const len = Buffer.byteLength(rec);
      if (seg.size + bytes > 0 && seg.size + bytes + len > this.segmentBytes) {
        flush();
        seg = this.newSegment(v);
      }
      const off = seg.size + bytes;
      if (off === 0 || off - seg.lastIndexedOff >= INDEX_EVERY) {
        pendingIndex.push({ t, off, n: seg.lines + added });
        seg.lastIndexedOff = off;
      }
      if (seg.size + bytes === 0) seg.firstMs = t;
      seg.lastMs = t;
      text += rec;
      bytes += len;
      added++;
      stamped.push(t === l.time.getTime() ? l : { ...l, time: new Date(t) });
    }
    flush();
    this.enforceCap(v);
    const subs = this.listeners.get(versionId);
    if (subs) for (const fn of subs) {
      try {
        fn(stamped);
      } catch {
        // a failing follower must not stop ingestion
      }
    }
  }

  /** New lines of a version as they are stored; returns the unsubscribe. */
  follow(versionId: string, listener: (lines: LogLine[]) => void): () => void {
    let set = this.listeners.get(versionId);
    if (!set) {
      set = new Set();
      this.listeners.set(versionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(versionId) === set) this.listeners.delete(versionId);
    };
  }

  /** Lines dropped by the size cap since the version first logged. */
  dropped(versionId: string): number {
    return this.open(versionId).dropped;
  }

  stats(versionId: string): { bytes: number; segments: number; lines: number; dropped: number } {
    const v = this.open(versionId);
    return {
      bytes: v.segments.reduce((s, g) => s + g.size, 0),
      segments: v.segments.length,
      lines: v.segments.reduce((s, g) => s + g.lines, 0),
      dropped: v.dropped,
    };
  }

  /** The byte ranges, newest first, that can hold lines of [fromMs, toMs] before `cursor`. */
  plan(versionId: string, fromMs: number, toMs: number, cursor: LogCursor | null): ScanRange[] {
    const v = this.open(versionId);
    const out: ScanRange[] = [];
    for (let i = v.segments.length - 1; i >= 0; i--) {
      const s = v.segments[i] as Segment;
      if (cursor && s.seq > cursor.seq) continue;
      if (s.size === 0 || s.lastMs < fromMs || s.firstMs > toMs) continue;
      let lo = 0;
      let hi = s.size;
      for (const e of s.index) {
        if (e.t < fromMs) lo = e.off;
        else if (e.t > toMs) {
          hi = e.off;
          break;
        }
      }
      if (cursor && s.seq === cursor.seq) hi = Math.min(hi, cursor.offset);
      if (hi > lo) out.push({ seq: s.seq, path: s.path, lo, hi });
    }
    return out;
  }

  /** Versions with stored logs (on disk, including ones not opened yet). */
  versionIds(): string[] {
    try {
      return readdirSync(this.options.root).filter((d) => VERSION_ID.test(d));
    } catch {
      return [];
    }
  }

  /** The version's segments, oldest first, with their current sizes (for log delivery). */
  segments(versionId: string): { seq: number; path: string; size: number }[] {
    return this.open(versionId).segments.map((s) => ({ seq: s.seq, path: s.path, size: s.size }));
  }

  /** The version's folder (delivery keeps its cursor there). */
  dirOf(versionId: string): string {
    return this.open(versionId).dir;
  }

  /** Forgets a deleted version's logs. */
  remove(versionId: string): void {
    const v = this.open(versionId);
    this.versions.delete(versionId);
    rmSync(v.dir, { recursive: true, force: true });
  }

  private open(versionId: string): VersionLogs {
    const known = this.versions.get(versionId);
    if (known) return known;
    if (!VERSION_ID.test(versionId)) throw badInput(`not a version id: ${JSON.stringify(versionId.slice(0, 40))}`);
    const dir = join(this.options.root, versionId);
    mkdirSync(dir, { recursive: true });
    const v: VersionLogs = { dir, segments: [], dropped: readDropped(join(dir, 'meta.json')), lastMs: 0 };
    const seqs = readdirSync(dir)
      .map((f) => /^(\d+)\.log$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const seq of seqs) v.segments.push(loadSegment(dir, seq));
    v.lastMs = v.segments.at(-1)?.lastMs ?? 0;
    this.versions.set(versionId, v);
    return v;
  }

  private newSegment(v: VersionLogs): Segment {
    const seq = (v.segments.at(-1)?.seq ?? 0) + 1;
    const seg: Segment = {
      seq,
      path: join(v.dir, `${pad(seq)}.log`),
      idxPath: join(v.dir, `${pad(seq)}.idx`),
      size: 0,
      lines: 0,
      firstMs: 0,
      lastMs: 0,
      index: [],
      lastIndexedOff: 0,
    };
    try {
      writeFileSync(seg.path, '');
      writeFileSync(seg.idxPath, '');
    } catch {
      // appends will fail the same way and be skipped
    }
    v.segments.push(seg);
    return seg;
  }

  private enforceCap(v: VersionLogs): void {
    let total = v.segments.reduce((s, g) => s + g.size, 0);
    let changed = false;
    while (total > this.capBytes && v.segments.length > 1) {
      const oldest = v.segments.shift() as Segment;
      total -= oldest.size;
      v.dropped += oldest.lines;
      changed = true;
      rmSync(oldest.path, { force: true });
      rmSync(oldest.idxPath, { force: true });
    }
    if (changed) {
      try {
        writeFileSync(join(v.dir, 'meta.json'), JSON.stringify({ dropped: v.dropped }));
      } catch {
        // the count is best effort on a full disk
      }
    }
  }
}

const pad = (seq: number) => String(seq).padStart(10, '0');

function readDropped(path: string): number {
  try {
    const n = (JSON.parse(readFileSync(path, 'utf8')) as { dropped?: unknown }).dropped;
    return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Rebuilds a segment's bookkeeping from its files (after a restart). */
function loadSegment(dir: string, seq: number): Segment {
  const path = join(dir, `${pad(seq)}.log`);
  const idxPath = join(dir, `${pad(seq)}.idx`);
  const size = statSync(path).size;
  const index: IndexEntry[] = [];
  try {
    for (const row of readFileSync(idxPath, 'utf8').split('\n')) {
      const [t, off, n] = row.split(' ').map(Number);
      if (t === undefined || off === undefined || n === undefined || !Number.isFinite(t + off + n) || off >= size) continue;
      index.push({ t, off, n });
    }
  } catch {
    // no index: the whole segment is one range
  }
  const last = index.at(-1) ?? { t: 0, off: 0, n: 0 };
  // count the lines after the last index entry and read the newest time
  const len = size - last.off;
  const buf = Buffer.alloc(len);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, len, last.off);
  } finally {
    closeSync(fd);
  }
  let lines = last.n;
  let lastLineStart = 0;
  for (let i = 0; i < len; i++) {
    if (buf[i] === 10) {
      lines++;
      if (i + 1 < len) lastLineStart = i + 1;
    }
  }
  const lastMs = Number(buf.toString('latin1', lastLineStart, buf.indexOf(9, lastLineStart))) || last.t;
  const firstMs = index[0]?.t ?? lastMs;
  return { seq, path, idxPath, size, lines, firstMs, lastMs, index, lastIndexedOff: last.off };
}
