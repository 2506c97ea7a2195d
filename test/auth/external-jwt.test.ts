import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createExternalJwtVerifier, externalJwtConfigFromEnv, type ExternalJwtConfig } from '../../control/auth/external-jwt.ts';
import { makeKey, reasonOf, sign, startJwksServer, unsignedToken, type JwksServer, type TestKey } from './helpers/jwks-server.ts';

const ISS = 'https://idp.test/realms/sluice';
const AUD = 'sluice-api';

let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let impostor: TestKey;
let server: JwksServer;

beforeAll(async () => {
  [rsa, ec, ed] = await Promise.all([makeKey('rsa-1', 'RS256'), makeKey('ec-1', 'ES256'), makeKey('ed-1', 'EdDSA')]);
  // Same kid as the real RSA key, different private key: a forgery.
  impostor = await makeKey('rsa-1', 'RS256');
  server = await startJwksServer([rsa, ec, ed]);
});
afterAll(async () => {
  await server.close();
});

function verifier(extra: Partial<ExternalJwtConfig> = {}) {
  return createExternalJwtVerifier({ jwksUrl: server.url, issuer: ISS, audience: AUD, ...extra });
}

const ok = { iss: ISS, aud: AUD, sub: 'user-42' };

describe('external JWT (JWKS)', () => {
  it('accepts RS256, ES256 and EdDSA tokens and maps the claims', async () => {
    const v = verifier();
    for (const key of [rsa, ec, ed]) {
      const token = await sign(key, { preferred_username: 'dana', roles: ['developer'], sluice_groups: ['wine-quality', 'fraud'] }, ok);
      expect(v.acceptsIssuerOf(token)).toBe(true);
      await expect(v.verify(token)).resolves.toEqual({
        kind: 'external',
        username: 'dana',
        role: 'DEVELOPER',
        subject: 'user-42',
        issuer: ISS,
        groups: ['wine-quality', 'fraud'],
      });
    }
  });

  it('fetches the key set once and serves later verifications from the cache', async () => {
    const local = await startJwksServer([rsa]);
    try {
      const v = createExternalJwtVerifier({ jwksUrl: local.url, issuer: ISS, audience: AUD });
      for (let i = 0; i < 5; i++) await v.verify(await sign(rsa, {}, ok));
      expect(local.fetches()).toBe(1);
    } finally {
      await local.close();
    }
  });

  it('maps roles: highest wins, nested claim paths, custom names, default and refusal', async () => {
    const token = (claims: Record<string, unknown>) => sign(rsa, claims, ok);
    expect((await verifier().verify(await token({ roles: ['viewer', 'ADMIN'] }))).role).toBe('ADMIN');
    expect((await verifier().verify(await token({ roles: 'viewer developer' }))).role).toBe('DEVELOPER');
    expect((await verifier().verify(await token({ roles: ['unrelated'] }))).role).toBe('VIEWER');
    const keycloak = verifier({ rolesClaim: 'realm_access.roles', roleMapping: { 'sluice-admin': 'ADMIN' } });
    expect((await keycloak.verify(await token({ realm_access: { roles: ['offline', 'sluice-admin'] } }))).role).toBe('ADMIN');
    const strict = verifier({ defaultRole: null });
    expect(await reasonOf(async () => strict.verify(await token({ roles: ['unrelated'] })))).toBe('UNAUTHENTICATED:no_role');
  });

  it('falls back to sub for the username and to no groups', async () => {
    const identity = await verifier().verify(await sign(rsa, { sluice_groups: 'a, b' }, ok));
    expect(identity.username).toBe('user-42');
    expect(identity.groups).toEqual(['a', 'b']);
    const none = await verifier().verify(await sign(rsa, {}, ok));
    expect(none.groups).toEqual([]);
  });

  it('refuses a forged signature (right kid, wrong private key)', async () => {
    const forged = await sign(impostor, { roles: ['admin'] }, ok);
    expect(await reasonOf(() => verifier().verify(forged))).toBe('UNAUTHENTICATED:bad_signature');
  });

  it('refuses expired tokens, and honours the injected clock', async () => {
    const token = await sign(rsa, {}, { ...ok, expiresIn: -120 });
    expect(await reasonOf(() => verifier().verify(token))).toBe('UNAUTHENTICATED:expired');
    const past = Date.now() - 200_000;
    await expect(verifier({ now: () => past }).verify(token)).resolves.toMatchObject({ subject: 'user-42' });
  });

  it('refuses the wrong audience or issuer, and tokens without sub or exp', async () => {
    expect(await reasonOf(async () => verifier().verify(await sign(rsa, {}, { ...ok, aud: 'other-api' })))).toBe('UNAUTHENTICATED:claim_invalid');
    expect(await reasonOf(async () => verifier().verify(await sign(rsa, {}, { ...ok, iss: 'https://evil.test' })))).toBe('UNAUTHENTICATED:claim_invalid');
    expect(await reasonOf(async () => verifier().verify(await sign(rsa, {}, { iss: ISS, aud: AUD })))).toBe('UNAUTHENTICATED:claim_invalid');
    const noExp = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setIssuer(ISS).setAudience(AUD).sign(rsa.privateKey);
    expect(await reasonOf(() => verifier().verify(noExp))).toBe('UNAUTHENTICATED:claim_invalid');
    // A multi-valued audience passes if one value is ours.
    await expect(verifier().verify(await sign(rsa, {}, { ...ok, aud: ['x', AUD] }))).resolves.toMatchObject({ subject: 'user-42' });
  });

  it('refuses alg none and symmetric algorithms (no key confusion)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...ok, iat: now, exp: now + 60, roles: ['admin'] };
    expect(await reasonOf(() => verifier().verify(unsignedToken(claims)))).toBe('UNAUTHENTICATED:alg_not_allowed');
    // HMAC keyed with the RSA public key's modulus, the classic confusion attack.
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(String(rsa.publicJwk.n)));
    expect(await reasonOf(() => verifier().verify(hs))).toBe('UNAUTHENTICATED:alg_not_allowed');
    // An algorithm narrowed out by configuration.
    const onlyEc = verifier({ algorithms: ['ES256'] });
    expect(await reasonOf(async () => onlyEc.verify(await sign(rsa, {}, ok)))).toBe('UNAUTHENTICATED:alg_not_allowed');
  });

  it('refuses an unknown kid, and picks up a rotated key after the cooldown', async () => {
    const local = await startJwksServer([rsa]);
    try {
      const v = createExternalJwtVerifier({ jwksUrl: local.url, issuer: ISS, audience: AUD, cooldownMs: 100 });
      await v.verify(await sign(rsa, {}, ok));
      const rotated = await makeKey('rsa-2', 'RS256');
      const token = await sign(rotated, {}, ok);
      // Published only later: the first try within the cooldown sees no such key.
      expect(await reasonOf(() => v.verify(token))).toBe('UNAUTHENTICATED:unknown_key');
      local.publish([rsa, rotated]);
      // once the 100 ms cooldown is over, the next unknown kid refetches the key set
      await vi.waitFor(async () => expect(await v.verify(token)).toMatchObject({ subject: 'user-42' }), { timeout: 5_000, interval: 25 });
      expect(await reasonOf(async () => v.verify(await sign(rsa, {}, { ...ok, kid: 'nope' })))).toBe('UNAUTHENTICATED:unknown_key');
    } finally {
      await local.close();
    }
  });

  it('reports an unreachable key set as jwks_unavailable', async () => {
    const local = await startJwksServer([rsa]);
    const url = local.url;
    await local.close();
    const v = createExternalJwtVerifier({ jwksUrl: url, issuer: ISS, audience: AUD, timeoutMs: 1000 });
    expect(await reasonOf(async () => v.verify(await sign(rsa, {}, ok)))).toBe('UNAUTHENTICATED:jwks_unavailable');
  });

  it('reports malformed tokens and routes by issuer', async () => {
    expect(await reasonOf(() => verifier().verify('not-a-jwt'))).toBe('UNAUTHENTICATED:malformed');
    expect(await reasonOf(() => verifier().verify(''))).toBe('UNAUTHENTICATED:malformed');
    expect(verifier().acceptsIssuerOf('not-a-jwt')).toBe(false);
    expect(verifier().acceptsIssuerOf(await sign(rsa, {}, { ...ok, iss: 'https://evil.test' }))).toBe(false);
  });

  it('validates its configuration', () => {
    expect(() => createExternalJwtVerifier({ jwksUrl: 'nope', issuer: ISS, audience: AUD })).toThrow(/URL/);
    expect(() => createExternalJwtVerifier({ jwksUrl: server.url, issuer: '', audience: AUD })).toThrow(/issuer/);
    expect(() => createExternalJwtVerifier({ jwksUrl: server.url, issuer: ISS, audience: [] })).toThrow(/audience/);
    expect(() => createExternalJwtVerifier({ jwksUrl: server.url, issuer: ISS, audience: AUD, algorithms: ['HS256' as 'RS256'] })).toThrow(/HS256/);
  });

  it('reads its settings from environment values', () => {
    expect(externalJwtConfigFromEnv({})).toBeNull();
    expect(
      externalJwtConfigFromEnv({
        SLUICE_JWT_JWKS_URL: 'https://idp/jwks',
        SLUICE_JWT_ISSUER: 'a, b',
        SLUICE_JWT_AUDIENCE: 'sluice',
        SLUICE_JWT_ROLES_CLAIM: 'realm_access.roles',
        SLUICE_JWT_DEFAULT_ROLE: 'none',
      }),
    ).toEqual({ jwksUrl: 'https://idp/jwks', issuer: ['a', 'b'], audience: ['sluice'], rolesClaim: 'realm_access.roles', defaultRole: null });
    expect(() => externalJwtConfigFromEnv({ SLUICE_JWT_JWKS_URL: 'https://idp/jwks' })).toThrow(/ISSUER/);
    expect(() => externalJwtConfigFromEnv({ SLUICE_JWT_JWKS_URL: 'x', SLUICE_JWT_ISSUER: 'a', SLUICE_JWT_AUDIENCE: 'b', SLUICE_JWT_DEFAULT_ROLE: 'god' })).toThrow(/DEFAULT_ROLE/);
  });
});
