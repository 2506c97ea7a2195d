// Sluice-issued session tokens (after a password login): HS256 JWTs signed with a 32-byte
// secret that lives in the data dir. Verification returns typed claims or an AuthError with
// the reason (expired, bad signature, malformed, algorithm refused, claim invalid).

import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import { badInput } from '../../platform/errors.ts';
import { AuthError } from './errors.ts';
import { checkAlgorithm, mapJoseError } from './jwt-errors.ts';
import { loadOrCreateSecretFile } from './key-file.ts';
import { isRole, type Role } from './types.ts';

export const SESSION_ISSUER = 'sluice';
export const SESSION_AUDIENCE = 'sluice-session';
const ALG = 'HS256';
const SECRET_BYTES = 32;
/** the ceiling on a session's lifetime, so a typo cannot mint a token for years */
export const MAX_SESSION_TTL_SECONDS = 30 * 24 * 3600;
export const DEFAULT_SESSION_TTL_SECONDS = 12 * 3600;

export interface SessionSubject {
  userId: string;
  username: string;
  role: Role;
  /** the user's session epoch at issue (claim `sep`); bumping it ends every older session */
  sessionEpoch?: number;
}

export interface SessionClaims extends SessionSubject {
  /** unique token id, for an eventual deny-list */
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface SessionTokens {
  issueSessionToken(subject: SessionSubject, ttlSeconds?: number): Promise<string>;
  verifySessionToken(token: string): Promise<SessionClaims>;
  /** cheap pre-check used to route a bearer token: does it claim to be ours? (not verified) */
  looksLikeSessionToken(token: string): boolean;
}

export interface SessionTokenOptions {
  secret: Uint8Array;
  /** milliseconds since the epoch; injected so tests can move time */
  now?: () => number;
  /** seconds of clock skew tolerated on exp/nbf (several replicas) */
  clockToleranceSeconds?: number;
}

export function createSessionTokens(options: SessionTokenOptions): SessionTokens {
  if (options.secret.byteLength < SECRET_BYTES) throw badInput(`session secret must be at least ${SECRET_BYTES} bytes`);
  const secret = options.secret;
  const now = options.now ?? Date.now;
  const clockTolerance = options.clockToleranceSeconds ?? 5;

  return {
    async issueSessionToken(subject, ttlSeconds = DEFAULT_SESSION_TTL_SECONDS) {
      if (!subject.userId || !subject.username) throw badInput('session subject needs userId and username');
      if (!isRole(subject.role)) throw badInput(`unknown role ${String(subject.role)}`);
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_SESSION_TTL_SECONDS) {
        throw badInput(`session ttl must be a whole number of seconds in 1..${MAX_SESSION_TTL_SECONDS}`);
      }
      const iat = Math.floor(now() / 1000);
      return new SignJWT({ username: subject.username, role: subject.role, sep: subject.sessionEpoch ?? 0 })
        .setProtectedHeader({ alg: ALG, typ: 'JWT' })
        .setIssuer(SESSION_ISSUER)
        .setAudience(SESSION_AUDIENCE)
        .setSubject(subject.userId)
        .setJti(randomBytes(12).toString('base64url'))
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .sign(secret);
    },

    async verifySessionToken(token) {
      if (typeof token !== 'string' || token.length === 0) throw new AuthError('malformed', 'token is empty');
      checkAlgorithm(token, [ALG]);
      let payload;
      try {
        ({ payload } = await jwtVerify(token, secret, {
          algorithms: [ALG],
          issuer: SESSION_ISSUER,
          audience: SESSION_AUDIENCE,
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
          currentDate: new Date(now()),
          clockTolerance,
        }));
      } catch (err) {
        throw mapJoseError(err);
      }
      const { sub, username, role, jti, iat, exp, sep } = payload;
      if (typeof sub !== 'string' || sub.length === 0) throw new AuthError('claim_invalid', 'token has no subject', { claim: 'sub' });
      if (typeof username !== 'string' || username.length === 0) throw new AuthError('claim_invalid', 'token has no username', { claim: 'username' });
      if (!isRole(role)) throw new AuthError('claim_invalid', 'token has no valid role', { claim: 'role' });
      return {
        userId: sub,
        username,
        role,
        sessionEpoch: typeof sep === 'number' && Number.isInteger(sep) ? sep : 0,
        tokenId: String(jti),
        issuedAt: new Date((iat ?? 0) * 1000),
        expiresAt: new Date((exp ?? 0) * 1000),
      };
    },

    looksLikeSessionToken(token) {
      try {
        return decodeJwt(token).iss === SESSION_ISSUER;
      } catch {
        return false;
      }
    },
  };
}

/** The signing secret in `${dataDir}/jwt-secret` (base64url, mode 0600), made on first start. */
export async function loadOrCreateJwtSecret(dataDir: string): Promise<Uint8Array> {
  const { value } = await loadOrCreateSecretFile(path.join(dataDir, 'jwt-secret'), {
    generate: () => randomBytes(SECRET_BYTES).toString('base64url'),
    validate: (v) => {
      if (!/^[A-Za-z0-9_-]+$/.test(v) || Buffer.from(v, 'base64url').length !== SECRET_BYTES) {
        throw new Error(`expected ${SECRET_BYTES} bytes in base64url`);
      }
    },
  });
  return new Uint8Array(Buffer.from(value, 'base64url'));
}
