// Who is acting, and what they may do. Global ADMIN may do everything; everyone else acts
// through their role in a project (DEVELOPER manages the project's services, VIEWER reads).
import { forbidden } from '../../platform/errors.ts';
import type { Tx, PrismaClient } from '../../platform/db/prisma.ts';

export type RoleName = 'ADMIN' | 'DEVELOPER' | 'VIEWER';

export interface Actor {
  userId: string;
  username: string;
  role: RoleName; // global role
}

const rank: Record<RoleName, number> = { VIEWER: 1, DEVELOPER: 2, ADMIN: 3 };

export const isAdmin = (actor: Actor) => actor.role === 'ADMIN';

export function requireAdmin(actor: Actor): void {
  if (!isAdmin(actor)) throw forbidden(`${actor.username} is not an admin`);
}

/** The actor's effective role in a project: a global admin is admin everywhere. */
export async function projectRole(db: Tx | PrismaClient, actor: Actor, projectId: string): Promise<RoleName | null> {
  if (isAdmin(actor)) return 'ADMIN';
  const member = await db.projectMember.findUnique({
    where: { projectId_userId: { projectId, userId: actor.userId } },
    select: { role: true },
  });
  return member?.role ?? null;
}

export async function requireProjectRole(
  db: Tx | PrismaClient,
  actor: Actor,
  projectId: string,
  needed: RoleName,
): Promise<void> {
  const role = await projectRole(db, actor, projectId);
  if (!role || rank[role] < rank[needed]) {
    throw forbidden(`${actor.username} needs the ${needed} role in this project`);
  }
}

/** Project ids whose resources the actor may read; null means all (admin). */
export async function readableProjectIds(db: Tx | PrismaClient, actor: Actor): Promise<string[] | null> {
  if (isAdmin(actor)) return null;
  const rows = await db.projectMember.findMany({ where: { userId: actor.userId }, select: { projectId: true } });
  return rows.map((r) => r.projectId);
}
