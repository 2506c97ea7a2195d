// GraphQL for users, projects, membership and signing in. Admins manage users and
// projects; `me` tells a caller who they are.
import { z } from 'zod';
import { builder } from '../builder.ts';
import { reselect, idOf } from '../reselect.ts';
import { requireActor } from '../context.ts';
import { RoleEnum } from './enums.ts';
import { readableGroupsWhere } from '../access.ts';
import { GROUP_PAGE_MAX, MEMBERS_PAGE_MAX, PROJECTS_PAGE, USERS_PAGE, groupPageSize, pageSize } from '../list-bounds.ts';

builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    username: t.exposeString('username'),
    displayName: t.exposeString('displayName', { nullable: true }),
    role: t.expose('role', { type: RoleEnum }),
    disabled: t.exposeBoolean('disabled'),
    external: t.boolean({ resolve: (u) => u.externalSubject != null }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    memberships: t.relation('memberships', {
      description: `by project id: at most \`first\` (default and cap ${MEMBERS_PAGE_MAX}); the next page is \`after\` the last one's project id`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }), after: t.arg.id({ description: 'the project id of the last membership of the previous page' }) },
      query: (args) => ({ where: args.after ? { projectId: { gt: String(args.after) } } : {}, orderBy: { projectId: 'asc' }, take: pageSize(args.first, MEMBERS_PAGE_MAX) }),
    }),
  }),
});

builder.prismaObject('ProjectMember', {
  fields: (t) => ({
    role: t.expose('role', { type: RoleEnum }),
    user: t.relation('user'),
    project: t.relation('project'),
  }),
});

builder.prismaObject('Project', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    members: t.relation('members', {
      description: `by user id: at most \`first\` (default and cap ${MEMBERS_PAGE_MAX}); the next page is \`after\` the last member's user id`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }), after: t.arg.id({ description: 'the user id of the last member of the previous page' }) },
      query: (args) => ({ where: args.after ? { userId: { gt: String(args.after) } } : {}, orderBy: { userId: 'asc' }, take: pageSize(args.first, MEMBERS_PAGE_MAX) }),
    }),
    // a project reached from elsewhere (a resource group, a user) shows its services only
    // to those who may read them
    serviceGroups: t.prismaField({
      type: ['ServiceGroup'],
      description: `The project's groups the caller may read, oldest first: at most \`first\` (default and cap ${GROUP_PAGE_MAX})`,
      args: { first: t.arg.int({ validate: z.number().int().min(0) }) },
      resolve: async (query, project, args, ctx) => {
        const where = await readableGroupsWhere(ctx);
        return ctx.prisma.serviceGroup.findMany({
          ...query,
          where: { AND: [where, { projectId: project.id }] },
          orderBy: { createdAt: 'asc' },
          take: groupPageSize(args.first), // the bound the cost model assumes (list-bounds.ts)
        });
      },
    }),
  }),
});

const Session = builder.objectRef<{ token: string; expiresAt: Date; userId: string }>('Session').implement({
  fields: (t) => ({
    token: t.exposeString('token'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    user: t.prismaField({ type: 'User', resolve: (query, s, _a, ctx) => ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: s.userId } }) }),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) => ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: requireActor(ctx).userId } }),
  }),
  users: t.prismaConnection({
    type: 'User',
    cursor: 'id',
    defaultSize: USERS_PAGE.default,
    maxSize: USERS_PAGE.max,
    authScopes: { admin: true },
    args: { usernameContains: t.arg.string() },
    resolve: (query, _root, { usernameContains }, ctx) =>
      ctx.prisma.user.findMany({ ...query, where: usernameContains ? { username: { contains: usernameContains } } : {}, orderBy: { id: 'asc' } }),
  }),
  projects: t.prismaConnection({
    type: 'Project',
    cursor: 'id',
    defaultSize: PROJECTS_PAGE.default,
    maxSize: PROJECTS_PAGE.max,
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) => {
      const actor = requireActor(ctx);
      return ctx.prisma.project.findMany({
        ...query,
        where: actor.role === 'ADMIN' ? {} : { members: { some: { userId: actor.userId } } },
        orderBy: { id: 'asc' },
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  login: t.field({
    type: Session,
    args: {
      username: t.arg.string({ required: true, validate: z.string().min(1).max(200) }),
      password: t.arg.string({ required: true, validate: z.string().min(1).max(1024) }),
    },
    resolve: async (_root, { username, password }, ctx) => {
      const session = await ctx.domain.people.login(username, password, ctx.clientAddress ?? null);
      return { token: session.token, expiresAt: session.expiresAt, userId: session.user.id };
    },
  }),
  createUser: t.prismaField({
    type: 'User',
    authScopes: { admin: true },
    args: {
      username: t.arg.string({ required: true }),
      password: t.arg.string(),
      displayName: t.arg.string(),
      role: t.arg({ type: RoleEnum }),
    },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.people.createUser(requireActor(ctx), args), ctx.prisma.user, query, idOf),
  }),
  updateUser: t.prismaField({
    type: 'User',
    authScopes: { admin: true },
    args: {
      id: t.arg.id({ required: true }),
      role: t.arg({ type: RoleEnum }),
      disabled: t.arg.boolean(),
      password: t.arg.string(),
      displayName: t.arg.string(),
    },
    resolve: (query, _root, { id, ...input }, ctx) =>
      reselect(ctx.domain.people.updateUser(requireActor(ctx), id, input), ctx.prisma.user, query, id),
  }),
  createProject: t.prismaField({
    type: 'Project',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }), description: t.arg.string() },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.people.createProject(requireActor(ctx), args), ctx.prisma.project, query, idOf),
  }),
  setProjectMember: t.prismaField({
    type: 'Project',
    description: 'Adds a user to a project with a role, changes the role, or (role: null) removes the user',
    authScopes: { admin: true },
    args: { projectId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }), role: t.arg({ type: RoleEnum }) },
    resolve: (query, _root, args, ctx) =>
      reselect(ctx.domain.people.setMember(requireActor(ctx), args.projectId, args.userId, args.role ?? null), ctx.prisma.project, query, args.projectId),
  }),
}));
