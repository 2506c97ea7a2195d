// The inference table job: turns a group's new inference-log objects into Hive-partitioned
// Parquet rows, exactly once. The checkpoint (InferenceTableBatch / InferenceTableObject)
// is a write-ahead plan: a batch and the objects in it are recorded PENDING before any file
// is written, the batch's Parquet files get names derived from the batch id, and one
// transaction marks it COMMITTED. A run that finds a PENDING batch (the last run crashed)
// redoes it with the same objects and the same file names, overwriting whatever part of it
// was stored, so a crash leaves neither a duplicate nor a missing row; objects already in
// the checkpoint are never read again, so a rerun with nothing new is a no-op.
// Inside a batch, DuckDB reads in bulk the objects it can type exactly (sqlpath.ts); the
// rest are read record by record (records.ts) — see sqlPass.
// One run per group across processes: a run first claims the group's InferenceJobLease row
// (an atomic create, or a compare-and-swap takeover of an expired or dead holder's lease),
// renews it while it works, stops before its next batch or commit if it lost it, and
// releases it at the end; a second process finds the lease held and gets CONFLICT.
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { ObjectInfo, ObjectStore } from '../../platform/objectstore/port.ts';
import { conflict, notFound } from '../../platform/errors.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import type { EventInput } from '../domain/events.ts';
import { ident, str, withDuck } from './duck.ts';
import { dataFileKey, groupTablePrefix, logPrefix, quarantineKey } from './layout.ts';
import { DUCK_TYPES, FIXED_COLUMNS, UnreadableObjectError, featureColumn, parseLogObject, type BadRecord } from './records.ts';
import { groupModels, type VersionModel } from './signatures.ts';
import { classify, gzipIntact, writeRows, type FastObject } from './sqlpath.ts';

export interface TableJobDeps {
  prisma: PrismaClient;
  store: ObjectStore;
  /** local scratch folder for staging files */
  workDir: string;
  now?: () => Date;
  /** records an event (quarantines); errors are swallowed */
  event?: (input: EventInput) => Promise<unknown>;
  /** a RUNNING run whose heartbeat is older than this is taken over (its process died) */
  leaseMs?: number;
  maxObjectsPerBatch?: number;
  maxBytesPerBatch?: number;
  /** false: every object record by record (records.ts), none through DuckDB's batch read (sqlpath.ts) */
  sqlPath?: boolean;
  /** test hook: runs after the check for a running run and before the lease is claimed */
  beforeClaim?: () => Promise<void>;
  /** test hook: runs after a batch's files are stored and before its commit */
  beforeCommit?: (batchId: string) => Promise<void>;
}

export interface TableJobResult {
  id: string;
  objectsProcessed: number;
  rowsWritten: number;
  objectsQuarantined: number;
  recordsQuarantined: number;
}

interface DataFile {
  key: string;
  version: string;
  dt: string;
  rows: number;
}

const HOLDER = `${hostname()}:${process.pid}`;
const MAX_STAGED_ROWS = 200_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A RUNNING run is stale when its heartbeat is old, or when it ran on this host in a process that is gone. */
function stale(run: { holder: string; heartbeatAt: Date }, now: Date, leaseMs: number): boolean {
  if (now.getTime() - run.heartbeatAt.getTime() > leaseMs) return true;
  const [host, pid] = run.holder.split(':');
  return host === hostname() && Number(pid) !== process.pid && !alive(Number(pid));
}

/** The holder of a lease ran on this host in a process that is gone. */
function deadHere(holder: string): boolean {
  const [host, pid] = holder.split(':');
  return host === hostname() && Number(pid) !== process.pid && !alive(Number(pid));
}

