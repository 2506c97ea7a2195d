// JWTs from an external identity provider (verified against its JWKS) work on the GraphQL
// API: the user is created on first sight with the role its claims map to, and every
// change records them as creator. Tokens that are forged, expired, for another audience
// or `alg: none` are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, sign, startJwksServer, unsignedToken, type JwksServer, type TestKey } from '../auth/helpers/jwks-server.ts';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'sluice-api';

describe('external issuer JWTs on GraphQL', () => {
  let jwks: JwksServer;
  let key: TestKey;
  let cp: TestControlPlane;

  beforeAll(async () => {
    key = await makeKey('k1', 'RS256');
    jwks = await startJwksServer([key]);
    cp = await startTestControlPlane({
      provider: 'sqlite',
      authEnv: { SLUICE_JWT_JWKS_URL: jwks.url, SLUICE_JWT_ISSUER: ISSUER, SLUICE_JWT_AUDIENCE: AUDIENCE },
    });
  });
  afterAll(async () => {
    await cp?.close();
    await jwks?.close();
  });

  const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

  it('accepts a valid token, creates the user with its mapped role, and records it as creator', async () => {
    const token = await sign(key, { preferred_username: 'alice', roles: ['admin'] }, { iss: ISSUER, aud: AUDIENCE, sub: 'u-123' });
    const me = await cp.gql<{ me: { username: string; role: string; external: boolean } }>(`query { me { username role external } }`, {}, token);
    expect(me.data?.me).toEqual({ username: 'alice', role: 'ADMIN', external: true });
    const created = await cp.gql<{ createServiceGroup: { creator: string } }>(`mutation { createServiceGroup(input: { name: "from-idp" }) { creator } }`, {}, token);
    expect(created.data?.createServiceGroup.creator).toBe('alice');
    // the same subject maps to the same user next time
    const again = await sign(key, { preferred_username: 'alice', roles: ['admin'] }, { iss: ISSUER, aud: AUDIENCE, sub: 'u-123' });
    await cp.gql(`query { me { id } }`, {}, again);
    expect(await cp.db.prisma.user.count({ where: { externalSubject: { not: null } } })).toBe(1);
  });

  it('maps a token without an admin role to a viewer who cannot mutate', async () => {
    const token = await sign(key, { preferred_username: 'bob' }, { iss: ISSUER, aud: AUDIENCE, sub: 'u-456' });
    expect(codeOf(await cp.gql(`mutation { createServiceGroup(input: { name: "from-bob" }) { id } }`, {}, token))).toBe('FORBIDDEN');
  });

  it('refuses forged, expired, wrong-audience and alg:none tokens', async () => {
    const other = await makeKey('k1', 'RS256'); // same kid, different key: a forgery
    const forged = await sign(other, { roles: ['admin'] }, { iss: ISSUER, aud: AUDIENCE, sub: 'x' });
    const expired = await sign(key, { roles: ['admin'] }, { iss: ISSUER, aud: AUDIENCE, sub: 'x', expiresIn: -3600 });
    const wrongAud = await sign(key, { roles: ['admin'] }, { iss: ISSUER, aud: 'someone-else', sub: 'x' });
    const none = unsignedToken({ iss: ISSUER, aud: AUDIENCE, sub: 'x', roles: ['admin'], exp: Math.floor(Date.now() / 1000) + 300 });
    for (const token of [forged, expired, wrongAud, none]) {
      expect(codeOf(await cp.gql(`query { serviceGroups { id } }`, {}, token))).toBe('UNAUTHENTICATED');
    }
  });
});
