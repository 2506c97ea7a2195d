// The inference-log writer: records go to the local spool (acknowledged once written, or
// once fsync'd with sync 'always'; see spool.ts), and
// sealed spool batches are uploaded to the object store as gzipped NDJSON, one object per
// group/version/hour partition, named after the spool batch. A batch is deleted from the
// spool only after every one of its objects is stored, and a retried upload writes the
// same names again (overwrite, never a second copy): at-least-once delivery plus idempotent
// names gives exactly one record per acknowledged request, across crashes and store outages.
import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import { partitionPrefix, type InferenceRecord } from './record.ts';
import { Counter, type Registry } from 'prom-client';
import { SEALED_SUFFIX, Spool, type SpoolFs, type SpoolSync } from './spool.ts';

const gzip = promisify(gzipCb);
// Level 1: about a third less CPU per record than zlib's default 6 (measured on NDJSON records
// of /predict bodies), for objects a few per cent larger; this CPU is the serving process's.
const GZIP = { level: 1 };

export type InferenceLogEvent =
  | { type: 'INFERENCE_LOG_STORE_UNAVAILABLE'; level: 'WARNING'; message: string; at: Date }
  | { type: 'INFERENCE_LOG_STORE_RECOVERED'; level: 'NORMAL'; message: string; at: Date }
  | { type: 'INFERENCE_LOG_SPOOL_FAILED'; level: 'WARNING'; message: string; at: Date }
  | { type: 'INFERENCE_LOG_SPOOL_RECOVERED'; level: 'NORMAL'; message: string; at: Date };

export interface InferenceLogWriterOptions {
  store: ObjectStore;
  /** Usually `${SLUICE_DATA_DIR}/spool/inference`. */
  spoolDir: string;
  maxBatchRecords?: number;
  maxBatchBytes?: number;
  /** A batch older than this is sealed and uploaded even if small. */
  maxBatchAgeMs?: number;
  /** Upload retry backoff, doubling from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
  onEvent?: (event: InferenceLogEvent) => void;
  /** SLUICE_CAPTURE_SYNC: 'background' (default: answer once written, fdatasync every ≤ 50 ms) or 'always' */
  sync?: SpoolSync;
  /** /metrics: sluice_inference_spool_errors_total */
  registry?: Registry;
  now?: () => number;
  /** the spool's synchronous file calls (tests simulate a full disk) */
  spoolFs?: Partial<SpoolFs>;
}

export interface WriterStats {
  acknowledged: number;
  uploadedBatches: number;
  uploadedRecords: number;
  failedUploads: number;
  /** Lines in spool files that did not parse (a torn tail after a crash: never acknowledged). */
  discardedLines: number;
}

/** How long partitionBatch may hold the edge's event loop before it lets other work run. */
const PARTITION_SLICE_MS = 4;

/**
 * Splits a spool batch into partition → NDJSON text, skipping a torn (unacknowledged) tail.
 * It runs on the edge's own loop and parses every record of the batch (5,000 by default, a
 * few MB): in one stretch that held the loop ~50 ms each time a batch was uploaded, the p99
 * of every request answered meanwhile (edge bench, capture on, 1,000 rps: 45–64 ms added).
 * So it lets the loop take a turn every `sliceMs` (checked every 32 lines).
 */
export async function partitionBatch(text: string, sliceMs = PARTITION_SLICE_MS): Promise<{ parts: Map<string, string[]>; records: number; discarded: number }> {
  const parts = new Map<string, string[]>();
  let records = 0;
  let discarded = 0;
  let since = performance.now();
  let n = 0;
  for (const line of text.split('\n')) {
    if (++n % 32 === 0 && performance.now() - since >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      since = performance.now();
    }
    if (line === '') continue;
    let rec: InferenceRecord;
    try {
      rec = JSON.parse(line) as InferenceRecord;
    } catch {
      discarded++;
      continue;
    }
    if (typeof rec !== 'object' || rec === null || typeof rec.group !== 'string' || typeof rec.version !== 'string') {
      discarded++;
      continue;
    }
    const prefix = partitionPrefix(rec);
    let list = parts.get(prefix);
    if (!list) parts.set(prefix, (list = []));
    list.push(line);
    records++;
  }
  return { parts, records, discarded };
}

export class InferenceLogWriter {
  private readonly store: ObjectStore;
  private readonly spool: Spool;
  private readonly retryMin: number;
  private readonly retryMax: number;
  private readonly onEvent: ((e: InferenceLogEvent) => void) | undefined;
  private uploading: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private downSince: number | null = null;
  private spoolFailing: { since: number; failures: number } | null = null;
  private readonly spoolErrors: Counter<'code'> | undefined;
  private stopped = false;
  readonly stats: WriterStats = { acknowledged: 0, uploadedBatches: 0, uploadedRecords: 0, failedUploads: 0, discardedLines: 0 };

  constructor(options: InferenceLogWriterOptions) {
    this.store = options.store;
    this.retryMin = options.retryMinMs ?? 500;
    this.retryMax = options.retryMaxMs ?? 30_000;
    this.backoff = this.retryMin;
    this.onEvent = options.onEvent;
    this.spool = new Spool({
      dir: options.spoolDir,
      maxBatchRecords: options.maxBatchRecords ?? 5000,
      maxBatchBytes: options.maxBatchBytes ?? 8 * 1024 * 1024,
      maxBatchAgeMs: options.maxBatchAgeMs ?? 10_000,
      onSealed: () => this.kick(),
      now: options.now,
      sync: options.sync ?? 'background',
      ...(options.spoolFs ? { fs: options.spoolFs } : {}),
    });
    if (options.registry) {
      const existing = options.registry.getSingleMetric('sluice_inference_spool_errors_total') as Counter<'code'> | undefined;
      this.spoolErrors =
        existing ??
        new Counter({
          name: 'sluice_inference_spool_errors_total',
          help: 'Inference records that could not be written to the local spool (full disk, I/O error), by error code',
          labelNames: ['code'],
          registers: [options.registry],
        });
    }
  }

