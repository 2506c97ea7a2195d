// Wiring of the auth parts from the data dir and the loaded settings (platform/settings.ts
// reads SLUICE_ADMIN_TOKEN, SLUICE_SECRET_KEY and SLUICE_JWT_*), for control/main.ts.

import { loadAdminToken, type AdminToken } from './admin-token.ts';
import { loadSettings, type Settings } from '../../platform/settings.ts';
import { createExternalJwtVerifier, type EnvLike, type ExternalJwtVerifier } from './external-jwt.ts';
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

export type AuthOptions = {
  dataDir: string;
  now?: () => number;
} & (
  /** the auth part of the loaded settings (control/main.ts) */
  | { settings: Settings['auth'] }
  /** or raw environment values, read through the same loader (tests) */
  | { env: EnvLike }
);

export async function openAuth(options: AuthOptions): Promise<Auth> {
  const { dataDir } = options;
  const settings = 'settings' in options ? options.settings : loadSettings(options.env).auth;
  const admin = await loadAdminToken({ dataDir, envToken: settings.adminToken ?? undefined });
  const sessions = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir), ...(options.now ? { now: options.now } : {}) });
  const secretBox = await openSecretBox({ dataDir, envKey: settings.secretKey ?? undefined });
  const externalConfig = settings.jwt;
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
