// Acceptance of JWTs minted by an external identity provider (Keycloak, Auth0, Dex, …)
// whose public keys are published at a JWKS URL. Only asymmetric algorithms are accepted,
// so a provider's public key can never be used as an HMAC secret. Claims are mapped to a
// Sluice identity: `sub`, `preferred_username`, a roles claim → Sluice role, and the
// `sluice_groups` claim (service groups the caller may call on /predict).

import type { JWTPayload } from 'jose';
import { badInput } from '../../platform/errors.ts';
import { ASYMMETRIC_ALGORITHMS, createJwtVerifier, type AsymmetricAlgorithm, type JwtVerifierConfig } from '../../platform/jwt.ts';
import { loadJwtIssuer } from '../../platform/settings.ts';
import { AuthError } from './errors.ts';
import { isRole, roleRank, type Identity, type Role } from './types.ts';

export const EXTERNAL_ALGORITHMS = ASYMMETRIC_ALGORITHMS;
export type ExternalAlgorithm = AsymmetricAlgorithm;

/** The issuer (platform/jwt.ts verifies the token) and how its claims map to a Sluice identity. */
export interface ExternalJwtConfig extends JwtVerifierConfig {
  /** claim holding the caller's roles; a dotted path reaches nested claims (`realm_access.roles`) */
  rolesClaim?: string;
  /** issuer role name → Sluice role; default maps admin/developer/viewer (any case) */
  roleMapping?: Record<string, Role>;
  /** role for a valid token whose roles map to nothing; null refuses such tokens */
  defaultRole?: Role | null;
  /** claim listing service-group names for /predict */
  groupsClaim?: string;
}

export interface ExternalJwtVerifier {
  /** verified identity, or AuthError */
  verify(token: string): Promise<Identity>;
  /** unverified pre-check used to route a bearer token to this verifier */
  acceptsIssuerOf(token: string): boolean;
}

const DEFAULT_ROLE_MAPPING: Record<string, Role> = { admin: 'ADMIN', developer: 'DEVELOPER', viewer: 'VIEWER' };

function claimAt(payload: JWTPayload, dottedPath: string): unknown {
  let node: unknown = payload;
  for (const key of dottedPath.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** A claim given as an array of strings, or one string of space/comma separated names. */
function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((v) => v.length > 0);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v.length > 0);
  return [];
}

export function createExternalJwtVerifier(config: ExternalJwtConfig): ExternalJwtVerifier {
  const jwt = createJwtVerifier(config);
  const rolesClaim = config.rolesClaim ?? 'roles';
  const groupsClaim = config.groupsClaim ?? 'sluice_groups';
  const roleMapping = new Map(
    Object.entries(config.roleMapping ?? DEFAULT_ROLE_MAPPING).map(([k, v]) => [k.toLowerCase(), v] as const),
  );
  for (const role of roleMapping.values()) if (!isRole(role)) throw badInput(`external JWT: unknown role ${String(role)}`);
  const defaultRole = config.defaultRole === undefined ? 'VIEWER' : config.defaultRole;

  function mapRole(payload: JWTPayload): Role {
    let best: Role | null = null;
    for (const name of stringList(claimAt(payload, rolesClaim))) {
      const role = roleMapping.get(name.toLowerCase());
      if (role && (best === null || roleRank[role] > roleRank[best])) best = role;
    }
    if (best) return best;
    if (defaultRole) return defaultRole;
    throw new AuthError('no_role', 'token carries no role that Sluice accepts', { claim: rolesClaim });
  }

  return {
    acceptsIssuerOf: (token) => jwt.acceptsIssuerOf(token),
    async verify(token) {
      const payload = await jwt.verify(token);
      const sub = payload.sub;
      if (typeof sub !== 'string' || sub.length === 0) throw new AuthError('claim_invalid', 'token has no subject', { claim: 'sub' });
      const preferred = payload['preferred_username'];
      const username = typeof preferred === 'string' && preferred.length > 0 ? preferred : sub;
      return {
        kind: 'external',
        username,
        role: mapRole(payload),
        subject: sub,
        issuer: String(payload.iss),
        groups: stringList(claimAt(payload, groupsClaim)),
      };
    },
  };
}

export type EnvLike = Record<string, string | undefined>;

/**
 * The external-issuer settings from environment values (the one parser of SLUICE_JWT_*:
 * platform/settings.ts); null when no JWKS URL is set, ConfigError when incomplete.
 */
export function externalJwtConfigFromEnv(env: EnvLike): ExternalJwtConfig | null {
  return loadJwtIssuer(env);
}
