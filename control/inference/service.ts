// The inference table and quality loop as the control plane uses it: one object wiring the
// table job, the table reader, labels, quality, rules/alerts/webhooks and the A/B verdict
// over explicit dependencies (database, object store, pub/sub, secrets, clock, scratch dir).
// After every table run the group's rules are evaluated and a quality snapshot of the last
// hour is stored (the trend the dashboard charts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import type { PubSub } from '../../platform/pubsub/port.ts';
import { badInput, notFound } from '../../platform/errors.ts';
import { recordEvent } from '../domain/events.ts';
import { query, str, toNum } from './duck.ts';
import { InferenceTableJob, type TableJobResult } from './job.ts';
import { Labels } from './labels.ts';
import { TABLE_ROOT } from './layout.ts';
import { LocalMirror } from './mirror.ts';
import { computeQuality, type VersionQuality } from './quality.ts';
import { FIXED_COLUMNS } from './records.ts';
import { QualityRules } from './rules.ts';
import { groupModels } from './signatures.ts';
import { TableReader, windowSql } from './table.ts';
import { abVerdict, type AbVerdict } from './verdict.ts';
import { WebhookTargetPolicy } from './webhook-target.ts';
import { WebhookDeliverer } from './webhooks.ts';

export interface InferenceServiceDeps {
  prisma: PrismaClient;
  store: ObjectStore;
  pubsub: PubSub;
  secrets: { seal(plain: string): string; open(sealed: string): string };
  /** scratch space (staging files, the S3 download cache) */
  workDir: string;
  now?: () => Date;
  webhook?: { attempts?: number; minBackoffMs?: number; maxBackoffMs?: number; timeoutMs?: number };
  /** admin allow-list of webhook destinations otherwise refused (SLUICE_WEBHOOK_ALLOW_HOSTS: host names, IPs, CIDRs) */
  webhookAllowHosts?: readonly string[];
  leaseMs?: number;
  maxObjectsPerBatch?: number;
  /** merge a group's label files once there are more than this many (default 64) */
  labelCompactAfterFiles?: number;
}

export interface InferenceRowOut {
  requestId: string;
  clientRequestId: string | null;
  rowIndex: number;
  version: string;
  time: Date;
  features: Record<string, unknown>;
  prediction: unknown;
  label: unknown;
  status: number;
  latencyMs: number | null;
  error: string | null;
  shadow: boolean;
}

const NOT_FEATURES = new Set<string>([...FIXED_COLUMNS.map(([n]) => n), 'group', 'version', 'dt', 'label', 'label_class', 'label_num', 'time_ms', 'features']);

