// The identity vocabulary shared by every authentication path (admin token, Sluice session
// JWT, external JWT). Kept free of Prisma so the gateway can use it without a database.

export const ROLES = ['ADMIN', 'DEVELOPER', 'VIEWER'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role =>
  typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** Higher rank = more rights; used to pick the strongest of several mapped roles. */
export const roleRank: Record<Role, number> = { VIEWER: 0, DEVELOPER: 1, ADMIN: 2 };

export interface Identity {
  kind: 'admin' | 'user' | 'external';
  /** Sluice user id (session tokens); absent for the bootstrap admin and external identities */
  userId?: string;
  username: string;
  /** the global role; per-project roles are resolved by the caller from the database */
  role: Role;
  /** session tokens: the user's session epoch when the token was issued */
  sessionEpoch?: number;
  /** external identities: the issuer's `sub` */
  subject?: string;
  /** external identities: the issuer's `iss` */
  issuer?: string;
  /** external identities: service-group names from the `sluice_groups` claim (for /predict) */
  groups?: string[];
}
