import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExternalJwtVerifier } from '../../control/auth/external-jwt.ts';
import { createAuthenticator, type Authenticator } from '../../control/auth/identity.ts';
import { openAuth } from '../../control/auth/index.ts';
import { createSessionTokens, type SessionTokens } from '../../control/auth/tokens.ts';
import { makeKey, reasonOf, sign, startJwksServer, type JwksServer, type TestKey } from './helpers/jwks-server.ts';

const ADMIN = 'test-admin-token-0123456789';
const ISS = 'https://idp.test';
const AUD = 'sluice';

let dataDir: string;
let server: JwksServer;
let key: TestKey;
let now = Date.now();
let sessions: SessionTokens;
let auth: Authenticator;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'sluice-identity-'));
  key = await makeKey('k1', 'ES256');
  server = await startJwksServer([key]);
  sessions = createSessionTokens({ secret: new Uint8Array(32).fill(3), now: () => now });
  const external = createExternalJwtVerifier({ jwksUrl: server.url, issuer: ISS, audience: AUD });
  auth = createAuthenticator({ adminToken: ADMIN, sessions, external });
});
afterAll(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('authenticate(authorization)', () => {
  it('returns null when there is no credential', async () => {
    for (const header of [undefined, null, '', '  ', 'Bearer ']) expect(await auth.authenticate(header)).toBeNull();
  });

  it('recognises the admin token, bare or Bearer', async () => {
    const admin = { kind: 'admin', username: 'admin', role: 'ADMIN' };
    expect(await auth.authenticate(ADMIN)).toEqual(admin);
    expect(await auth.authenticate(`Bearer ${ADMIN}`)).toEqual(admin);
    expect(await reasonOf(() => auth.authenticate(`Bearer ${ADMIN}x`))).toBe('UNAUTHENTICATED:unknown_credential');
  });

  it('accepts a Sluice session token and reports why a bad one fails', async () => {
    const token = await sessions.issueSessionToken({ userId: 'u1', username: 'alice', role: 'VIEWER' }, 60);
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({ kind: 'user', userId: 'u1', username: 'alice', role: 'VIEWER', sessionEpoch: 0 });
    const saved = now;
    now += 3600_000;
    expect(await reasonOf(() => auth.authenticate(`Bearer ${token}`))).toBe('UNAUTHENTICATED:expired');
    now = saved;
    const other = createSessionTokens({ secret: new Uint8Array(32).fill(9) });
    const foreign = await other.issueSessionToken({ userId: 'u1', username: 'alice', role: 'ADMIN' });
    expect(await reasonOf(() => auth.authenticate(foreign))).toBe('UNAUTHENTICATED:bad_signature');
  });

  it('accepts a token from the external issuer', async () => {
    const token = await sign(key, { preferred_username: 'erin', roles: ['admin'], sluice_groups: ['wine-quality'] }, { iss: ISS, aud: AUD, sub: 's-1' });
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({
      kind: 'external', username: 'erin', role: 'ADMIN', subject: 's-1', issuer: ISS, groups: ['wine-quality'],
    });
    const wrongAud = await sign(key, {}, { iss: ISS, aud: 'other', sub: 's-1' });
    expect(await reasonOf(() => auth.authenticate(wrongAud))).toBe('UNAUTHENTICATED:claim_invalid');
  });

  it('refuses JWTs from untrusted issuers and unknown credentials', async () => {
    const stranger = await sign(key, {}, { iss: 'https://elsewhere', aud: AUD, sub: 's' });
    expect(await reasonOf(() => auth.authenticate(stranger))).toBe('UNAUTHENTICATED:claim_invalid');
    expect(await reasonOf(() => auth.authenticate('sk_sluice_notakeyforgraphql'))).toBe('UNAUTHENTICATED:unknown_credential');
    const noExternal = createAuthenticator({ adminToken: ADMIN, sessions });
    const external = await sign(key, {}, { iss: ISS, aud: AUD, sub: 's' });
    expect(await reasonOf(() => noExternal.authenticate(external))).toBe('UNAUTHENTICATED:claim_invalid');
  });

  it('is wired from the data dir and environment values by openAuth', async () => {
    const env = {
      SLUICE_ADMIN_TOKEN: ADMIN,
      SLUICE_JWT_JWKS_URL: server.url,
      SLUICE_JWT_ISSUER: ISS,
      SLUICE_JWT_AUDIENCE: AUD,
    };
    const wired = await openAuth({ dataDir, env });
    expect(wired.admin).toEqual({ token: ADMIN, source: 'env' });
    expect(await wired.authenticator.authenticate(ADMIN)).toMatchObject({ kind: 'admin' });
    const session = await wired.sessions.issueSessionToken({ userId: 'u2', username: 'bob', role: 'DEVELOPER' });
    // A second start over the same data dir verifies the first one's sessions and secrets.
    const restarted = await openAuth({ dataDir, env: {} });
    expect(restarted.admin.source).toBe('generated');
    expect(await restarted.authenticator.authenticate(`Bearer ${session}`)).toMatchObject({ kind: 'user', username: 'bob' });
    expect(restarted.secretBox.decrypt(wired.secretBox.encrypt('pw'))).toBe('pw');
    expect(restarted.external).toBeNull();
    const ext = await sign(key, {}, { iss: ISS, aud: AUD, sub: 's-2' });
    expect(await wired.authenticator.authenticate(ext)).toMatchObject({ kind: 'external', subject: 's-2', role: 'VIEWER' });
  });
});
