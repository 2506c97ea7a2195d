// Live lists that have no per-row change feed of their own: the audit log (admins) and the
// resource groups. Both are fed by the notice each mutation sends once it has answered
// (../mutation-notices.ts); the dashboard reads the list again on each.
import { builder } from '../builder.ts';
import { requireActor } from '../context.ts';
import { requireAdmin } from '../../domain/actor.ts';
import { topics } from '../../../platform/pubsub/port.ts';
import { noticesWhere, type MutationNotice } from '../mutation-notices.ts';

const AuditNotice = builder.objectRef<MutationNotice>('AuditNotice').implement({
  description: 'A mutation has written to the audit log',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (n) => new Date(n.at) }),
    actions: t.exposeStringList('fields', { description: 'the actions (mutation names) it ran' }),
  }),
});

/** mutations that create, change or delete a resource group, its nodes, or what is bound to it */
const TOUCHES_RESOURCE_GROUPS = /ResourceGroup|Node|ServiceVersion|ServiceGroup/;

builder.subscriptionFields((t) => ({
  auditLogged: t.field({
    type: AuditNotice,
    description: 'Each mutation, once its audit entries are written (admins)',
    authScopes: { admin: true },
    subscribe: (_root, _args, ctx) => {
      // refused at subscribe time, not silently on each notice
      requireAdmin(requireActor(ctx));
      return ctx.pubsub.subscribe<MutationNotice>(topics.mutations);
    },
    resolve: (notice) => notice,
  }),
  resourceGroupsChanged: t.field({
    type: 'DateTime',
    description: 'A resource group, its nodes or its bound versions may have changed: read the list again',
    authScopes: { authenticated: true },
    subscribe: (_root, _args, ctx) => noticesWhere(ctx.pubsub.subscribe<MutationNotice>(topics.mutations), (n) => n.fields.some((f) => TOUCHES_RESOURCE_GROUPS.test(f))),
    resolve: (notice) => new Date(notice.at),
  }),
}));
