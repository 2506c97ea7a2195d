// The local write-ahead spool of inference records: records are appended to an open batch
// file; a full or old batch is sealed (made durable, renamed) and handed to the uploader.
//
// Two durability modes (SLUICE_CAPTURE_SYNC):
//  - 'background' (default): append() writes the record into the batch file at once (one
//    write(2) into the page cache, no thread-pool round trip) and the caller may answer:
//    from then on the record survives the process being killed (SIGKILL, OOM), because the
//    kernel holds it. fdatasync runs in the background for everything written, in groups,
//    every `syncIntervalMs` (≤ 50 ms): a power loss or kernel crash can lose at most the
//    records of that window. Nothing on the request's path waits for the disk.
//  - 'always': a record is acknowledged only once its bytes are on disk (the batch file is
//    opened O_DSYNC; one write acknowledges every record that arrived meanwhile — group
//    commit), so even a power loss loses nothing acknowledged, at the price of a disk
//    round trip before each answer.
// A write that fails (full disk, I/O error) rejects that append and abandons the batch (its
// torn tail is discarded by the uploader's parser); the next append starts a new batch.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fdatasync, fsync, openSync, writeSync, close as closeCb } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InferenceRecord } from './record.ts';

export const OPEN_SUFFIX = '.open.ndjson';
export const SEALED_SUFFIX = '.ndjson';

export type SpoolSync = 'background' | 'always';
export const SPOOL_SYNC_MODES: readonly SpoolSync[] = ['background', 'always'];
/** The longest a written record waits for its fdatasync in 'background' mode. */
export const DEFAULT_SYNC_INTERVAL_MS = 50;

export interface SpoolOptions {
  dir: string;
  maxBatchRecords: number;
  maxBatchBytes: number;
  maxBatchAgeMs: number;
  onSealed: () => void;
  /** default 'background' */
  sync?: SpoolSync;
  /** 'background' mode: fdatasync period (default 50 ms) */
  syncIntervalMs?: number;
  now?: () => number;
  /** the file system calls, for tests that simulate a full disk */
  fs?: Partial<SpoolFs>;
}

/** The synchronous calls the background mode makes on the request path. */
export interface SpoolFs {
  openSync(file: string, flags: number, mode: number): number;
  writeSync(fd: number, buffer: Buffer, offset: number, length: number): number;
}

type Waiter = { resolve: () => void; reject: (err: Error) => void };

// 'always' mode: batch files are opened with O_DSYNC: each write returns only once its bytes
// (and the file size that makes them readable) are on disk, the same guarantee as write +
// fdatasync but in one syscall and one thread-pool round trip.
const DSYNC_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;
const PLAIN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND;

const fdatasyncP = promisify(fdatasync);
const fsyncP = promisify(fsync);
const closeP = promisify(closeCb);

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

/** An open batch in 'background' mode: a raw descriptor written synchronously. */
interface FdBatch {
  fd: number;
  name: string;
  records: number;
  bytes: number;
  /** bytes written since the last fdatasync */
  dirty: boolean;
  /** the folder entry of a new file is not durable until the folder is fsync'd once */
  dirSynced: boolean;
  openedAt: number;
}