/** Staging: one NDJSON file per (version, dt) of a batch, written in large chunks. */
class Stage {
  private readonly files = new Map<string, { path: string; fd: number; buf: string[]; bytes: number; rows: number; version: string; dt: string }>();
  private opened = 0;
  /** rows staged since the last close() */
  rows = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  add(version: string, dt: string, line: string): void {
    const id = `${version}\u0000${dt}`;
    let f = this.files.get(id);
    if (!f) {
      const path = join(this.dir, `${this.opened++}.ndjson`);
      f = { path, fd: openSync(path, 'w'), buf: [], bytes: 0, rows: 0, version, dt };
      this.files.set(id, f);
    }
    f.buf.push(line);
    f.bytes += line.length;
    f.rows++;
    this.rows++;
    if (f.bytes > 1 << 20) this.flush(f);
  }

  private flush(f: { fd: number; buf: string[]; bytes: number }): void {
    if (f.buf.length === 0) return;
    writeSync(f.fd, f.buf.join('\n') + '\n');
    f.buf = [];
    f.bytes = 0;
  }

  close(): { path: string; version: string; dt: string; rows: number }[] {
    const out = [];
    for (const f of this.files.values()) {
      this.flush(f);
      closeSync(f.fd);
      out.push({ path: f.path, version: f.version, dt: f.dt, rows: f.rows });
    }
    this.files.clear();
    this.rows = 0;
    return out;
  }