const parseJson = (s: unknown): unknown => {
  if (typeof s !== 'string') return null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

export class InferenceService {
  readonly job: InferenceTableJob;
  readonly table: TableReader;
  readonly labels: Labels;
  readonly rules: QualityRules;
  readonly deliverer: WebhookDeliverer;
  private readonly now: () => Date;

  constructor(private readonly d: InferenceServiceDeps) {
    this.now = d.now ?? (() => new Date());
    mkdirSync(d.workDir, { recursive: true });
    const event = (input: Parameters<typeof recordEvent>[1]) => recordEvent(d.prisma, input, this.now());
    this.job = new InferenceTableJob({
      prisma: d.prisma,
      store: d.store,
      workDir: d.workDir,
      now: this.now,
      event,
      ...(d.leaseMs ? { leaseMs: d.leaseMs } : {}),
      ...(d.maxObjectsPerBatch ? { maxObjectsPerBatch: d.maxObjectsPerBatch } : {}),
    });
    this.table = new TableReader(d.store, new LocalMirror(d.store, join(d.workDir, 'mirror')));
    this.labels = new Labels(d.store, this.table, d.workDir, d.labelCompactAfterFiles ? { compactAfterFiles: d.labelCompactAfterFiles } : {});
    const policy = new WebhookTargetPolicy(d.webhookAllowHosts ?? []);
    this.deliverer = new WebhookDeliverer({
      prisma: d.prisma,
      ...d.webhook,
      policy,
      secretFor: async (alertId) => {
        const alert = await d.prisma.qualityAlert.findUnique({ where: { id: alertId }, include: { rule: { select: { webhookSecretEnc: true } } } });
        return alert?.rule.webhookSecretEnc ? d.secrets.open(alert.rule.webhookSecretEnc) : null;
      },
      onSettled: (alertId) => {
        void d.prisma.qualityAlert.findUnique({ where: { id: alertId }, select: { groupId: true } }).then((a) => a && d.pubsub.publish(`alerts:${a.groupId}`, { alertId })).catch(() => undefined);
      },
    });
    this.rules = new QualityRules({
      prisma: d.prisma,
      pubsub: d.pubsub,
      seal: (p) => d.secrets.seal(p),
      deliverer: this.deliverer,
      policy,
      now: this.now,
      models: (groupId) => groupModels(d.prisma, groupId),
      quality: (groupId, from, to) => this.quality(groupId, from, to),
      tableLocation: (group, version) => this.location(group, version),
      event,
    });
  }

  /** The store URL of a group's (or one version's) rows, and a glob Spark/DuckDB read. */
  location(group: string, version: string | null = null): { location: string; pathPattern: string } {
    const root = this.d.store.description.split(' at ')[0]!.replace(/\/$/, '');
    const location = `${root}/${TABLE_ROOT}/group=${group}/${version ? `version=${version}/` : ''}`;
    return { location, pathPattern: `${location}${version ? '' : 'version=*/'}dt=*/*.parquet` };
  }

  private async groupName(groupId: string): Promise<string> {
    const g = await this.d.prisma.serviceGroup.findUnique({ where: { id: groupId }, select: { name: true } });
    if (!g) throw notFound(`service group ${groupId} does not exist`);
    return g.name;
  }

  /** Processes every new log object; then evaluates the rules and stores a quality snapshot. */
  async runJob(groupId: string, trigger = 'MANUAL'): Promise<TableJobResult> {
    const result = await this.job.run(groupId, trigger);
    // the rows are in; a failing rule evaluation must not fail the run, but it is seen
    await this.afterRun(groupId).catch((err: unknown) =>
      recordEvent(this.d.prisma, { level: 'WARNING', resourceKind: 'ServiceGroup', resourceName: groupId, groupId, reason: 'QualityEvaluationFailed', message: (err as Error).message ?? String(err) }, this.now()).catch(() => undefined),
    );
    return result;
  }

  private async afterRun(groupId: string): Promise<void> {
    await this.rules.evaluate(groupId);
    const to = this.now();
    const from = new Date(to.getTime() - 3600_000);
    for (const q of await this.quality(groupId, from, to)) {
      await this.d.prisma.qualitySnapshot.create({ data: { groupId, version: q.version, windowFrom: from, windowTo: to, rows: q.rows, labelledRows: q.labelledRows, metrics: q as unknown as object } });
    }
  }

  async tableInfo(groupId: string): Promise<{ rowCount: number; labelledRows: number; lastRunAt: Date | null; location: string }> {
    const name = await this.groupName(groupId);
    const [counts, last] = await Promise.all([
      this.table.withTable(name, async ({ conn }) => (await query(conn, `SELECT count(*) AS n, count(label_class) AS l FROM t`))[0]),
      this.d.prisma.inferenceJobRun.findFirst({ where: { groupId, state: 'SUCCEEDED' }, orderBy: { finishedAt: 'desc' }, select: { finishedAt: true } }),
    ]);
    return { rowCount: toNum(counts?.n) ?? 0, labelledRows: toNum(counts?.l) ?? 0, lastRunAt: last?.finishedAt ?? null, location: this.location(name).location };
  }

  async rows(groupId: string, filter: { version?: string | null; clientRequestId?: string | null; first?: number | null }): Promise<InferenceRowOut[]> {
    const first = filter.first ?? 100;
    if (!Number.isInteger(first) || first < 1 || first > 10_000) throw badInput('first must be 1..10000', { field: 'first' });
    const name = await this.groupName(groupId);
    const where = ['true'];
    if (filter.version) where.push(`version = ${str(filter.version)}`);
    if (filter.clientRequestId) where.push(`client_request_id = ${str(filter.clientRequestId)}`);
    const rows = await this.table.withTable(name, ({ conn }) =>
      query(conn, `SELECT *, epoch_ms("time") AS time_ms FROM t WHERE ${where.join(' AND ')} ORDER BY "time" DESC, request_id, row_index LIMIT ${first}`),
    );
    return rows.map((r) => {
      const features: Record<string, unknown> = {};
      if (typeof r.features === 'string') Object.assign(features, parseJson(r.features));
      for (const [k, v] of Object.entries(r)) if (!NOT_FEATURES.has(k) && v !== null) features[k.startsWith('feature_') && NOT_FEATURES.has(k.slice(8)) ? k.slice(8) : k] = v;
      return {
        requestId: String(r.request_id),
        clientRequestId: r.client_request_id === null ? null : String(r.client_request_id),
        rowIndex: Number(r.row_index),
        version: String(r.version),
        time: new Date(Number(r.time_ms)),
        features,
        prediction: parseJson(r.prediction),
        label: parseJson(r.label),
        status: toNum(r.status) ?? 0,
        latencyMs: toNum(r.latency_ms),
        error: r.error === null ? null : String(r.error),
        shadow: r.shadow === true,
      };
    });
  }

  async quality(groupId: string, from?: Date | null, to?: Date | null): Promise<VersionQuality[]> {
    const name = await this.groupName(groupId);
    const models = await groupModels(this.d.prisma, groupId);
    return this.table.withTable(name, ({ conn }) => computeQuality(conn, models, from, to));
  }

  async verdict(groupId: string, from?: Date | null, to?: Date | null): Promise<AbVerdict> {
    const quality = await this.quality(groupId, from, to);
    const versions = await this.d.prisma.serviceVersion.findMany({ where: { groupId }, orderBy: { createdAt: 'asc' }, select: { name: true } });
    if (versions.length < 2) return abVerdict([], undefined);
    return abVerdict(quality, [versions[0]!.name, versions[1]!.name]);
  }

  /** Rows in the table per version in a window (used by the scheduler's progress and tests). */
  async count(groupId: string, from?: Date | null, to?: Date | null): Promise<number> {
    const name = await this.groupName(groupId);
    return this.table.withTable(name, async ({ conn }) => toNum((await query(conn, `SELECT count(*) AS n FROM t WHERE ${windowSql(from, to)}`))[0]?.n) ?? 0);
  }

  async close(): Promise<void> {
    this.deliverer.close();
  }
}
