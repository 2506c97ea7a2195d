// Quality rules and the alerts they raise. A rule watches one metric of a group (or of one
// version) over a trailing window; it fires when the metric is worse than the threshold
// (below it for ACCURACY and KS_P_VALUE, above it for PSI, JS_DISTANCE, ERROR_RATE and
// LATENCY_P99). A firing rule has exactly one open alert per version (a unique key held
// while OPEN), which resolves when the metric recovers. Opening and resolving record an
// event, publish on alertChanged and queue a signed webhook for the retraining pipeline.
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { QualityRule } from '../../prisma/generated/sqlite/client.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import type { PubSub } from '../../platform/pubsub/port.ts';
import { badInput, notFound } from '../../platform/errors.ts';
import type { EventInput } from '../domain/events.ts';
import type { FeatureDrift, VersionQuality } from './quality.ts';
import type { VersionModel } from './signatures.ts';
import type { WebhookTargetPolicy } from './webhook-target.ts';
import type { WebhookDeliverer } from './webhooks.ts';

export type QualityMetricName = 'ACCURACY' | 'PSI' | 'KS_P_VALUE' | 'JS_DISTANCE' | 'ERROR_RATE' | 'LATENCY_P99';
export const QUALITY_METRICS: readonly QualityMetricName[] = ['ACCURACY', 'PSI', 'KS_P_VALUE', 'JS_DISTANCE', 'ERROR_RATE', 'LATENCY_P99'];
const LOWER_IS_WORSE = new Set<QualityMetricName>(['ACCURACY', 'KS_P_VALUE']);
const DRIFT = new Set<QualityMetricName>(['PSI', 'KS_P_VALUE', 'JS_DISTANCE']);

export const alertTopic = (groupId: string): string => `alerts:${groupId}`;

export interface QualityRuleInput {
  name: string;
  metric: QualityMetricName;
  feature?: string | null;
  threshold: number;
  versionId?: string | null;
  webhookUrl?: string | null;
  windowSeconds?: number | null;
  minRows?: number | null;
}

export interface RulesDeps {
  prisma: PrismaClient;
  pubsub: PubSub;
  seal: (plain: string) => string;
  deliverer: WebhookDeliverer;
  /** where webhooks may point */
  policy: WebhookTargetPolicy;
  now: () => Date;
  models: (groupId: string) => Promise<Map<string, VersionModel>>;
  quality: (groupId: string, from: Date, to: Date) => Promise<VersionQuality[]>;
  /** where a version's rows are, for the webhook body */
  tableLocation: (group: string, version: string | null) => { location: string; pathPattern: string };
  event: (input: EventInput) => Promise<unknown>;
}

export const fires = (metric: QualityMetricName, value: number, threshold: number): boolean =>
  LOWER_IS_WORSE.has(metric) ? value < threshold : value > threshold;

/** The rule's metric for one version, or null when the window has too little to say. */
export function metricValue(rule: Pick<QualityRule, 'metric' | 'feature' | 'minRows'>, q: VersionQuality): number | null {
  const metric = rule.metric as QualityMetricName;
  switch (metric) {
    case 'ACCURACY':
      return q.scoredRows >= rule.minRows ? q.accuracy : null;
    case 'ERROR_RATE':
      return q.requests >= rule.minRows ? q.errorRate : null;
    case 'LATENCY_P99':
      return q.requests >= rule.minRows ? q.latencyP99Ms : null;
    default: {
      const pick = (d: FeatureDrift): number | null => (metric === 'PSI' ? d.psi : metric === 'JS_DISTANCE' ? d.jsDistance : d.ksPValue);
      const all = [...q.drift, ...(q.predictionDrift ? [q.predictionDrift] : [])].filter((d) => d.count >= rule.minRows);
      const chosen = rule.feature ? all.filter((d) => d.feature === rule.feature) : q.drift.filter((d) => d.count >= rule.minRows);
      const values = chosen.map(pick).filter((v): v is number => v !== null);
      if (values.length === 0) return null;
      return LOWER_IS_WORSE.has(metric) ? Math.min(...values) : Math.max(...values);
    }
  }
}

export class QualityRules {
  /** the group's evaluation in progress: evaluations of one group run one after another */
  private readonly evaluating = new Map<string, Promise<unknown>>();

  constructor(private readonly d: RulesDeps) {}

