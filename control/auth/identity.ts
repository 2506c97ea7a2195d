// One entry point that turns an `Authorization` header into an Identity for the GraphQL API
// (HTTP and graphql-ws connection params): the bootstrap admin token, then a Sluice session
// JWT, then a JWT from the configured external issuer. A missing credential is null (the
// caller decides whether anonymous access is allowed); a bad one is an AuthError.

import { decodeJwt } from 'jose';
import { parseAuthorizationHeader } from '../../platform/api-keys.ts';
import { isAdminToken } from './admin-token.ts';
import { AuthError } from './errors.ts';
import type { ExternalJwtVerifier } from './external-jwt.ts';
import type { SessionTokens } from './tokens.ts';
import type { Identity } from './types.ts';

export interface AuthenticatorDeps {
  adminToken: string;
  sessions: SessionTokens;
  /** absent when no external issuer is configured */
  external?: ExternalJwtVerifier | null;
}

export interface Authenticator {
  authenticate(authorization: string | readonly string[] | null | undefined): Promise<Identity | null>;
}

export const ADMIN_USERNAME = 'admin';

function isJwtShaped(credential: string): boolean {
  try {
    decodeJwt(credential);
    return true;
  } catch {
    return false;
  }
}

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  return {
    async authenticate(authorization) {
      const credential = parseAuthorizationHeader(authorization);
      if (credential === null) return null;

      if (isAdminToken(deps.adminToken, credential)) {
        return { kind: 'admin', username: ADMIN_USERNAME, role: 'ADMIN' };
      }

      // Route by the (unverified) issuer so the caller gets the real reason for a refusal
      // from the one verifier that owns the token, instead of "nothing matched".
      if (deps.sessions.looksLikeSessionToken(credential)) {
        const claims = await deps.sessions.verifySessionToken(credential);
        return { kind: 'user', userId: claims.userId, username: claims.username, role: claims.role, sessionEpoch: claims.sessionEpoch ?? 0 };
      }
      if (deps.external?.acceptsIssuerOf(credential)) {
        return deps.external.verify(credential);
      }
      if (isJwtShaped(credential)) {
        throw new AuthError('claim_invalid', 'token is from an issuer Sluice does not trust', { claim: 'iss' });
      }
      throw new AuthError('unknown_credential', 'credential is not valid for this API');
    },
  };
}
