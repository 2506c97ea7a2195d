// The one verifier of JWTs from an external issuer (a JWKS URL, or keys at hand), used by
// the GraphQL API (control/auth/external-jwt.ts maps the claims to a Sluice identity) and by
// /predict (gateway/authz.ts checks the groups claim); and the translation of jose's
// failures into AuthError reasons, shared with the session tokens, so every verifier
// reports the same reason for the same fault. Only asymmetric algorithms are accepted from
// an issuer, so its public key can never be used as an HMAC secret.

import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthError } from './auth-errors.ts';
import { badInput } from './errors.ts';

/** Rejects `alg: none` (any spelling) and anything outside `allowed` before jose sees it. */
export function checkAlgorithm(token: string, allowed: readonly string[]): void {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new AuthError('malformed', 'token is not a well-formed JWT');
  }
  if (typeof alg !== 'string') throw new AuthError('malformed', 'token header has no algorithm');
  if (alg.toLowerCase() === 'none') throw new AuthError('alg_not_allowed', 'unsigned tokens (alg "none") are refused');
  if (!allowed.includes(alg)) throw new AuthError('alg_not_allowed', `algorithm ${alg} is not accepted`, { alg });
}

export function mapJoseError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof errors.JWTExpired) return new AuthError('expired', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if ((err.claim === 'nbf' || err.claim === 'iat') && err.reason === 'check_failed') {
      return new AuthError('not_yet_valid', 'token is not valid yet', { claim: err.claim });
    }
    return new AuthError('claim_invalid', `token claim "${err.claim}" is invalid`, { claim: err.claim });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthError('bad_signature', 'token signature is invalid');
  if (err instanceof errors.JOSEAlgNotAllowed) return new AuthError('alg_not_allowed', 'token algorithm is not accepted');
  if (err instanceof errors.JWKSNoMatchingKey) return new AuthError('unknown_key', 'no key of the issuer matches the token');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new AuthError('unknown_key', 'several keys of the issuer match the token; a kid is required');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new AuthError('jwks_unavailable', 'the issuer\'s key set could not be loaded');
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new AuthError('malformed', 'token is not a well-formed JWT');
  }
  // Remaining jose errors and plain ones (fetch failures, bad JSON from the JWKS URL) come
  // from loading the issuer's keys, not from the token.
  return new AuthError('jwks_unavailable', 'the issuer\'s key set could not be loaded');
}

/** Every algorithm an external issuer may sign with: asymmetric only, never `none` or HMAC. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export interface JwtVerifierConfig {
  /** the issuer's JWKS URL; keys are fetched and cached by jose */
  jwksUrl?: string | undefined;
  /** instead of jwksUrl: keys at hand (tests, a key set loaded elsewhere) */
  keys?: JWTVerifyGetKey | undefined;
  /** expected `iss` (one or several) */
  issuer: string | string[];
  /** expected `aud` (the token must name at least one) */
  audience: string | string[];
  /** a subset of ASYMMETRIC_ALGORITHMS; default all of them */
  algorithms?: readonly string[] | undefined;
  /** claims a token must carry; default `sub` and `exp` */
  requiredClaims?: readonly string[];
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

export interface JwtVerifier {
  /** the verified claims, or AuthError with the reason */
  verify(token: string): Promise<JWTPayload>;
  /** unverified pre-check used to route a bearer token to this verifier */
  acceptsIssuerOf(token: string): boolean;
}

function asList(value: string | string[]): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => v.trim()).filter((v) => v.length > 0);
}

/** Checks the configuration once (BAD_USER_INPUT naming what is wrong) and builds the verifier. */
export function createJwtVerifier(config: JwtVerifierConfig): JwtVerifier {
  const issuers = asList(config.issuer);
  const audiences = asList(config.audience);
  if (issuers.length === 0) throw badInput('external JWT: an issuer is required');
  if (audiences.length === 0) throw badInput('external JWT: an audience is required');
  const algorithms = [...(config.algorithms ?? ASYMMETRIC_ALGORITHMS)];
  if (algorithms.length === 0) throw badInput('external JWT: at least one algorithm is required');
  for (const alg of algorithms) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) throw badInput(`external JWT: algorithm ${alg} is not allowed (asymmetric algorithms only)`);
  }
  let keys = config.keys;
  if (!keys) {
    if (!config.jwksUrl) throw badInput('external JWT: a JWKS URL (or keys) is required');
    let url: URL;
    try {
      url = new URL(config.jwksUrl);
    } catch {
      throw badInput('external JWT: jwksUrl is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badInput('external JWT: jwksUrl must be http(s)');
    // One key set per verifier: jose caches the keys, refetches after cacheMaxAge, and on an
    // unknown kid refetches at most once per cooldown (so forged kids cannot hammer the IdP).
    keys = createRemoteJWKSet(url, {
      cacheMaxAge: config.cacheMaxAgeMs ?? 10 * 60_000,
      cooldownDuration: config.cooldownMs ?? 30_000,
      timeoutDuration: config.timeoutMs ?? 5_000,
    });
  }
  const getKey = keys;
  const now = config.now ?? Date.now;
  const requiredClaims = [...(config.requiredClaims ?? ['sub', 'exp'])];

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
      try {
        const { payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: issuers,
          audience: audiences,
          requiredClaims,
          currentDate: new Date(now()),
          clockTolerance: config.clockToleranceSeconds ?? 30,
        });
        return payload;
      } catch (err) {
        throw mapJoseError(err);
      }
    },
  };
}
