// Typed authentication failures. Every refusal is a SluiceError with code UNAUTHENTICATED
// (so GraphQL and the edge map it the same way) plus a stable `reason` that tests, logs and
// metrics can tell apart without parsing messages. Messages never echo the credential.

import { SluiceError } from './errors.ts';

export type AuthFailureReason =
  /** the token's `exp` is in the past */
  | 'expired'
  /** `nbf`/`iat` in the future beyond the tolerance */
  | 'not_yet_valid'
  /** the signature does not verify with the expected key */
  | 'bad_signature'
  /** not a JWT at all, or a JWT whose parts do not decode */
  | 'malformed'
  /** `alg: none`, or an algorithm outside the allowed list */
  | 'alg_not_allowed'
  /** iss / aud / sub / role or another required claim is missing or wrong */
  | 'claim_invalid'
  /** no key in the issuer's JWKS matches the token's `kid` */
  | 'unknown_key'
  /** the issuer's JWKS could not be fetched or parsed */
  | 'jwks_unavailable'
  /** a valid external token that maps to no Sluice role */
  | 'no_role'
  /** a credential that matches nothing Sluice knows (not the admin token, not a JWT we accept) */
  | 'unknown_credential';

export class AuthError extends SluiceError {
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason, message: string, details?: Record<string, unknown>) {
    super('UNAUTHENTICATED', message, { reason, ...details });
    this.name = 'AuthError';
    this.reason = reason;
  }
}

export const isAuthError = (e: unknown): e is AuthError => e instanceof AuthError;
