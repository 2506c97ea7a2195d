// Acceptance of JWTs minted by an external identity provider (Keycloak, Auth0, Dex, …)
// whose public keys are published at a JWKS URL. Only asymmetric algorithms are accepted,
// so a provider's public key can never be used as an HMAC secret. Claims are mapped to a
// Sluice identity: `sub`, `preferred_username`, a roles claim → Sluice role, and the
// `sluice_groups` claim (service groups the caller may call on /predict).

import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { badInput } from '../../platform/errors.ts';
import { AuthError } from './errors.ts';
import { checkAlgorithm, mapJoseError } from './jwt-errors.ts';
import { isRole, roleRank, type Identity, type Role } from './types.ts';

export const EXTERNAL_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type ExternalAlgorithm = (typeof EXTERNAL_ALGORITHMS)[number];

export interface ExternalJwtConfig {
  jwksUrl: string;
  /** expected `iss` (one or several) */
  issuer: string | string[];
  /** expected `aud` (the token must name at least one) */
  audience: string | string[];
  /** a subset of RS256/ES256/EdDSA; default all three */
  algorithms?: ExternalAlgorithm[];
  /** claim holding the caller's roles; a dotted path reaches nested claims (`realm_access.roles`) */
  rolesClaim?: string;
  /** issuer role name → Sluice role; default maps admin/developer/viewer (any case) */
  roleMapping?: Record<string, Role>;
  /** role for a valid token whose roles map to nothing; null refuses such tokens */
  defaultRole?: Role | null;
  /** claim listing service-group names for /predict */
  groupsClaim?: string;
  clockToleranceSeconds?: number;
  /** milliseconds since the epoch; injected so tests can move time */
  now?: () => number;
  /** how long a fetched key set is trusted before it is fetched again */
  cacheMaxAgeMs?: number;
  /** minimum gap between refetches triggered by an unknown `kid` */
  cooldownMs?: number;
  /** JWKS HTTP timeout */
  timeoutMs?: number;
}

export interface ExternalJwtVerifier {
  /** verified identity, or AuthError */
  verify(token: string): Promise<Identity>;
  /** unverified pre-check used to route a bearer token to this verifier */
  acceptsIssuerOf(token: string): boolean;
}

const DEFAULT_ROLE_MAPPING: Record<string, Role> = { admin: 'ADMIN', developer: 'DEVELOPER', viewer: 'VIEWER' };

function asList(value: string | string[]): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => v.trim()).filter((v) => v.length > 0);
}

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
  let jwksUrl: URL;
  try {
    jwksUrl = new URL(config.jwksUrl);
  } catch {
    throw badInput('external JWT: jwksUrl is not a URL');
  }
  if (jwksUrl.protocol !== 'https:' && jwksUrl.protocol !== 'http:') throw badInput('external JWT: jwksUrl must be http(s)');
  const issuers = asList(config.issuer);
  const audiences = asList(config.audience);
  if (issuers.length === 0) throw badInput('external JWT: an issuer is required');
  if (audiences.length === 0) throw badInput('external JWT: an audience is required');
  const algorithms = config.algorithms ?? [...EXTERNAL_ALGORITHMS];
  for (const alg of algorithms) {
    if (!(EXTERNAL_ALGORITHMS as readonly string[]).includes(alg)) throw badInput(`external JWT: algorithm ${alg} is not allowed`);
  }
  if (algorithms.length === 0) throw badInput('external JWT: at least one algorithm is required');
  const rolesClaim = config.rolesClaim ?? 'roles';
  const groupsClaim = config.groupsClaim ?? 'sluice_groups';
  const roleMapping = new Map(
    Object.entries(config.roleMapping ?? DEFAULT_ROLE_MAPPING).map(([k, v]) => [k.toLowerCase(), v] as const),
  );
  for (const role of roleMapping.values()) if (!isRole(role)) throw badInput(`external JWT: unknown role ${String(role)}`);
  const defaultRole = config.defaultRole === undefined ? 'VIEWER' : config.defaultRole;
  const now = config.now ?? Date.now;

  // One key set per verifier: jose caches the keys, refetches after cacheMaxAge, and on an
  // unknown kid refetches at most once per cooldown (so forged kids cannot hammer the IdP).
  const keySet = createRemoteJWKSet(jwksUrl, {
    cacheMaxAge: config.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: config.cooldownMs ?? 30_000,
    timeoutDuration: config.timeoutMs ?? 5_000,
  });

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
    acceptsIssuerOf(token) {
      try {
        const iss = decodeJwt(token).iss;
        return typeof iss === 'string' && issuers.includes(iss);
      } catch {
        return false;
      }
    },

    async verify(token) {
      if (typeof token !== 'string' || token.length === 0) throw new AuthError('malformed', 'token is empty');
      checkAlgorithm(token, algorithms);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keySet, {
          algorithms,
          issuer: issuers,
          audience: audiences,
          requiredClaims: ['sub', 'exp'],
          currentDate: new Date(now()),
          clockTolerance: config.clockToleranceSeconds ?? 30,
        }));
      } catch (err) {
        throw mapJoseError(err);
      }
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
 * Reads the external-issuer settings from the environment; null when no JWKS URL is set.
 * SLUICE_JWT_JWKS_URL, SLUICE_JWT_ISSUER, SLUICE_JWT_AUDIENCE (comma separated lists),
 * SLUICE_JWT_ALGORITHMS, SLUICE_JWT_ROLES_CLAIM, SLUICE_JWT_GROUPS_CLAIM,
 * SLUICE_JWT_DEFAULT_ROLE (ADMIN|DEVELOPER|VIEWER|none).
 */
export function externalJwtConfigFromEnv(env: EnvLike): ExternalJwtConfig | null {
  const jwksUrl = env['SLUICE_JWT_JWKS_URL']?.trim();
  if (!jwksUrl) return null;
  const list = (name: string) => (env[name] ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  const issuer = list('SLUICE_JWT_ISSUER');
  const audience = list('SLUICE_JWT_AUDIENCE');
  if (issuer.length === 0 || audience.length === 0) {
    throw badInput('SLUICE_JWT_JWKS_URL needs SLUICE_JWT_ISSUER and SLUICE_JWT_AUDIENCE');
  }
  const config: ExternalJwtConfig = { jwksUrl, issuer, audience };
  const algs = list('SLUICE_JWT_ALGORITHMS');
  if (algs.length > 0) config.algorithms = algs as ExternalAlgorithm[];
  const rolesClaim = env['SLUICE_JWT_ROLES_CLAIM']?.trim();
  if (rolesClaim) config.rolesClaim = rolesClaim;
  const groupsClaim = env['SLUICE_JWT_GROUPS_CLAIM']?.trim();
  if (groupsClaim) config.groupsClaim = groupsClaim;
  const defaultRole = env['SLUICE_JWT_DEFAULT_ROLE']?.trim();
  if (defaultRole) {
    if (defaultRole.toLowerCase() === 'none') config.defaultRole = null;
    else if (isRole(defaultRole.toUpperCase())) config.defaultRole = defaultRole.toUpperCase() as Role;
    else throw badInput(`SLUICE_JWT_DEFAULT_ROLE must be ADMIN, DEVELOPER, VIEWER or none`);
  }
  return config;
}