  dispose(): void {
    for (const f of this.files.values()) {
      try {
        closeSync(f.fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** DuckDB's read_json column map for a version's rows. */
export function tableColumns(model: VersionModel | undefined): [string, string][] {
  const cols: [string, string][] = FIXED_COLUMNS.map(([n, t]) => [n, t]);
  if (model?.signature) for (const c of model.signature.inputs) cols.push([featureColumn(c.name), DUCK_TYPES[c.type]]);
  else cols.push(['features', 'VARCHAR']);
  return cols;
}

export class InferenceTableJob {
  private readonly running = new Map<string, Promise<TableJobResult>>();
  private readonly now: () => Date;

  constructor(private readonly deps: TableJobDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** One run per group at a time: a call while one runs waits for it, then runs again for what arrived since. */
  run(groupId: string, trigger = 'MANUAL'): Promise<TableJobResult> {
    const previous = this.running.get(groupId);
    const next = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(() => this.runOnce(groupId, trigger));
    this.running.set(groupId, next);
    void next.finally(() => {
      if (this.running.get(groupId) === next) this.running.delete(groupId);
    }).catch(() => undefined);
    return next;
  }

  isRunning(groupId: string): boolean {
    return this.running.has(groupId);
  }

  private async runOnce(groupId: string, trigger: string): Promise<TableJobResult> {
    const { prisma } = this.deps;
    const group = await prisma.serviceGroup.findUnique({ where: { id: groupId }, select: { id: true, name: true } });
    if (!group) throw notFound(`service group ${groupId} does not exist`);
    const leaseMs = this.deps.leaseMs ?? 60_000;
    const now = this.now();
    for (const other of await prisma.inferenceJobRun.findMany({ where: { groupId, state: 'RUNNING' } })) {
      if (!stale(other, now, leaseMs)) throw conflict(`an inference table run for ${group.name} is already in progress (${other.holder})`);
      await prisma.inferenceJobRun.update({ where: { id: other.id }, data: { state: 'FAILED', error: `its process (${other.holder}) stopped before finishing`, finishedAt: now } });
    }
    await this.deps.beforeClaim?.();
    const runId = `run${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
    await this.claim(groupId, group.name, runId, leaseMs);
    let lost = false;
    let run: { id: string };
    try {
      // we hold the lease: any run still marked RUNNING lost it (its process died)
      await prisma.inferenceJobRun.updateMany({ where: { groupId, state: 'RUNNING' }, data: { state: 'FAILED', error: 'its process stopped before finishing (the lease was taken over)', finishedAt: now } });
      run = await prisma.inferenceJobRun.create({ data: { id: runId, groupId, trigger, holder: HOLDER, heartbeatAt: now, startedAt: now } });
    } catch (err) {
      await prisma.inferenceJobLease.deleteMany({ where: { groupId, runId } }).catch(() => undefined);
      throw err;
    }
    const beat = setInterval(() => {
      const at = this.now();
      void prisma.inferenceJobLease
        .updateMany({ where: { groupId, runId }, data: { expiresAt: new Date(at.getTime() + leaseMs) } })
        .then((r) => {
          if (r.count === 0) lost = true;
        })
        .catch(() => undefined);
      void prisma.inferenceJobRun.update({ where: { id: run.id }, data: { heartbeatAt: at } }).catch(() => undefined);
    }, Math.max(200, Math.floor(leaseMs / 3)));
    beat.unref();
    const checkLease = (): void => {
      if (lost) throw conflict(`the inference table run ${runId} for ${group.name} lost its lease to another process`);
    };
    const totals: TableJobResult = { id: run.id, objectsProcessed: 0, rowsWritten: 0, objectsQuarantined: 0, recordsQuarantined: 0 };
    try {
      const models = await groupModels(prisma, groupId);
      // 1. finish what a crashed run planned
      const pending = await prisma.inferenceTableBatch.findMany({ where: { groupId, state: 'PENDING' }, orderBy: { seq: 'asc' }, include: { objects: true } });
      const listed = await this.deps.store.list(logPrefix(group.name));
      const infoOf = new Map(listed.map((o) => [o.key, o]));
      for (const b of pending) {
        const objects = b.objects.map((o) => infoOf.get(o.key) ?? { key: o.key, size: o.size, lastModified: new Date(0) });
        await this.processBatch(group, models, b.id, run.id, objects, totals, checkLease, true);
      }
      // 2. plan and process what is new
      const done = new Set((await prisma.inferenceTableObject.findMany({ where: { groupId }, select: { key: true } })).map((o) => o.key));
      const fresh = listed.filter((o) => !done.has(o.key) && o.key.endsWith('.ndjson.gz'));
      await prisma.inferenceJobRun.update({ where: { id: run.id }, data: { objectsTotal: fresh.length + pending.reduce((n, b) => n + b.objects.length, 0) } });
      const maxObjects = this.deps.maxObjectsPerBatch ?? 256;
      const maxBytes = this.deps.maxBytesPerBatch ?? 16 * 1024 * 1024;
      let i = 0;
      while (i < fresh.length) {
        const chunk: ObjectInfo[] = [];
        let bytes = 0;
        while (i < fresh.length && chunk.length < maxObjects && (chunk.length === 0 || bytes + (fresh[i] as ObjectInfo).size <= maxBytes)) {
          const o = fresh[i++] as ObjectInfo;
          chunk.push(o);
          bytes += o.size;
        }
        const batchId = await this.plan(groupId, run.id, chunk);
        await this.processBatch(group, models, batchId, run.id, chunk, totals, checkLease);
      }
      await prisma.inferenceJobRun.update({ where: { id: run.id }, data: { state: 'SUCCEEDED', finishedAt: this.now(), heartbeatAt: this.now() } });
      return totals;
    } catch (err) {
      await prisma.inferenceJobRun
        .update({ where: { id: run.id }, data: { state: 'FAILED', error: (err as Error).message.slice(0, 2000), finishedAt: this.now() } })
        .catch(() => undefined);
      throw err;
    } finally {
      clearInterval(beat);
      await prisma.inferenceJobLease.deleteMany({ where: { groupId, runId } }).catch(() => undefined);
    }
  }

  /** Claims the group's lease for `runId`, or throws CONFLICT when a live run holds it. */
  private async claim(groupId: string, name: string, runId: string, leaseMs: number): Promise<void> {
    const { prisma } = this.deps;
    for (let tries = 0; tries < 3; tries++) {
      const now = this.now();
      const expiresAt = new Date(now.getTime() + leaseMs);
      try {
        await prisma.inferenceJobLease.create({ data: { groupId, runId, holder: HOLDER, expiresAt } });
        return;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const current = await prisma.inferenceJobLease.findUnique({ where: { groupId } });
      if (!current) continue; // released meanwhile: try to create it again
      if (current.expiresAt.getTime() > now.getTime() && !deadHere(current.holder)) {
        throw conflict(`an inference table run for ${name} is already in progress (${current.holder})`);
      }
      // expired or its process is gone: take it over only if nobody else did first
      const taken = await prisma.inferenceJobLease.updateMany({ where: { groupId, runId: current.runId }, data: { runId, holder: HOLDER, expiresAt } });
      if (taken.count === 1) return;
    }
    throw conflict(`an inference table run for ${name} is already in progress`);
  }

  /** Records the batch and its objects PENDING before anything is written (the write-ahead step). */
  private async plan(groupId: string, runId: string, objects: ObjectInfo[]): Promise<string> {
    return this.deps.prisma.$transaction(async (tx) => {
      const last = await tx.inferenceTableBatch.findFirst({ where: { groupId }, orderBy: { seq: 'desc' }, select: { seq: true } });
      const seq = (last?.seq ?? 0) + 1;
      const id = `${String(seq).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
      await tx.inferenceTableBatch.create({ data: { id, groupId, seq, runId } });
      await tx.inferenceTableObject.createMany({ data: objects.map((o) => ({ groupId, key: o.key, batchId: id, size: o.size })) });
      return id;
    });
  }

  private async processBatch(
    group: { id: string; name: string },
    models: Map<string, VersionModel>,
    batchId: string,
    runId: string,
    objects: ObjectInfo[],
    totals: TableJobResult,
    /** throws when the run lost its lease: checked before the batch and before its commit */
    checkLease: () => void,
    /** a batch a crashed run planned: whatever part of it that run stored is removed first */
    redo = false,
  ): Promise<void> {
    const { prisma, store } = this.deps;
    checkLease();
    if (redo) {
      // its files are rewritten under the same names, but which objects take which path could
      // differ this time (a batch query that failed for want of memory), so nothing is left to chance
      const mine = `/part-${batchId}-`;
      for (const f of await store.list(groupTablePrefix(group.name))) if (f.key.includes(mine)) await store.delete(f.key);
    }
    const scratch = join(this.deps.workDir, `stage-${batchId}-${randomBytes(3).toString('hex')}`);
    const stage = new Stage(scratch);
    const outcome = new Map<string, { state: 'DONE' | 'QUARANTINED'; records: number; rows: number; reason: string | null }>();
    const quarantined: { key: string; reason: string }[] = [];
    let badRecords = 0;
    const files: DataFile[] = [];
    let part = 0;
    // Staged rows become Parquet parts every MAX_STAGED_ROWS, so memory and scratch space stay
    // bounded whatever the batch holds; objects are read in the planned order, so a redone
    // batch cuts the same parts and overwrites the same keys.
    const flush = async (): Promise<void> => {
      const staged = stage.close();
      if (staged.length === 0) return;
      const n = part++;
      await withDuck(async (conn) => {
        for (const s of staged) {
          const cols = tableColumns(models.get(s.version));
          const columns = `{${cols.map(([c, t]) => `${str(c)}: ${str(t)}`).join(', ')}}`;
          const out = `${s.path}.parquet`;
          await conn.run(
            `COPY (SELECT ${cols.map(([c]) => ident(c)).join(', ')} FROM read_json(${str(s.path)}, format='newline_delimited', columns=${columns})) ` +
              `TO ${str(out)} (FORMAT parquet, COMPRESSION zstd)`,
          );
          rmSync(s.path, { force: true });
          const key = dataFileKey(group.name, s.version, s.dt, batchId, n);
          await store.put(key, await readFile(out), 'application/vnd.apache.parquet');
          rmSync(out, { force: true });
          files.push({ key, version: s.version, dt: s.dt, rows: s.rows });
        }
      });
    };
    try {
      const sql = this.deps.sqlPath === false ? { done: new Map<string, FastObject>(), files: [] } : await this.sqlPass(group, models, batchId, objects, join(scratch, 'sql'));
      files.push(...sql.files);
      for (const [key, o] of sql.done) outcome.set(key, { state: 'DONE', records: o.records, rows: o.rows, reason: null });
      for (const o of objects) {
        if (sql.done.has(o.key)) continue;
        let body: Buffer;
        try {
          body = (await store.get(o.key)).body;
        } catch (err) {
          if ((err as { code?: string }).code === 'OBJECT_NOT_FOUND') {
            // deleted by retention before it was read: nothing to keep
            outcome.set(o.key, { state: 'QUARANTINED', records: 0, rows: 0, reason: 'object vanished before it was read' });
            quarantined.push({ key: o.key, reason: 'object vanished before it was read' });
            continue;
          }
          throw err;
        }
        let parsed;
        try {
          parsed = parseLogObject(body, group.name, (v) => models.get(v)?.signature ?? null, (version, dt, line) => stage.add(version, dt, line));
        } catch (err) {
          if (!(err instanceof UnreadableObjectError)) throw err;
          await store.put(quarantineKey(group.name, batchId, o.key), body);
          outcome.set(o.key, { state: 'QUARANTINED', records: 0, rows: 0, reason: err.message });
          quarantined.push({ key: o.key, reason: err.message });
          continue;
        }
        if (parsed.bad.length) {
          badRecords += parsed.bad.length;
          await store.put(quarantineKey(group.name, batchId, o.key, '.bad.ndjson'), badRecordsBody(parsed.bad));
          quarantined.push({ key: o.key, reason: `${parsed.bad.length} of ${parsed.records} records quarantined: ${parsed.bad[0]?.reason ?? ''}` });
        }
        if (stage.rows >= MAX_STAGED_ROWS) await flush();
        outcome.set(o.key, { state: 'DONE', records: parsed.records, rows: parsed.rows, reason: parsed.bad.length ? `${parsed.bad.length} bad records: ${parsed.bad[0]?.reason ?? ''}` : null });
      }
      await flush();
      await this.deps.beforeCommit?.(batchId);
      checkLease();
      const rows = files.reduce((n, f) => n + f.rows, 0);
      await prisma.$transaction(async (tx) => {
        await tx.inferenceTableBatch.update({ where: { id: batchId }, data: { state: 'COMMITTED', files: files as unknown as object[], rows, committedAt: this.now(), runId } });
        for (const [key, o] of outcome) {
          await tx.inferenceTableObject.update({ where: { groupId_key: { groupId: group.id, key } }, data: { state: o.state, records: o.records, rows: o.rows, reason: o.reason } });
        }
      });
      const whole = [...outcome.values()].filter((o) => o.state === 'QUARANTINED').length;
      totals.objectsProcessed += objects.length - whole;
      totals.objectsQuarantined += whole;
      totals.recordsQuarantined += badRecords;
      totals.rowsWritten += rows;
      await prisma.inferenceJobRun.update({
        where: { id: runId },
        data: { objectsProcessed: totals.objectsProcessed, objectsQuarantined: totals.objectsQuarantined, recordsQuarantined: totals.recordsQuarantined, rowsWritten: totals.rowsWritten, heartbeatAt: this.now() },
      });
      for (const q of quarantined) {
        await this.deps
          .event?.({
            level: 'WARNING',
            resourceKind: 'ServiceGroup',
            resourceName: group.name,
            groupId: group.id,
            reason: 'InferenceLogQuarantined',
            message: `${q.key}: ${q.reason} (kept under ${quarantineKey(group.name, batchId, q.key)}…)`,
          })
          .catch(() => undefined);
      }
    } finally {
      stage.dispose();
    }
  }

  /**
   * The batch's objects DuckDB can take (sqlpath.ts), read in one query and written in one
   * COPY per version, their files stored; the others are left to the record-by-record path.
   * Any failure here only moves objects to that path: it never loses or doubles a row.
   */
  private async sqlPass(
    group: { id: string; name: string },
    models: Map<string, VersionModel>,
    batchId: string,
    objects: ObjectInfo[],
    dir: string,
  ): Promise<{ done: Map<string, FastObject>; files: DataFile[] }> {
    const { store } = this.deps;
    const done = new Map<string, FastObject>();
    const files: DataFile[] = [];
    mkdirSync(dir, { recursive: true });
    // local files for DuckDB: the folder store's own, or downloads (a missing one stays with the other path)
    const local = new Map<string, string>();
    const candidates = objects.filter((o) => o.size > 0 && o.key.endsWith('.ndjson.gz'));
    if (store.localPath) {
      for (const o of candidates) local.set(o.key, store.localPath(o.key));
    } else {
      const queue = candidates.map((o, i) => [o, i] as const);
      await Promise.all(
        Array.from({ length: Math.min(4, queue.length) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) {
            const [o, i] = next;
            try {
              const path = join(dir, `src-${i}.ndjson.gz`);
              await writeFile(path, (await store.get(o.key)).body);
              local.set(o.key, path);
            } catch {
              // vanished or unreachable: the other path says which
            }
          }
        }),
      );
    }
    const keys = candidates.map((o) => o.key).filter((k) => local.has(k));
    if (keys.length === 0) return { done, files };
    const paths = keys.map((k) => local.get(k) as string);
    const out = join(dir, 'out');
    try {
      await withDuck(async (conn) => {
        const [intact, seen] = await Promise.all([
          Promise.all(paths.map((p) => gzipIntact(p))),
          classify(conn, group.name, models, paths).catch(async () => {
            // one object DuckDB cannot read fails the batch query: ask one at a time
            const each = new Map<string, FastObject & { fast: boolean }>();
            for (const p of paths) {
              const one = await classify(conn, group.name, models, [p]).catch(() => null);
              const o = one?.get(p);
              if (o) each.set(p, o);
            }
            return each;
          }),
        ]);
        const taken = new Map<string, FastObject>();
        const byVersion = new Map<string, string[]>();
        keys.forEach((key, i) => {
          const p = paths[i] as string;
          const o = seen.get(p);
          if (!o?.fast || !intact[i]) return;
          taken.set(key, o);
          for (const v of o.versions) byVersion.set(v, [...(byVersion.get(v) ?? []), p]);
        });
        if (taken.size === 0) return;
        const written = await writeRows(conn, models, byVersion, out);
        for (const [n, f] of written.entries()) {
          const key = dataFileKey(group.name, f.version, f.dt, batchId, `s${n}`);
          files.push({ key, version: f.version, dt: f.dt, rows: f.rows });
          await store.putFile(key, f.path, 'application/vnd.apache.parquet');
        }
        const expected = [...taken.values()].reduce((n, o) => n + o.rows, 0);
        const got = files.reduce((n, f) => n + f.rows, 0);
        if (got !== expected) throw new Error(`the SQL pass wrote ${got} rows for ${expected}`);
        for (const [k, o] of taken) done.set(k, o);
      });
    } catch (err) {
      // whatever the SQL pass stored is overwritten or unused: its objects go the other way
      for (const f of files.splice(0)) await store.delete(f.key).catch(() => undefined);
      done.clear();
      // slower, never wrong; said out loud so that a DuckDB memory limit too small for the
      // group's requests does not go unnoticed
      const message = `batch ${batchId}: DuckDB's bulk read failed, its objects were read record by record: ${(err as Error).message.slice(0, 500)}`;
      process.emitWarning(`inference table ${group.name} ${message}`);
      await this.deps
        .event?.({ level: 'WARNING', resourceKind: 'ServiceGroup', resourceName: group.name, groupId: group.id, reason: 'InferenceTableBulkReadFailed', message })
        .catch(() => undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return { done, files };
  }
}

function badRecordsBody(bad: BadRecord[]): Buffer {
  return Buffer.from(bad.map((b) => JSON.stringify({ line: b.line, reason: b.reason, record: b.text })).join('\n') + '\n', 'utf8');
}
