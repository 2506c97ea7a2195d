// Rule evaluation is serialized per group: the scheduler (after each table run) and an
// on-demand evaluation used to overlap, and one working from a stale view raised a second
// alert for one breach (its metric read before another evaluation opened and resolved the
// alert), or announced one recovery twice. Evaluations now queue; resolving is conditional.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../fixtures/db.ts';
import { createMemoryPubSub } from '../../platform/pubsub/index.ts';
import { recordEvent } from '../../control/domain/events.ts';
import { QualityRules } from '../../control/inference/rules.ts';
import { WebhookTargetPolicy } from '../../control/inference/webhook-target.ts';
import type { WebhookDeliverer } from '../../control/inference/webhooks.ts';
import type { VersionQuality } from '../../control/inference/quality.ts';
import { groupModels } from '../../control/inference/signatures.ts';
import { seedGroup } from './helpers.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const quality = (errorRate: number) => [{ version: 'v1', requests: 100, errorRate } as unknown as VersionQuality];

describe('overlapping rule evaluations', () => {
  let db: TestDatabase;
  let groupId: string;
  /** what the next quality() calls answer, in order; a promise answers when it settles */
  let answers: (VersionQuality[] | Promise<VersionQuality[]>)[] = [];
  let calls = 0;
  let rules: QualityRules;

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    ({ groupId } = await seedGroup(db.prisma, 'rule-race'));
    rules = new QualityRules({
      prisma: db.prisma,
      pubsub: createMemoryPubSub(),
      seal: (s) => s,
      deliverer: { enqueue: () => undefined } as unknown as WebhookDeliverer,
      policy: new WebhookTargetPolicy(),
      now: () => new Date(),
      models: (g) => groupModels(db.prisma, g),
      quality: async () => {
        calls++;
        const next = answers.shift();
        if (!next) throw new Error('no answer queued');
        return next;
      },
      tableLocation: () => ({ location: 'x', pathPattern: 'x' }),
      event: (input) => recordEvent(db.prisma, input, new Date()),
    });
  }, 60_000);

  afterAll(async () => {
    await db.drop();
  });

  const count = (reason: string) => db.prisma.event.count({ where: { groupId, reason } });

  it('a slow evaluation that saw the breach does not open a second alert after a later one opened and resolved it', async () => {
    const rule = (await rules.create(groupId, { name: 'errors', metric: 'ERROR_RATE', threshold: 0.1 }, null)).rule;
    let release!: (q: VersionQuality[]) => void;
    calls = 0;
    answers = [new Promise<VersionQuality[]>((r) => (release = r)), quality(0.5), quality(0.0)];
    const a = rules.evaluate(groupId); // slow: its metric (a breach) arrives last
    const b = rules.evaluate(groupId); // the breach
    const c = rules.evaluate(groupId); // the recovery
    // let b and c run if they can (before the fix they did, alongside a); then a answers
    const started = Date.now();
    while (calls < 3 && Date.now() - started < 1500) await sleep(20);
    await Promise.race([Promise.all([b, c]), sleep(1500)]);
    release(quality(0.5));
    await Promise.all([a, b, c]);
    const alerts = await db.prisma.qualityAlert.findMany({ where: { ruleId: rule.id } });
    expect(alerts).toHaveLength(1);
    expect(await count('QualityAlertOpened')).toBe(1);
    expect(await count('QualityAlertResolved')).toBe(1);
    expect(alerts[0]!.state).toBe('RESOLVED');
    await db.prisma.qualityRule.delete({ where: { id: rule.id } });
  });

  it('two concurrent evaluations of a breach raise one alert, and of its recovery announce one resolution', async () => {
    const rule = (await rules.create(groupId, { name: 'errors-2', metric: 'ERROR_RATE', threshold: 0.1 }, null)).rule;
    const opened = await count('QualityAlertOpened');
    const resolved = await count('QualityAlertResolved');
    answers = [quality(0.5), quality(0.5)];
    await Promise.all([rules.evaluate(groupId), rules.evaluate(groupId)]);
    expect(await db.prisma.qualityAlert.count({ where: { ruleId: rule.id } })).toBe(1);
    expect(await count('QualityAlertOpened')).toBe(opened + 1);
    answers = [quality(0.0), quality(0.0)];
    await Promise.all([rules.evaluate(groupId), rules.evaluate(groupId)]);
    expect(await db.prisma.qualityAlert.count({ where: { ruleId: rule.id, state: 'RESOLVED' } })).toBe(1);
    expect(await count('QualityAlertResolved')).toBe(resolved + 1);
  });
});
