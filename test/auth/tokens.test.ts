import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionTokens, loadOrCreateJwtSecret, SESSION_AUDIENCE, SESSION_ISSUER } from '../../control/auth/tokens.ts';
import { reasonOf, unsignedToken } from './helpers/jwks-server.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'sluice-tokens-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const alice = { userId: 'u_1', username: 'alice', role: 'DEVELOPER' as const };

describe('JWT secret file', () => {
  it('is generated once with mode 0600 and read back afterwards, also under concurrent starts', async () => {
    const dir = path.join(dataDir, 'secret-race');
    const secrets = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateJwtSecret(dir)));
    const first = Buffer.from(secrets[0]!).toString('hex');
    expect(secrets[0]!.byteLength).toBe(32);
    for (const s of secrets) expect(Buffer.from(s).toString('hex')).toBe(first);
    const info = await stat(path.join(dir, 'jwt-secret'));
    expect(info.mode & 0o777).toBe(0o600);
    expect(Buffer.from(await loadOrCreateJwtSecret(dir)).toString('hex')).toBe(first);
  });

  it('refuses a damaged secret file instead of silently replacing it', async () => {
    const dir = path.join(dataDir, 'damaged');
    await loadOrCreateJwtSecret(dir);
    await writeFile(path.join(dir, 'jwt-secret'), 'short\n');
    await expect(loadOrCreateJwtSecret(dir)).rejects.toThrow(/unusable/);
    expect(await readFile(path.join(dir, 'jwt-secret'), 'utf8')).toBe('short\n');
  });
});

describe('session tokens', () => {
  it('round-trips the subject and times', async () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const tokens = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir), now: () => now });
    const token = await tokens.issueSessionToken(alice, 3600);
    expect(tokens.looksLikeSessionToken(token)).toBe(true);
    const claims = await tokens.verifySessionToken(token);
    expect(claims).toMatchObject({ userId: 'u_1', username: 'alice', role: 'DEVELOPER' });
    expect(claims.issuedAt.getTime()).toBe(now);
    expect(claims.expiresAt.getTime()).toBe(now + 3600_000);
    expect(claims.tokenId.length).toBeGreaterThan(8);
    now += 3599_000;
    await expect(tokens.verifySessionToken(token)).resolves.toMatchObject({ userId: 'u_1' });
  });

  it('reports expiry once the ttl (plus tolerance) has passed', async () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const tokens = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir), now: () => now, clockToleranceSeconds: 0 });
    const token = await tokens.issueSessionToken(alice, 60);
    now += 61_000;
    expect(await reasonOf(() => tokens.verifySessionToken(token))).toBe('UNAUTHENTICATED:expired');
  });

  it('reports a bad signature for another secret or a tampered payload', async () => {
    const mine = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir) });
    const theirs = createSessionTokens({ secret: new Uint8Array(32).fill(7) });
    const foreign = await theirs.issueSessionToken(alice);
    expect(await reasonOf(() => mine.verifySessionToken(foreign))).toBe('UNAUTHENTICATED:bad_signature');

    const token = await mine.issueSessionToken(alice);
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    payload['role'] = 'ADMIN';
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    expect(await reasonOf(() => mine.verifySessionToken(forged))).toBe('UNAUTHENTICATED:bad_signature');
  });

  it('refuses alg none and other algorithms, even with the right secret', async () => {
    const secret = await loadOrCreateJwtSecret(dataDir);
    const tokens = createSessionTokens({ secret });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: SESSION_ISSUER, aud: SESSION_AUDIENCE, sub: 'u_1', username: 'alice', role: 'ADMIN', jti: 'x', iat: now, exp: now + 60 };
    expect(await reasonOf(() => tokens.verifySessionToken(unsignedToken(claims)))).toBe('UNAUTHENTICATED:alg_not_allowed');
    expect(await reasonOf(() => tokens.verifySessionToken(unsignedToken(claims, 'NONE')))).toBe('UNAUTHENTICATED:alg_not_allowed');
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(secret);
    expect(await reasonOf(() => tokens.verifySessionToken(hs512))).toBe('UNAUTHENTICATED:alg_not_allowed');
  });

  it('reports malformed tokens', async () => {
    const tokens = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir) });
    for (const garbage of ['', 'abc', 'a.b.c', '...', 'eyJhbGciOiJIUzI1NiJ9.@@@.x']) {
      expect(await reasonOf(() => tokens.verifySessionToken(garbage)), garbage).toBe('UNAUTHENTICATED:malformed');
    }
    expect(tokens.looksLikeSessionToken('abc')).toBe(false);
  });

  it('checks issuer, audience and the identity claims', async () => {
    const secret = await loadOrCreateJwtSecret(dataDir);
    const tokens = createSessionTokens({ secret });
    const base = { sub: 'u_1', username: 'alice', role: 'VIEWER', jti: 'j' };
    const make = (claims: Record<string, unknown>, iss = SESSION_ISSUER, aud = SESSION_AUDIENCE) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(iss).setAudience(aud).setIssuedAt().setExpirationTime('5m').sign(secret);
    expect(await reasonOf(async () => tokens.verifySessionToken(await make(base, 'someone-else')))).toBe('UNAUTHENTICATED:claim_invalid');
    expect(await reasonOf(async () => tokens.verifySessionToken(await make(base, SESSION_ISSUER, 'other')))).toBe('UNAUTHENTICATED:claim_invalid');
    expect(await reasonOf(async () => tokens.verifySessionToken(await make({ ...base, role: 'ROOT' })))).toBe('UNAUTHENTICATED:claim_invalid');
    expect(await reasonOf(async () => tokens.verifySessionToken(await make({ ...base, username: 42 })))).toBe('UNAUTHENTICATED:claim_invalid');
    const { sub: _sub, ...noSub } = base;
    expect(await reasonOf(async () => tokens.verifySessionToken(await make(noSub)))).toBe('UNAUTHENTICATED:claim_invalid');
  });

  it('refuses bad issue requests with BAD_USER_INPUT', async () => {
    const tokens = createSessionTokens({ secret: await loadOrCreateJwtSecret(dataDir) });
    await expect(tokens.issueSessionToken(alice, 0)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(tokens.issueSessionToken(alice, 1.5)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(tokens.issueSessionToken(alice, 365 * 24 * 3600)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(tokens.issueSessionToken({ ...alice, role: 'ROOT' as 'ADMIN' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(() => createSessionTokens({ secret: new Uint8Array(16) })).toThrow(/32 bytes/);
  });
});
