// Wiring of the auth parts from the data dir and environment values, for control/main.ts.
// The only place in control/auth that knows environment variable names.

import { loadAdminToken, type AdminToken } from './admin-token.ts';
import { createExternalJwtVerifier, externalJwtConfigFromEnv, type EnvLike, type ExternalJwtVerifier } from './external-jwt.ts';
import { createAuthenticator, type Authenticator } from './identity.ts';
import { openSecretBox, type SecretBox } from './secrets.ts';
import { createSessionTokens, loadOrCreateJwtSecret, type SessionTokens } from './tokens.ts';

export interface Auth {
  authenticator: Authenticator;
  sessions: SessionTokens;
  admin: AdminToken;
  secretBox: SecretBox;
  external: ExternalJwtVerifier | null;
}

export interface AuthOptions {
  dataDir: string;
  /** SLUICE_ADMIN_TOKEN, SLUICE_SECRET_KEY, SLUICE_JWT_* */
  env: EnvLike;
  now?: () => number;
}

export async function openAuth(options: AuthOptions): Promise<Auth> {
  const { dataDir, env } = options;
  const admin = await loadAdminToken({ dataDir, envToken: env['SLUICE_ADMIN_TOKEN'] });
  const sessions = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir), ...(options.now ? { now: options.now } : {}) });
  const secretBox = await openSecretBox({ dataDir, envKey: env['SLUICE_SECRET_KEY'] });
  const externalConfig = externalJwtConfigFromEnv(env);
  const external = externalConfig
    ? createExternalJwtVerifier({ ...externalConfig, ...(options.now ? { now: options.now } : {}) })
    : null;
  const authenticator = createAuthenticator({ adminToken: admin.token, sessions, external });
  return { authenticator, sessions, admin, secretBox, external };
}

export { AuthError, isAuthError, type AuthFailureReason } from './errors.ts';
export { ROLES, isRole, roleRank, type Identity, type Role } from './types.ts';
export { hashPassword, verifyPassword, needsRehash, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './passwords.ts';
export { createSessionTokens, loadOrCreateJwtSecret, type SessionTokens, type SessionClaims, type SessionSubject } from './tokens.ts';
export { createExternalJwtVerifier, externalJwtConfigFromEnv, type ExternalJwtConfig, type ExternalJwtVerifier } from './external-jwt.ts';
export { loadAdminToken, isAdminToken, type AdminToken } from './admin-token.ts';
export { generateApiKey, hashApiKey, apiKeyMatches, isApiKeyFormat, parseAuthorizationHeader, type GeneratedApiKey } from '../../platform/api-keys.ts';
export { SecretBox, SecretBoxError, loadSecretKey, openSecretBox } from './secrets.ts';
export { createAuthenticator, type Authenticator } from './identity.ts';