  /** 'background' or 'always' (see spool.ts). */
  get sync(): SpoolSync {
    return this.spool.sync;
  }

  /** Opens the spool and starts uploading what an earlier process left there. */
  async start(): Promise<void> {
    await this.spool.open();
    this.kick();
  }

  /**
   * Resolves when the record is in the spool (see spool.ts for what survives what): from then
   * on it will reach the store exactly once. Rejects when the spool cannot be written (full
   * disk): counted in sluice_inference_spool_errors_total, with an event per outage.
   */
  async append(record: InferenceRecord): Promise<void> {
    try {
      await this.spool.append(record);
    } catch (err) {
      this.spoolFailed(err);
      throw err;
    }
    this.stats.acknowledged++;
    if (this.spoolFailing) this.spoolRecovered();
  }

  /** append() for several records in one spool write (Spool.appendMany); a failure fails them all. */
  async appendMany(records: readonly InferenceRecord[]): Promise<void> {
    try {
      await this.spool.appendMany(records);
    } catch (err) {
      this.spoolFailed(err, records.length);
      throw err;
    }
    this.stats.acknowledged += records.length;
    if (this.spoolFailing) this.spoolRecovered();
  }

  /** A record the spool refused (full disk): counted, and one event per outage (not per record). */
  private spoolFailed(err: unknown, records = 1): void {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    this.spoolErrors?.inc({ code }, records);
    if (this.spoolFailing) {
      this.spoolFailing.failures += records;
      return;
    }
    this.spoolFailing = { since: Date.now(), failures: records };
    this.emit({
      type: 'INFERENCE_LOG_SPOOL_FAILED',
      level: 'WARNING',
      message: `the inference-log spool cannot be written (${code}: ${(err as Error).message}); requests are answered but their records are lost until it can`,
      at: new Date(),
    });
  }

  private spoolRecovered(): void {
    const failing = this.spoolFailing;
    if (!failing) return;
    this.spoolFailing = null;
    const secs = ((Date.now() - failing.since) / 1000).toFixed(1);
    this.emit({
      type: 'INFERENCE_LOG_SPOOL_RECOVERED',
      level: 'NORMAL',
      message: `the inference-log spool is writable again after ${secs}s; ${failing.failures} record(s) were lost meanwhile`,
      at: new Date(),
    });
  }

  /** Seals the open batch and waits until the spool is empty or `timeoutMs` passes; true if empty. */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    await this.spool.sealNow();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      }
      this.kick();
      while (this.uploading) await this.uploading;
      if ((await this.spool.sealed()).length === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, Math.min(this.backoff, 200)));
    }
  }

  /** Number of sealed batches waiting for the store. */
  async backlog(): Promise<number> {
    return (await this.spool.sealed()).length;
  }

  /** Stops accepting records, seals the open batch, makes one last upload attempt; the rest waits in the spool for the next start. */
  async close(): Promise<void> {
    await this.spool.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.kick();
    while (this.uploading) await this.uploading;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.uploading) {
      this.again = true;
      return;
    }
    this.uploading = this.drain().finally(() => {
      this.uploading = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async drain(): Promise<void> {
    let files: string[];
    try {
      files = await this.spool.sealed();
    } catch {
      return; // spool folder gone (shutdown); nothing to upload
    }
    for (const file of files) {
      try {
        await this.upload(file);
      } catch (err) {
        this.stats.failedUploads++;
        this.markDown(err);
        this.again = false;
        if (!this.stopped && !this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.kick();
          }, this.backoff);
          this.retryTimer.unref();
        }
        this.backoff = Math.min(this.retryMax, this.backoff * 2);
        return;
      }
      this.markUp();
    }
  }

  private async upload(file: string): Promise<void> {
    const text = await readFile(file, 'utf8');
    const { parts, records, discarded } = await partitionBatch(text);
    const batch = path.basename(file, SEALED_SUFFIX);
    for (const [prefix, lines] of parts) {
      const body = await gzip(lines.join('\n') + '\n', GZIP);
      await this.store.put(`${prefix}${batch}.ndjson.gz`, body, 'application/x-ndjson');
    }
    await unlink(file);
    this.stats.uploadedBatches++;
    this.stats.uploadedRecords += records;
    this.stats.discardedLines += discarded;
  }

  private markDown(err: unknown): void {
    if (this.downSince !== null) return;
    this.downSince = Date.now();
    this.emit({
      type: 'INFERENCE_LOG_STORE_UNAVAILABLE',
      level: 'WARNING',
      message: `object store ${this.store.description} unreachable (${(err as Error).message}); inference records are kept in the local spool`,
      at: new Date(),
    });
  }

  private markUp(): void {
    this.backoff = this.retryMin;
    if (this.downSince === null) return;
    const secs = ((Date.now() - this.downSince) / 1000).toFixed(1);
    this.downSince = null;
    this.emit({ type: 'INFERENCE_LOG_STORE_RECOVERED', level: 'NORMAL', message: `object store is back after ${secs}s; spooled inference records uploaded`, at: new Date() });
  }

  private emit(e: InferenceLogEvent): void {
    try {
      this.onEvent?.(e);
    } catch {
      // a broken listener must not stop uploads
    }
  }
}
