// Users, projects and project membership, and signing in. Admins manage users and
// projects; a project's admins and developers see and manage its services.
import { SluiceError, badInput, conflict, notFound, unauthenticated } from '../../platform/errors.ts';
import { requireAdmin, type Actor, type RoleName } from './actor.ts';
import { audit } from './audit.ts';
import type { DomainDeps } from './deps.ts';
import { assertDnsLabel, assertText } from './names.ts';
import type { Project, User } from '../../platform/db/prisma.ts';
import { DEFAULT_PROJECT } from './groups.ts';
import { LoginThrottle } from './login-throttle.ts';
import { randomBytes } from 'node:crypto';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, encoded: string): Promise<boolean>;
}

export interface SessionIssuer {
  issue(claims: { userId: string; username: string; role: RoleName; sessionEpoch: number }): Promise<{ token: string; expiresAt: Date }>;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MIN_PASSWORD = 8;
export const ADMIN_USERNAME = 'admin';

export class People {
  private dummyHash: Promise<string> | null = null;
  private readonly throttle: LoginThrottle;

  constructor(
    private readonly deps: DomainDeps,
    private readonly passwords: PasswordHasher,
    private readonly sessions: SessionIssuer,
    throttle?: LoginThrottle,
  ) {
    this.throttle = throttle ?? new LoginThrottle();
  }

  /** The bootstrap admin user and the default project: created once, found afterwards. */
  async bootstrap(): Promise<{ admin: Actor; defaultProject: Project }> {
    const { prisma } = this.deps;
    const user = await prisma.user.upsert({
      where: { username: ADMIN_USERNAME },
      create: { username: ADMIN_USERNAME, displayName: 'Bootstrap admin', role: 'ADMIN' },
      update: {},
    });
    const defaultProject = await prisma.project.upsert({
      where: { name: DEFAULT_PROJECT },
      create: { name: DEFAULT_PROJECT, description: 'Created on first start', createdById: user.id },
      update: {},
    });
    return { admin: { userId: user.id, username: user.username, role: user.role }, defaultProject };
  }

  /**
   * The acting user behind a session, or null when the user is gone or disabled, or the
   * session has ended: issued before a password change, a role change or a disable.
   */
  async actorFor(userId: string, session?: { sessionEpoch: number; role: RoleName }): Promise<Actor | null> {
    const user = await this.deps.prisma.user.findUnique({ where: { id: userId } });
    if (!user || user.disabled) return null;
    if (session && (session.sessionEpoch !== user.sessionEpoch || session.role !== user.role)) return null;
    return { userId: user.id, username: user.username, role: user.role };
  }

  /** A user coming from an external issuer is created on first sight (role from its claims). */
  async actorForExternal(subject: string, username: string, role: RoleName): Promise<Actor> {
    const { prisma } = this.deps;
    const existing = await prisma.user.findUnique({ where: { externalSubject: subject } });
    if (existing) {
      if (existing.disabled) throw unauthenticated('this user is disabled');
      return { userId: existing.id, username: existing.username, role: existing.role };
    }
    let name = username.toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 50) || 'user';
    if (await prisma.user.findUnique({ where: { username: name } })) name = `${name}-${subject.slice(-8).toLowerCase().replace(/[^a-z0-9]/g, '')}`;
    const user = await prisma.user.create({ data: { username: name, role, externalSubject: subject } });
    return { userId: user.id, username: user.username, role: user.role };
  }