  async create(groupId: string, input: QualityRuleInput, createdById: string | null): Promise<{ rule: QualityRule; webhookSecret: string | null }> {
    const { prisma } = this.d;
    const group = await prisma.serviceGroup.findUnique({ where: { id: groupId }, select: { id: true } });
    if (!group) throw notFound(`service group ${groupId} does not exist`);
    const name = input.name?.trim() ?? '';
    if (name.length === 0 || name.length > 100) throw badInput('rule name must be 1..100 characters', { field: 'name' });
    if (!QUALITY_METRICS.includes(input.metric)) throw badInput(`metric must be one of ${QUALITY_METRICS.join(', ')}`, { field: 'metric' });
    if (typeof input.threshold !== 'number' || !Number.isFinite(input.threshold)) throw badInput('threshold must be a finite number', { field: 'threshold' });
    const windowSeconds = input.windowSeconds ?? 3600;
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 90 * 86400) throw badInput('windowSeconds must be an integer from 1 to 7776000', { field: 'windowSeconds' });
    const minRows = input.minRows ?? 1;
    if (!Number.isInteger(minRows) || minRows < 1) throw badInput('minRows must be a positive integer', { field: 'minRows' });
    const models = await this.d.models(groupId);
    let versionName: string | null = null;
    if (input.versionId) {
      const v = [...models.values()].find((m) => m.versionId === input.versionId);
      if (!v) throw badInput(`version ${input.versionId} is not in this group`, { field: 'versionId' });
      versionName = v.name;
    }
    if (input.feature !== undefined && input.feature !== null) {
      if (!DRIFT.has(input.metric)) throw badInput(`feature applies to drift metrics (PSI, KS_P_VALUE, JS_DISTANCE), not ${input.metric}`, { field: 'feature' });
      const candidates = [...models.values()].filter((m) => versionName === null || m.name === versionName);
      const known = new Set<string>(['prediction']);
      for (const m of candidates) {
        for (const c of m.signature?.inputs ?? []) known.add(c.name);
        for (const f of Object.keys(m.baseline?.features ?? {})) known.add(f);
      }
      if (!known.has(input.feature)) {
        throw badInput(`feature "${input.feature}" is not an input of ${versionName ? `version ${versionName}` : 'any version of this group'} (known: ${[...known].slice(0, 20).join(', ')})`, { field: 'feature', reason: 'UNKNOWN_FEATURE' });
      }
    }
    let webhookUrl: string | null = null;
    if (input.webhookUrl) {
      // scheme, and no loopback/private/link-local destination unless the admin allows it
      webhookUrl = (await this.d.policy.checkUrl(input.webhookUrl)).toString();
    }
    const webhookSecret = webhookUrl ? `whsec_${randomBytes(24).toString('base64url')}` : null;
    try {
      const rule = await prisma.qualityRule.create({
        data: {
          groupId,
          versionId: input.versionId ?? null,
          name,
          metric: input.metric,
          feature: input.feature ?? null,
          threshold: input.threshold,
          windowSeconds,
          minRows,
          webhookUrl,
          webhookSecretEnc: webhookSecret ? this.d.seal(webhookSecret) : null,
          createdById,
        },
      });
      return { rule, webhookSecret };
    } catch (err) {
      if (isUniqueViolation(err)) throw badInput(`the group already has a rule named "${name}"`, { field: 'name', reason: 'CONFLICT' });
      throw err;
    }
  }

  /** A webhook URL as the policy allows it (WEBHOOK_DESTINATION_FORBIDDEN otherwise): rule creation and edits both go through it. */
  async checkWebhookUrl(raw: string): Promise<string> {
    return (await this.d.policy.checkUrl(raw)).toString();
  }

  /**
   * Evaluates every rule of the group; returns the alerts it opened, updated or resolved.
   * Serialized per group: the scheduler (after each table run) and an on-demand call used to
   * overlap, and one of them could act on a stale view — open alerts read before the other
   * resolved them, a metric computed before the other's — and raise a second alert, or a
   * second RESOLVED, for one breach. Each evaluation now starts after the previous one ends
   * and reads the open alerts afresh; resolving is also conditional (only the evaluation that
   * flips OPEN to RESOLVED announces it), which covers other processes.
   */
  evaluate(groupId: string): Promise<string[]> {
    const previous = this.evaluating.get(groupId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.evaluateNow(groupId));
    this.evaluating.set(groupId, next);
    void next.finally(() => {
      if (this.evaluating.get(groupId) === next) this.evaluating.delete(groupId);
    }).catch(() => undefined);
    return next;
  }

  private async evaluateNow(groupId: string): Promise<string[]> {
    const { prisma } = this.d;
    const group = await prisma.serviceGroup.findUnique({ where: { id: groupId }, select: { id: true, name: true } });
    if (!group) throw notFound(`service group ${groupId} does not exist`);
    const rules = await prisma.qualityRule.findMany({ where: { groupId }, orderBy: { createdAt: 'asc' } });
    const now = this.d.now();
    const byWindow = new Map<number, Promise<VersionQuality[]>>();
    const models = await this.d.models(groupId);
    const touched: string[] = [];
    for (const rule of rules) {
      let quality = byWindow.get(rule.windowSeconds);
      if (!quality) {
        quality = this.d.quality(groupId, new Date(now.getTime() - rule.windowSeconds * 1000), now);
        byWindow.set(rule.windowSeconds, quality);
      }
      const versionName = rule.versionId ? ([...models.values()].find((m) => m.versionId === rule.versionId)?.name ?? null) : null;
      const open = await prisma.qualityAlert.findMany({ where: { ruleId: rule.id, state: 'OPEN' } });
      for (const q of await quality) {
        if (versionName !== null && q.version !== versionName) continue;
        const value = metricValue(rule, q);
        if (value === null) continue;
        const current = open.find((a) => a.version === q.version);
        const bad = fires(rule.metric as QualityMetricName, value, rule.threshold);
        if (bad && !current) {
          const id = await this.openAlert(rule, group, q.version, value, now);
          touched.push(id);
        } else if (bad && current) {
          if (current.value !== value) await prisma.qualityAlert.update({ where: { id: current.id }, data: { value } });
          touched.push(current.id);
        } else if (!bad && current) {
          await this.resolveAlert(rule, group, current.id, q.version, value, now);
          touched.push(current.id);
        }
      }
    }
    return touched;
  }

  private async openAlert(rule: QualityRule, group: { id: string; name: string }, version: string, value: number, now: Date): Promise<string> {
    const { prisma } = this.d;
    let alertId: string;
    try {
      const alert = await prisma.qualityAlert.create({ data: { ruleId: rule.id, groupId: group.id, version, value, openKey: `${rule.id}|${version}`, openedAt: now } });
      alertId = alert.id;
    } catch (err) {
      // another evaluation opened it a moment ago: one open alert per rule and version
      if (!isUniqueViolation(err)) throw err;
      const existing = await prisma.qualityAlert.findUniqueOrThrow({ where: { openKey: `${rule.id}|${version}` } });
      return existing.id;
    }
    await this.d.event({
      level: 'WARNING',
      resourceKind: 'ServiceGroup',
      resourceName: group.name,
      groupId: group.id,
      reason: 'QualityAlertOpened',
      message: `rule "${rule.name}": ${rule.metric}${rule.feature ? `(${rule.feature})` : ''} of ${version} is ${value.toPrecision(4)}, worse than ${rule.threshold}`,
    }).catch(() => undefined);
    await this.announce(rule, group, alertId, 'OPENED', version, value, now);
    return alertId;
  }

  private async resolveAlert(rule: QualityRule, group: { id: string; name: string }, alertId: string, version: string, value: number, now: Date): Promise<void> {
    // only the evaluation that flips it announces it (another process may have resolved it first)
    const flipped = await this.d.prisma.qualityAlert.updateMany({ where: { id: alertId, state: 'OPEN' }, data: { state: 'RESOLVED', openKey: null, resolvedAt: now, value } });
    if (flipped.count === 0) return;
    await this.d.event({
      level: 'NORMAL',
      resourceKind: 'ServiceGroup',
      resourceName: group.name,
      groupId: group.id,
      reason: 'QualityAlertResolved',
      message: `rule "${rule.name}": ${rule.metric}${rule.feature ? `(${rule.feature})` : ''} of ${version} is back to ${value.toPrecision(4)} (threshold ${rule.threshold})`,
    }).catch(() => undefined);
    await this.announce(rule, group, alertId, 'RESOLVED', version, value, now);
  }

  private async announce(rule: QualityRule, group: { id: string; name: string }, alertId: string, event: 'OPENED' | 'RESOLVED', version: string, value: number, now: Date): Promise<void> {
    await this.d.pubsub.publish(alertTopic(group.id), { alertId }).catch(() => undefined);
    if (!rule.webhookUrl) return;
    const alert = await this.d.prisma.qualityAlert.findUniqueOrThrow({ where: { id: alertId } });
    const from = new Date(now.getTime() - rule.windowSeconds * 1000);
    const table = this.d.tableLocation(group.name, version);
    const body = JSON.stringify({
      event,
      alert: { id: alert.id, state: alert.state, openedAt: alert.openedAt.toISOString(), resolvedAt: alert.resolvedAt?.toISOString() ?? null },
      group: group.name,
      groupId: group.id,
      version,
      rule: { id: rule.id, name: rule.name, windowSeconds: rule.windowSeconds },
      metric: rule.metric,
      feature: rule.feature,
      value,
      threshold: rule.threshold,
      window: { from: from.toISOString(), to: now.toISOString() },
      rows: {
        location: table.location,
        pathPattern: table.pathPattern,
        duckdb: `SELECT * FROM read_parquet('${table.pathPattern}', hive_partitioning = true) WHERE "time" >= TIMESTAMPTZ '${from.toISOString()}' AND "time" < TIMESTAMPTZ '${now.toISOString()}'`,
      },
    });
    const delivery = await this.d.prisma.webhookDelivery.create({ data: { alertId, event, url: rule.webhookUrl, body } });
    this.d.deliverer.enqueue(delivery.id);
  }
}