export class Spool {
  private readonly o: Required<Omit<SpoolOptions, 'now' | 'fs' | 'sync' | 'syncIntervalMs'>> & { now: () => number };
  readonly sync: SpoolSync;
  private readonly syncIntervalMs: number;
  private readonly fs: SpoolFs;
  // 'always' mode
  private file: { fh: FileHandle; name: string; records: number; bytes: number; openedAt: number } | undefined;
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  // 'background' mode
  private batch: FdBatch | undefined;
  /** background work in order (fdatasync of the open batch, sealing of rotated ones) */
  private chain: Promise<void> = Promise.resolve();
  private chained = 0;
  private syncTimer: NodeJS.Timeout | undefined;

  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: SpoolOptions) {
    this.o = {
      dir: options.dir,
      maxBatchRecords: options.maxBatchRecords,
      maxBatchBytes: options.maxBatchBytes,
      maxBatchAgeMs: options.maxBatchAgeMs,
      onSealed: options.onSealed,
      now: options.now ?? Date.now,
    };
    this.sync = options.sync ?? 'background';
    if (!SPOOL_SYNC_MODES.includes(this.sync)) throw new Error(`unknown spool sync mode ${JSON.stringify(this.sync)} (background or always)`);
    this.syncIntervalMs = Math.max(1, Math.min(DEFAULT_SYNC_INTERVAL_MS, options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS));
    const fs = options.fs;
    this.fs = {
      openSync: fs?.openSync ? fs.openSync.bind(fs) : openSync,
      writeSync: fs?.writeSync ? fs.writeSync.bind(fs) : writeSync,
    };
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
    if (this.sync === 'background') {
      this.syncTimer = setInterval(() => this.syncInBackground(), this.syncIntervalMs);
      this.syncTimer.unref();
    }
  }

  /** Sealed batch files, oldest first. */
  async sealed(): Promise<string[]> {
    const names = await readdir(this.o.dir);
    return names
      .filter((n) => n.endsWith(SEALED_SUFFIX) && !n.endsWith(OPEN_SUFFIX))
      .sort()
      .map((n) => path.join(this.o.dir, n));
  }

  /**
   * 'background': resolves once the record is in the batch file (survives the process being
   * killed; on disk within syncIntervalMs). 'always': resolves once it is on disk.
   */
  append(record: InferenceRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('inference log spool is closed'));
    const line = JSON.stringify(record) + '\n';
    if (this.sync === 'background') {
      try {
        this.writeNow(line);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push(line);
      this.waiters.push({ resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  /**
   * Several records at once, as append() each but in one write(2) per batch file they land
   * in ('always': one group commit): the Envoy capture hands over every record of one
   * access-log message together, so a batch of entries costs the spool one syscall, not one
   * per entry. Batch boundaries are kept exactly (a batch never holds more than
   * maxBatchRecords). Resolves when every record is written; rejects (all of them counted as
   * failed) when a write fails.
   */
  appendMany(records: readonly InferenceRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('inference log spool is closed'));
    if (records.length === 0) return Promise.resolve();
    const lines = records.map((r) => JSON.stringify(r) + '\n');
    if (this.sync === 'background') {
      try {
        for (let i = 0; i < lines.length; ) {
          const b = this.batch ?? this.openBatch();
          const room = Math.max(1, this.o.maxBatchRecords - b.records);
          let bytes = b.bytes;
          let n = 0;
          // at least one line per write, then as many as fit the batch's record and byte limits
          while (i + n < lines.length && n < room && (n === 0 || bytes < this.o.maxBatchBytes)) bytes += Buffer.byteLength(lines[i + n++]!, 'utf8');
          this.writeNow(n === 1 ? lines[i]! : lines.slice(i, i + n).join(''), n);
          i += n;
        }
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return new Promise<void>((resolve, reject) => {
      // (one waiter for the lot: the loop settles every waiter of a flush together)
      this.pending.push(...lines);
      this.waiters.push({ resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  // -------------------------------------------------------------------------------------
  // 'background' mode

  /** Writes `records` whole lines (`text`) into the open batch, synchronously. */
  private writeNow(text: string, records = 1): void {
    const b = this.batch ?? this.openBatch();
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    try {
      // a short write (disk nearly full) gets one more try for the rest, then counts as failed
      for (let tries = 0; off < buf.length && tries < 2; tries++) off += this.fs.writeSync(b.fd, buf, off, buf.length - off);
      if (off < buf.length) throw Object.assign(new Error(`short write to the inference spool (${off} of ${buf.length} bytes): disk full?`), { code: 'ENOSPC' });
    } catch (err) {
      // the batch may end in a torn line now: close it as it is (the uploader skips the tail)
      if (off > 0 || b.records > 0) b.dirty = true;
      this.rotate();
      throw err;
    }
    b.records += records;
    b.bytes += buf.length;
    b.dirty = true;
    if (b.records >= this.o.maxBatchRecords || b.bytes >= this.o.maxBatchBytes) this.rotate();
  }

  private openBatch(): FdBatch {
    const now = this.o.now();
    const name = newBatchName(now);
    const fd = this.fs.openSync(path.join(this.o.dir, name + OPEN_SUFFIX), PLAIN_FLAGS, 0o666);
    this.batch = { fd, name, records: 0, bytes: 0, dirty: false, dirSynced: false, openedAt: now };
    return this.batch;
  }

  /** Queues background work after what is already queued (each step's failure stays its own). */
  private enqueue(step: () => Promise<void>): Promise<void> {
    this.chained++;
    const next = this.chain.then(step).catch(() => undefined).finally(() => {
      this.chained--;
    });
    this.chain = next;
    return next;
  }

  /** The periodic group fdatasync of the open batch (and its folder entry, once). */
  private syncInBackground(): void {
    const b = this.batch;
    if (!b || (!b.dirty && b.dirSynced) || this.chained > 0) return;
    b.dirty = false;
    void this.enqueue(async () => {
      if (!b.dirSynced) {
        await fsyncDir(this.o.dir);
        b.dirSynced = true;
      }
      if (this.batch === b) await fdatasyncP(b.fd);
    });
  }

  /** Takes the open batch off the write path; it is made durable and sealed in the background. */
  private rotate(): Promise<void> {
    const b = this.batch;
    if (!b) return this.chain;
    this.batch = undefined;
    return this.enqueue(async () => {
      if (b.records === 0 && !b.dirty) {
        await closeP(b.fd);
        await unlink(path.join(this.o.dir, b.name + OPEN_SUFFIX)).catch(() => undefined);
        return;
      }
      // durable before it is renamed: a sealed batch is never cut short by a crash
      await fsyncP(b.fd);
      await closeP(b.fd);
      await rename(path.join(this.o.dir, b.name + OPEN_SUFFIX), path.join(this.o.dir, b.name + SEALED_SUFFIX));
      await fsyncDir(this.o.dir);
      this.o.onSealed();
    });
  }

  // -------------------------------------------------------------------------------------
  // 'always' mode

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
          // the batch may hold a torn line: start a new one for the next records
          await this.seal().catch(() => undefined);
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
      const fh = await open(path.join(this.o.dir, name + OPEN_SUFFIX), DSYNC_FLAGS, 0o666);
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

  // -------------------------------------------------------------------------------------
  // both modes

  private async sealIfOld(): Promise<void> {
    if (this.sync === 'background') {
      const b = this.batch;
      if (b && b.records > 0 && this.o.now() - b.openedAt >= this.o.maxBatchAgeMs) await this.rotate();
      return;
    }
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
    if (this.sync === 'background') {
      if (this.batch && this.batch.records > 0) await this.rotate();
      while (this.chained > 0) await this.chain;
      return;
    }
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
    if (this.syncTimer) clearInterval(this.syncTimer);
    await this.sealNow();
    this.closed = true;
    if (this.batch) {
      // Empty open batch: nothing to keep.
      const b = this.batch;
      this.batch = undefined;
      closeSync(b.fd);
      await unlink(path.join(this.o.dir, b.name + OPEN_SUFFIX)).catch(() => {});
    }
    if (this.file) {
      await this.file.fh.close();
      await unlink(path.join(this.o.dir, this.file.name + OPEN_SUFFIX)).catch(() => {});
      this.file = undefined;
    }
  }
}
