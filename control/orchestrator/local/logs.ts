// Replica output: each replica writes stdout/stderr straight into raw files in its working
// dir (so it survives a control-plane crash with no broken pipe), and a tail here turns new
// bytes into stamped LogLines handed to a sink (the version's on-disk log store,
// control/logs/store.ts, which keeps, caps and searches them). Raw files are cut once
// consumed so a chatty model cannot fill the disk. How far the raw files have been consumed
// is saved after each hand-over, so a control plane that adopts a replica after a crash
// resumes exactly there: lines the replica wrote just before the crash, not yet tailed, are
// not skipped (at worst a line is stored twice, never lost).

import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import type { LogLine } from '../port.ts';

const MAX_LINE = 16 * 1024;
/**
 * Bytes read per turn. A chatty replica's backlog is taken in slices with the event loop free
 * in between (the tail continues on setImmediate), so ingesting 10 MB/s never holds the
 * control plane for long, and the throughput is not bounded by the poll period.
 */
const READ_SLICE = 512 * 1024;
/** A raw file this many caps ahead of its reader is skipped to its end (dropped, with a note). */
const BEHIND_LIMIT = 4;

/** Follows one append-only file from an offset and hands back complete lines. */
class FileFollower {
  private offset: number;
  private partial = '';
  /** the last read stopped at its slice size: more is waiting */
  more = false;

  constructor(
    private readonly path: string,
    startOffset: number,
    private readonly maxBytes: number,
  ) {
    // A saved offset past the end means the file was cut since: start over from its start.
    this.offset = existsSync(path) && startOffset <= statSync(path).size ? startOffset : 0;
  }

  /** bytes of the file consumed so far (complete lines and the pending partial one) */
  consumed(): number {
    return this.offset - Buffer.byteLength(this.partial);
  }

  read(): string[] {
    this.more = false;
    let fd: number;
    try {
      fd = openSync(this.path, 'r+');
    } catch {
      return [];
    }
    let text = '';
    const notes: string[] = [];
    try {
      let size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated under us
      if (size - this.offset > this.maxBytes * BEHIND_LIMIT) {
        // Written faster than it can be stored for long: the raw file would grow without
        // bound. What cannot be read is dropped, and said so in the log itself.
        const skipped = size - this.offset;
        this.offset = size;
        this.partial = '';
        notes.push(`[sluice] ${skipped} bytes of output dropped unread: the process wrote faster than its logs could be stored`);
      } else if (size > this.offset) {
        const buf = Buffer.alloc(Math.min(size - this.offset, READ_SLICE));
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        this.more = n === READ_SLICE;
        this.offset += n;
        text = buf.subarray(0, n).toString('utf8');
      }
      // The writer appends with O_APPEND, so cutting the file to zero once it is consumed keeps
      // it bounded — but only once all of it is consumed (a backlog past the cap was cut
      // unread before, silently). The check and the cut are two syscalls back to back on one
      // descriptor: a write landing between them is the only output this can lose.
      if (this.offset >= this.maxBytes && !this.more) {
        size = fstatSync(fd).size;
        if (size === this.offset) {
          ftruncateSync(fd, 0);
          this.offset = 0;
        } else {
          this.more = true; // more arrived meanwhile: read it first, cut on a later turn
        }
      }
    } finally {
      closeSync(fd);
    }
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > MAX_LINE) {
      parts.push(this.partial);
      this.partial = '';
    }
    const lines = parts.map((p) => (p.endsWith('\r') ? p.slice(0, -1) : p)).flatMap(splitLong);
    return notes.length > 0 ? [...notes, ...lines] : lines;
  }

  /** What is left without a newline (the process has exited). */
  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest ? splitLong(rest) : [];
  }
}

function splitLong(line: string): string[] {
  if (line.length <= MAX_LINE) return [line];
  const out: string[] = [];
  for (let i = 0; i < line.length; i += MAX_LINE) out.push(line.slice(i, i + MAX_LINE));
  return out;
}

export interface InstanceLogPaths {
  stdout: string;
  stderr: string;
  /** where the consumed offsets of stdout/stderr are saved after each append */
  offsets: string;
}

interface SavedOffsets {
  stdout: number;
  stderr: number;
}

function readSavedOffsets(path: string): SavedOffsets {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<SavedOffsets>;
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
    return { stdout: ok(parsed.stdout) ? parsed.stdout : 0, stderr: ok(parsed.stderr) ? parsed.stderr : 0 };
  } catch {
    // Nothing saved: nothing was formatted yet either, so everything in the raw files is new.
    return { stdout: 0, stderr: 0 };
  }
}

/** Where drained lines go (the log store, for the local orchestrator). */
export type LogSink = (lines: LogLine[]) => void;

/** Tails one instance's raw output into a sink. */
export class InstanceLogTail {
  private readonly out: FileFollower;
  private readonly err: FileFollower;
  private continuation: NodeJS.Immediate | null = null;
  /** the last stderr lines, for the reason of a crash */
  private readonly recentErr: string[] = [];

  constructor(
    private readonly instance: string,
    private readonly paths: InstanceLogPaths,
    private readonly sink: LogSink,
    private readonly now: () => Date,
    options: { resume: boolean; maxFileBytes: number },
  ) {
    const start = options.resume ? readSavedOffsets(paths.offsets) : { stdout: 0, stderr: 0 };
    this.out = new FileFollower(paths.stdout, start.stdout, options.maxFileBytes);
    this.err = new FileFollower(paths.stderr, start.stderr, options.maxFileBytes);
  }

  drain(final = false): void {
    const time = this.now();
    const batch: LogLine[] = [];
    const take = (stream: 'stdout' | 'stderr', lines: string[]) => {
      for (const line of lines) batch.push({ time, instance: this.instance, stream, line });
    };
    take('stdout', this.out.read());
    take('stderr', this.err.read());
    if (final) {
      take('stdout', this.out.flush());
      take('stderr', this.err.flush());
    }
    if (batch.length === 0) return;
    for (const l of batch) {
      if (l.stream === 'stderr') {
        this.recentErr.push(l.line);
        if (this.recentErr.length > 20) this.recentErr.shift();
      }
    }
    this.sink(batch);
    this.saveOffsets();
    if (!final && (this.out.more || this.err.more) && !this.continuation) {
      this.continuation = setImmediate(() => {
        this.continuation = null;
        this.drain();
      });
    }
  }

  private saveOffsets(): void {
    try {
      writeFileSync(this.paths.offsets, JSON.stringify({ stdout: this.out.consumed(), stderr: this.err.consumed() }));
    } catch {
      // A full disk costs at most re-reading some lines after an adoption.
    }
  }

  lastStderr(count: number): string[] {
    return this.recentErr.slice(-count);
  }

  clearRecent(): void {
    this.recentErr.length = 0;
  }
}