  async createUser(actor: Actor, input: { username: string; password?: string | null; displayName?: string | null; role?: RoleName | null }): Promise<User> {
    requireAdmin(actor);
    const username = input.username;
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw badInput('username must be 1-63 lower-case letters, digits, ".", "_" or "-"', { field: 'username' });
    }
    if (input.password != null && (input.password.length < MIN_PASSWORD || input.password.length > 1024)) {
      throw badInput(`password must be ${MIN_PASSWORD} to 1024 characters`, { field: 'password' });
    }
    const passwordHash = input.password != null ? await this.passwords.hash(input.password) : null;
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      if (await tx.user.findUnique({ where: { username } })) throw conflict(`user "${username}" already exists`);
      const user = await tx.user.create({
        data: { username, passwordHash, displayName: assertText(input.displayName, 'displayName', 200) || null, role: input.role ?? 'VIEWER' },
      });
      await audit(tx, actor, 'createUser', 'User', user.id, null, user, now());
      return user;
    });
  }

  async updateUser(actor: Actor, id: string, input: { role?: RoleName | null; disabled?: boolean | null; password?: string | null; displayName?: string | null }): Promise<User> {
    requireAdmin(actor);
    if (input.password != null && (input.password.length < MIN_PASSWORD || input.password.length > 1024)) {
      throw badInput(`password must be ${MIN_PASSWORD} to 1024 characters`, { field: 'password' });
    }
    const passwordHash = input.password != null ? await this.passwords.hash(input.password) : undefined;
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const before = await tx.user.findUnique({ where: { id } });
      if (!before) throw notFound(`user ${id} does not exist`);
      if (before.username === ADMIN_USERNAME && (input.role && input.role !== 'ADMIN' || input.disabled)) {
        throw conflict('the bootstrap admin keeps its role');
      }
      const after = await tx.user.update({
        where: { id },
        data: {
          ...(input.role ? { role: input.role } : {}),
          ...(input.disabled != null ? { disabled: input.disabled } : {}),
          ...(passwordHash ? { passwordHash } : {}),
          // a new password, another role or a disable ends every session issued before
          ...(passwordHash || (input.role && input.role !== before.role) || (input.disabled && !before.disabled) ? { sessionEpoch: { increment: 1 } } : {}),
          ...(input.displayName != null ? { displayName: assertText(input.displayName, 'displayName', 200) } : {}),
        },
      });
      await audit(tx, actor, 'updateUser', 'User', id, before, after, now());
      return after;
    });
  }

  async login(username: string, password: string, address: string | null = null): Promise<{ token: string; expiresAt: Date; user: User }> {
    await this.throttle.check(String(username), address);
    const user = await this.deps.prisma.user.findUnique({ where: { username: String(username) } });
    // an unknown user costs the same scrypt work as a known one (a hash made with today's
    // parameters), so timing does not reveal which usernames exist
    this.dummyHash ??= this.passwords.hash(randomBytes(18).toString('base64'));
    const encoded = user?.passwordHash ?? (await this.dummyHash);
    const ok = await this.passwords.verify(String(password), encoded);
    if (!user || !user.passwordHash || !ok || user.disabled) {
      await this.throttle.failed(String(username), address);
      // the password field is the one to type again (which of the two was wrong is not told)
      throw new SluiceError('UNAUTHENTICATED', 'wrong username or password', { field: 'password' });
    }
    await this.throttle.succeeded(String(username));
    const session = await this.sessions.issue({ userId: user.id, username: user.username, role: user.role, sessionEpoch: user.sessionEpoch });
    const actor = { userId: user.id, username: user.username, role: user.role };
    await this.deps.prisma.$transaction((tx) => audit(tx, actor, 'login', 'User', user.id, null, { expiresAt: session.expiresAt }, this.deps.now()));
    return { ...session, user };
  }

  async createProject(actor: Actor, input: { name: string; description?: string | null }): Promise<Project> {
    requireAdmin(actor);
    const name = assertDnsLabel(input.name, 'name');
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      if (await tx.project.findUnique({ where: { name } })) throw conflict(`project "${name}" already exists`);
      const project = await tx.project.create({ data: { name, description: assertText(input.description, 'description', 2000), createdById: actor.userId } });
      await audit(tx, actor, 'createProject', 'Project', project.id, null, project, now());
      return project;
    });
  }

  async setMember(actor: Actor, projectId: string, userId: string, role: RoleName | null): Promise<Project> {
    requireAdmin(actor);
    const { prisma, now } = this.deps;
    return prisma.$transaction(async (tx) => {
      const project = await tx.project.findUnique({ where: { id: projectId } });
      if (!project) throw notFound(`project ${projectId} does not exist`);
      if (!(await tx.user.findUnique({ where: { id: userId } }))) throw notFound(`user ${userId} does not exist`);
      const before = await tx.projectMember.findUnique({ where: { projectId_userId: { projectId, userId } } });
      if (role) {
        await tx.projectMember.upsert({ where: { projectId_userId: { projectId, userId } }, create: { projectId, userId, role }, update: { role } });
      } else {
        await tx.projectMember.deleteMany({ where: { projectId, userId } });
      }
      await audit(tx, actor, role ? 'setProjectMember' : 'removeProjectMember', 'Project', projectId, before, role ? { userId, role } : null, now());
      return project;
    });
  }
}
