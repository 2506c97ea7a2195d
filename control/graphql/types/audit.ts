// GraphQL for the audit log: who did what, when, with the row before and after (admins).
import { builder } from '../builder.ts';
import { AUDIT_PAGE } from '../list-bounds.ts';

builder.prismaObject('AuditLog', {
  fields: (t) => ({
    id: t.exposeID('id'),
    actorId: t.exposeID('actorId', { nullable: true }),
    actorName: t.exposeString('actorName'),
    action: t.exposeString('action'),
    resourceKind: t.exposeString('resourceKind'),
    resourceId: t.exposeID('resourceId', { nullable: true }),
    before: t.expose('before', { type: 'JSON', nullable: true }),
    after: t.expose('after', { type: 'JSON', nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

const AuditFilter = builder.inputType('AuditLogFilter', {
  fields: (t) => ({ actorId: t.id(), action: t.string(), resourceKind: t.string(), resourceId: t.id() }),
});

builder.queryFields((t) => ({
  auditLogs: t.prismaConnection({
    type: 'AuditLog',
    cursor: 'id',
    defaultSize: AUDIT_PAGE.default,
    maxSize: AUDIT_PAGE.max,
    authScopes: { admin: true },
    args: { filter: t.arg({ type: AuditFilter }) },
    resolve: (query, _root, { filter }, ctx) =>
      ctx.prisma.auditLog.findMany({
        ...query,
        where: {
          ...(filter?.actorId ? { actorId: filter.actorId } : {}),
          ...(filter?.action ? { action: filter.action } : {}),
          ...(filter?.resourceKind ? { resourceKind: filter.resourceKind } : {}),
          ...(filter?.resourceId ? { resourceId: filter.resourceId } : {}),
        },
        orderBy: [{ at: 'desc' }, { id: 'asc' }],
      }),
  }),
}));
