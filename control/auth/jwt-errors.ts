// Translation of jose's failures into Sluice's AuthError reasons, shared by the session
// and external verifiers so both report the same reason for the same fault.

import { decodeProtectedHeader, errors } from 'jose';
import { AuthError } from './errors.ts';

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
