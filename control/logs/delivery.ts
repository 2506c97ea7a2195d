// Log delivery (a version's "log delivery" switch): ships each delivering version's stored
// instance logs to the object store as gzipped NDJSON under
// `instance-logs/{group}/{version}/dt=YYYY-MM-DD/hour=HH/`. The log store's segments are the
// spool: a per-version cursor (segment, byte offset) saved beside them moves only after every
// object of a batch is stored, and an object's name is derived from the batch's start
// position, so a retried upload rewrites the same names (never a second copy). Delivery is
// at least once with idempotent names, so exactly one copy of each line, across crashes and
// store outages — the inference log's guarantee. A store outage longer than the log cap
// allows loses the dropped segments' lines for delivery; they are counted. Each pass also
// removes the stored logs of versions that no longer exist.

import { closeSync, openSync, readFileSync, readSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { LogStore } from './store.ts';

const gzip = promisify(gzipCb);

export interface LogDeliveryOptions {
  store: LogStore;
  objects: ObjectStore;
  prisma: PrismaClient;
  intervalMs?: number;
  /** bytes of segment data per object batch (default 8 MiB) */
  maxBatchBytes?: number;
  onError?: (versionId: string, error: unknown) => void;
}

interface Cursor {
  seq: number;
  offset: number;
  /** segments dropped by the cap before they were delivered */
  undelivered: number;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

export function deliveryPrefix(group: string, version: string, ms: number): string {
  const d = new Date(ms);
  return `instance-logs/${group}/${version}/dt=${d.toISOString().slice(0, 10)}/hour=${pad(d.getUTCHours(), 2)}/`;
}

export class LogDelivery {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  stats = { objects: 0, lines: 0, failures: 0 };

  constructor(private readonly o: LogDeliveryOptions) {}

  start(): void {
    if (this.timer) return;
    // a failed pass (the database unreachable) is reported and the next one tries again; a
    // rejection left unhandled here would take the control plane down
    this.timer = setInterval(() => void this.runOnce().catch((error: unknown) => this.o.onError?.('*', error)), this.o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    // a last pass so a clean shutdown leaves nothing behind
    await this.runOnce();
  }

  /** One pass over every delivering version; resolves when it is done (tests call it). */
  runOnce(): Promise<void> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async pass(): Promise<void> {
    const ids = this.o.store.versionIds();
    if (ids.length === 0) return;
    const known = await this.o.prisma.serviceVersion.findMany({
      where: { id: { in: ids } },
      select: { id: true, name: true, logDeliveryEnabled: true, group: { select: { name: true } } },
    });
    // housekeeping: the logs of a deleted version go with it
    const alive = new Set(known.map((v) => v.id));
    for (const id of ids) if (!alive.has(id)) this.o.store.remove(id);
    for (const v of known.filter((k) => k.logDeliveryEnabled)) {
      try {
        while (await this.deliverBatch(v.id, v.group.name, v.name)) {
          // keep going until caught up
        }
      } catch (error) {
        this.stats.failures++;
        this.o.onError?.(v.id, error);
      }
    }
  }

  private cursorPath(versionId: string): string {
    return join(this.o.store.dirOf(versionId), 'delivery.json');
  }

  private readCursor(versionId: string): Cursor | null {
    try {
      const c = JSON.parse(readFileSync(this.cursorPath(versionId), 'utf8')) as Cursor;
      return Number.isInteger(c.seq) && Number.isInteger(c.offset) ? { seq: c.seq, offset: c.offset, undelivered: c.undelivered ?? 0 } : null;
    } catch {
      return null;
    }
  }

  private saveCursor(versionId: string, c: Cursor): void {
    const path = this.cursorPath(versionId);
    writeFileSync(`${path}.tmp`, JSON.stringify(c));
    renameSync(`${path}.tmp`, path);
  }

  /** Ships the next batch of whole lines after the cursor; false when caught up. */
  private async deliverBatch(versionId: string, group: string, version: string): Promise<boolean> {
    const segments = this.o.store.segments(versionId);
    if (segments.length === 0) return false;
    let cursor = this.readCursor(versionId) ?? { seq: (segments[0] as { seq: number }).seq, offset: 0, undelivered: 0 };
    const seg = segments.find((s) => s.seq >= cursor.seq);
    if (!seg) return false;
    if (seg.seq !== cursor.seq) {
      // the cursor's segment was dropped by the cap before it was delivered in full
      cursor = { seq: seg.seq, offset: 0, undelivered: cursor.undelivered + 1 };
      this.saveCursor(versionId, cursor);
    }
    if (cursor.offset >= seg.size) {
      const next = segments.find((s) => s.seq > seg!.seq);
      if (!next) return false;
      this.saveCursor(versionId, { ...cursor, seq: next.seq, offset: 0 });
      return true;
    }
    const len = Math.min(seg.size - cursor.offset, this.o.maxBatchBytes ?? 8 * 1024 * 1024);
    const buf = Buffer.alloc(len);
    const fd = openSync(seg.path, 'r');
    try {
      readSync(fd, buf, 0, len, cursor.offset);
    } finally {
      closeSync(fd);
    }
    const end = buf.lastIndexOf(10) + 1; // whole lines only
    if (end === 0) return false;
    const parts = new Map<string, string[]>();
    let lines = 0;
    for (const raw of buf.toString('utf8', 0, end - 1).split('\n')) {
      const [t, instance, stream, ...rest] = raw.split('\t');
      const time = Number(t);
      if (!Number.isFinite(time) || instance === undefined) continue;
      const prefix = deliveryPrefix(group, version, time);
      let list = parts.get(prefix);
      if (!list) parts.set(prefix, (list = []));
      list.push(JSON.stringify({ time: new Date(time).toISOString(), group, version, instance, stream: stream === 'e' ? 'stderr' : 'stdout', line: rest.join('\t') }));
      lines++;
    }
    // the batch's start position names its objects: a retry writes the same keys again
    const name = `${pad(cursor.seq, 10)}-${pad(cursor.offset, 12)}.ndjson.gz`;
    for (const [prefix, list] of parts) {
      await this.o.objects.put(`${prefix}${name}`, await gzip(`${list.join('\n')}\n`), 'application/x-ndjson');
      this.stats.objects++;
    }
    this.stats.lines += lines;
    this.saveCursor(versionId, { ...cursor, offset: cursor.offset + end });
    return true;
  }
}
