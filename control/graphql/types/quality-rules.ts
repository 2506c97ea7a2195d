// Editing a quality rule after it was created (updateQualityRule): its name, threshold,
// window, minimum rows and webhook URL. The signing secret is made once, when a rule is
// created with a webhook URL, and shown only then; an edit keeps it and never returns it, so
// a rule created without a webhook cannot be given one here (create a new rule instead).
// The metric, feature and version stay: a rule that watches something else is a new rule.
import { badInput, notFound } from '../../../platform/errors.ts';
import { isUniqueViolation } from '../../../platform/db/errors.ts';
import type { QualityRule } from '../../../prisma/generated/sqlite/client.ts';
import { builder } from '../builder.ts';
import { canManage, inference } from './inference.ts';

export interface QualityRulePatch {
  name?: string | null;
  threshold?: number | null;
  windowSeconds?: number | null;
  minRows?: number | null;
  /** absent: unchanged; null or "": the webhook is removed (its secret is kept for a later URL) */
  webhookUrl?: string | null;
}

export type QualityRuleChanges = Partial<Pick<QualityRule, 'name' | 'threshold' | 'windowSeconds' | 'minRows' | 'webhookUrl'>>;

/** Checks a patch against the rule it changes; the fields to write, or BAD_USER_INPUT on the field at fault. */
export function ruleChanges(rule: Pick<QualityRule, 'webhookSecretEnc'>, patch: QualityRulePatch): QualityRuleChanges {
  const out: QualityRuleChanges = {};
  if (patch.name !== undefined && patch.name !== null) {
    const name = patch.name.trim();
    if (name.length === 0 || name.length > 100) throw badInput('rule name must be 1..100 characters', { field: 'name' });
    out.name = name;
  }
  if (patch.threshold !== undefined && patch.threshold !== null) {
    if (!Number.isFinite(patch.threshold)) throw badInput('threshold must be a finite number', { field: 'threshold' });
    out.threshold = patch.threshold;
  }
  if (patch.windowSeconds !== undefined && patch.windowSeconds !== null) {
    if (!Number.isInteger(patch.windowSeconds) || patch.windowSeconds < 1 || patch.windowSeconds > 90 * 86400) throw badInput('windowSeconds must be an integer from 1 to 7776000', { field: 'windowSeconds' });
    out.windowSeconds = patch.windowSeconds;
  }
  if (patch.minRows !== undefined && patch.minRows !== null) {
    if (!Number.isInteger(patch.minRows) || patch.minRows < 1) throw badInput('minRows must be a positive integer', { field: 'minRows' });
    out.minRows = patch.minRows;
  }
  if (patch.webhookUrl !== undefined) {
    const raw = patch.webhookUrl?.trim() ?? '';
    if (raw === '') out.webhookUrl = null;
    else {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw badInput('webhookUrl is not a URL', { field: 'webhookUrl' });
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badInput('webhookUrl must be http or https', { field: 'webhookUrl' });
      if (rule.webhookSecretEnc === null) {
        throw badInput('this rule was created without a webhook, so it has no signing secret; create a new rule with the webhook URL (its secret is shown once, then)', { field: 'webhookUrl', reason: 'NO_WEBHOOK_SECRET' });
      }
      out.webhookUrl = u.toString();
    }
  }
  return out;
}

const QualityRuleUpdateInput = builder.inputType('QualityRuleUpdateInput', {
  fields: (t) => ({
    name: t.string(),
    threshold: t.float(),
    windowSeconds: t.int(),
    minRows: t.int(),
    webhookUrl: t.string({ description: 'null or "" removes the webhook; a rule created without one cannot get one (it has no secret)' }),
  }),
});

builder.mutationFields((t) => ({
  updateQualityRule: t.prismaField({
    type: 'QualityRule',
    description: 'Changes a rule\'s name, threshold, window, minimum rows or webhook URL; the webhook secret stays and is never shown again. Open alerts follow at the next evaluation.',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: QualityRuleUpdateInput, required: true }) },
    resolve: async (query, _r, { id, input }, ctx) => {
      const rule = await ctx.prisma.qualityRule.findUnique({ where: { id: String(id) } });
      if (!rule) throw notFound(`quality rule ${String(id)} does not exist`);
      await canManage(ctx, rule.groupId);
      const data = ruleChanges(rule, input);
      // the same destination policy as creation and delivery (loopback, private, link-local... refused)
      if (data.webhookUrl) data.webhookUrl = await inference(ctx).rules.checkWebhookUrl(data.webhookUrl);
      try {
        return await ctx.prisma.qualityRule.update({ ...query, where: { id: rule.id }, data });
      } catch (err) {
        if (isUniqueViolation(err)) throw badInput(`the group already has a rule named "${data.name ?? rule.name}"`, { field: 'name', reason: 'CONFLICT' });
        throw err;
      }
    },
  }),
}));
