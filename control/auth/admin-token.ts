// The bootstrap admin's bearer token for the GraphQL API: SLUICE_ADMIN_TOKEN when the
// operator sets one, else generated on first start into `${dataDir}/admin-token` (0600) and
// read back on later starts, so the token printed once keeps working across restarts.

import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { badInput } from '../../platform/errors.ts';
import { constantTimeEqual } from './constant-time.ts';
import { loadOrCreateSecretFile } from './key-file.ts';

export const ADMIN_TOKEN_PREFIX = 'sluice_admin_';
/** shorter operator-chosen tokens are guessable; refuse them at startup */
export const MIN_ADMIN_TOKEN_LENGTH = 12;

export interface AdminToken {
  token: string;
  /** where it came from: the environment, the data dir, or generated just now */
  source: 'env' | 'file' | 'generated';
}

function validateAdminToken(token: string): void {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) throw badInput(`admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) throw badInput('admin token must not contain whitespace');
}

export async function loadAdminToken(options: { dataDir: string; envToken?: string | undefined }): Promise<AdminToken> {
  const fromEnv = options.envToken?.trim();
  if (fromEnv) {
    validateAdminToken(fromEnv);
    return { token: fromEnv, source: 'env' };
  }
  const { value, created } = await loadOrCreateSecretFile(path.join(options.dataDir, 'admin-token'), {
    generate: () => ADMIN_TOKEN_PREFIX + randomBytes(32).toString('base64url'),
    validate: validateAdminToken,
  });
  return { token: value, source: created ? 'generated' : 'file' };
}

export function isAdminToken(expected: string, presented: string): boolean {
  return constantTimeEqual(expected, presented);
}
