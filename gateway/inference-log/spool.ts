// The local write-ahead spool of inference records: records are appended to an open batch
// file and fsync'd in groups (one fsync acknowledges every record that arrived meanwhile);
// a full or old batch is sealed (renamed) and handed to the uploader. A record counts as
// acknowledged only once its bytes are fsync'd, so a crash loses nothing acknowledged.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceRecord } from './record.ts';

export const OPEN_SUFFIX = '.open.ndjson';
export const SEALED_SUFFIX = '.ndjson';

export interface SpoolOptions {
  dir: string;
  maxBatchRecords: number;
  maxBatchBytes: number;
  maxBatchAgeMs: number;
  onSealed: () => void;
  now?: () => number;
}

type Waiter = { resolve: () => void; reject: (err: Error) => void };

// Batch files are opened with O_DSYNC: each write returns only once its bytes (and the file
// size that makes them readable) are on disk, the same guarantee as write + fdatasync but in
// one syscall and one thread-pool round trip, which is most of a capture's CPU per flush.
const BATCH_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Names sort by creation time, so batches upload in order; the random tail makes them unique across processes. */
export function newBatchName(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${randomBytes(6).toString('hex')}`;
}

export class Spool {
  private readonly o: Required<Omit<SpoolOptions, 'now'>> & { now: () => number };
  private file: { fh: FileHandle; name: string; records: number; bytes: number; openedAt: number } | undefined;
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: SpoolOptions) {
    this.o = { ...options, now: options.now ?? Date.now };
  }

  /** Creates the folder and seals batches a previous process left open (after a crash). */
  async open(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    for (const name of await readdir(this.o.dir)) {
      if (name.endsWith(OPEN_SUFFIX)) {
        await rename(path.join(this.o.dir, name), path.join(this.o.dir, name.slice(0, -OPEN_SUFFIX.length) + SEALED_SUFFIX));
      }
    }
    await fsyncDir(this.o.dir);
    this.timer = setInterval(() => void this.sealIfOld(), Math.max(50, Math.min(1000, this.o.maxBatchAgeMs / 2)));
    this.timer.unref();
  }

  /** Sealed batch files, oldest first. */
  async sealed(): Promise<string[]> {
    const names = await readdir(this.o.dir);
    return names
      .filter((n) => n.endsWith(SEALED_SUFFIX) && !n.endsWith(OPEN_SUFFIX))
      .sort()
      .map((n) => path.join(this.o.dir, n));
  }

  /** Resolves once the record is on disk (fsync'd). */
  append(record: InferenceRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('inference log spool is closed'));
    const line = JSON.stringify(record) + '\n';
    return new Promise<void>((resolve, reject) => {
      this.pending.push(line);
      this.waiters.push({ resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const lines = this.pending;
        const waiters = this.waiters;
        this.pending = [];
        this.waiters = [];
        try {
          const f = await this.current();
          const chunk = Buffer.from(lines.join(''), 'utf8');
          await f.fh.write(chunk); // O_DSYNC: durable when this resolves
          f.records += lines.length;
          f.bytes += chunk.length;
          for (const w of waiters) w.resolve();
          if (f.records >= this.o.maxBatchRecords || f.bytes >= this.o.maxBatchBytes) await this.seal();
        } catch (err) {
          for (const w of waiters) w.reject(err as Error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async current() {
    if (!this.file) {
      const now = this.o.now();
      const name = newBatchName(now);
      const fh = await open(path.join(this.o.dir, name + OPEN_SUFFIX), BATCH_FLAGS, 0o666);
      // The new name must survive a crash too, or its fsync'd records would vanish with it.
      await fsyncDir(this.o.dir);
      this.file = { fh, name, records: 0, bytes: 0, openedAt: now };
    }
    return this.file;
  }

  private async seal(): Promise<void> {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    await f.fh.close();
    await rename(path.join(this.o.dir, f.name + OPEN_SUFFIX), path.join(this.o.dir, f.name + SEALED_SUFFIX));
    await fsyncDir(this.o.dir);
    this.o.onSealed();
  }

  private async sealIfOld(): Promise<void> {
    if (this.flushing || !this.file || this.file.records === 0) return;
    if (this.o.now() - this.file.openedAt < this.o.maxBatchAgeMs) return;
    this.flushing = this.seal().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.flushing = this.flushLoop();
    });
    await this.flushing;
  }

  /** Waits for pending appends, then seals the open batch (if it holds anything). */
  async sealNow(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.file && this.file.records > 0) {
      const p = this.seal();
      this.flushing = p.finally(() => {
        this.flushing = undefined;
      });
      await p;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sealNow();
    this.closed = true;
    if (this.file) {
      // Empty open batch: nothing to keep.
      await this.file.fh.close();
      await unlink(path.join(this.o.dir, this.file.name + OPEN_SUFFIX)).catch(() => {});
      this.file = undefined;
    }
  }
}
