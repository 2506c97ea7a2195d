// ext_authz: the Authorizer's decisions (API keys, JWTs from a JWKS issuer served on
// loopback, bad credentials of every kind), and the Envoy Authorization/Check adapter
// called through grpc-js exactly as Envoy calls it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authorizer, credentialOf, generateApiKey, hashApiKey, type AuthzDecision } from '../../gateway/authz.ts';
import type { CheckRequest } from '../../proto/generated/envoy/service/auth/v3/CheckRequest.ts';
import { check, demoPolicies, startTestGateway, type TestGateway } from './helpers.ts';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'sluice';

let jwksServer: Server;
let jwksUrl: string;
let privateKey: JoseKey;
let otherKey: JoseKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
});
afterAll(async () => {
  jwksServer.closeAllConnections();
  await new Promise((r) => jwksServer.close(r));
});

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

function jwt(claims: Record<string, unknown>, opts: { key?: JoseKey; kid?: string; exp?: number } = {}) {
  return new SignJWT({ sluice_groups: ['wine-quality'], ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? nowS() + 300)
    .sign(opts.key ?? privateKey);
}

function setup(now?: () => number) {
  const policies = demoPolicies();
  const key = generateApiKey();
  policies.addKey({ keyId: 'key-1', hash: key.hash, groupName: 'wine-quality', versionName: null });
  const v2only = generateApiKey();
  policies.addKey({ keyId: 'key-v2', hash: v2only.hash, groupName: 'wine-quality', versionName: 'v2' });
  const other = generateApiKey();
  policies.addKey({ keyId: 'key-other', hash: other.hash, groupName: 'open', versionName: null });
  const authorizer = new Authorizer({ policies, jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl }, now });
  return { policies, key: key.key, v2only: v2only.key, other: other.key, authorizer };
}

const denied = (d: AuthzDecision) => (d.allowed ? { allowed: true } : { status: d.status, code: d.code });

describe('API keys', () => {
  it('are sk_sluice_ + 43 base64url characters, stored as SHA-256 hex', () => {
    const { key, hash } = generateApiKey();
    expect(key).toMatch(/^sk_sluice_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(hashApiKey(key));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(generateApiKey().key).not.toBe(key);
  });

  it('accepts a key bare or after Bearer, and marks it used', async () => {
    const { authorizer, key, policies } = setup();
    for (const authorization of [key, `Bearer ${key}`, `bearer   ${key}`]) {
      const d = await authorizer.check({ group: 'wine-quality', authorization });
      expect(d).toEqual({ allowed: true, kind: 'api-key', identity: 'key:key-1', keyId: 'key-1' });
    }
    expect(policies.used).toEqual(['key-1', 'key-1', 'key-1']);
  });

  it('401 with no or empty credential, 403 with a wrong one', async () => {
    const { authorizer, key } = setup();
    const g = { group: 'wine-quality' };
    expect(denied(await authorizer.check({ ...g }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(denied(await authorizer.check({ ...g, authorization: '' }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(denied(await authorizer.check({ ...g, authorization: 'Bearer ' }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(denied(await authorizer.check({ ...g, authorization: 'Bearer    ' }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    const wrong = generateApiKey().key;
    for (const authorization of [wrong, 'garbage', 'sk_sluice_short', key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), 'Basic dXNlcjpwYXNz', 'a.b.c', '\u0000\u00ff']) {
      expect(denied(await authorizer.check({ ...g, authorization })), authorization).toEqual({ status: 403, code: 'FORBIDDEN' });
    }
  });

  it('binds keys to their group and version', async () => {
    const { authorizer, v2only, other } = setup();
    expect(denied(await authorizer.check({ group: 'wine-quality', authorization: other }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(denied(await authorizer.check({ group: 'wine-quality', version: 'v1', authorization: v2only }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect((await authorizer.check({ group: 'wine-quality', version: 'v2', authorization: v2only })).allowed).toBe(true);
  });

  it('stops accepting a revoked key once the one-second cache expires', async () => {
    let t = 1_000_000;
    const { authorizer, key, policies } = setup(() => t);
    expect((await authorizer.check({ group: 'wine-quality', authorization: key })).allowed).toBe(true);
    policies.revokeKey('key-1');
    t += 500;
    expect((await authorizer.check({ group: 'wine-quality', authorization: key })).allowed).toBe(true); // cached
    t += 600;
    expect(denied(await authorizer.check({ group: 'wine-quality', authorization: key }))).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('decides a key whose lookup is cached at once, and stops at the same moment a revocation bites', async () => {
    let t = 1_000_000;
    const { authorizer, key, v2only, other, policies } = setup(() => t);
    // the first sight of a key waits for the store; once it answered, the same key is decided at once
    const first = authorizer.decide({ group: 'wine-quality', authorization: `Bearer ${key}` });
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ allowed: true, kind: 'api-key', identity: 'key:key-1', keyId: 'key-1' });
    const again = authorizer.decide({ group: 'wine-quality', authorization: `Bearer ${key}` });
    expect(again).toEqual({ allowed: true, kind: 'api-key', identity: 'key:key-1', keyId: 'key-1' });
    expect(policies.used).toEqual(['key-1', 'key-1']);
    // the cached record is still checked against the request: group, version
    expect(denied(await authorizer.decide({ group: 'wine-quality', authorization: other }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(denied(authorizer.decide({ group: 'wine-quality', authorization: other }) as AuthzDecision)).toEqual({ status: 403, code: 'FORBIDDEN' });
    await authorizer.decide({ group: 'wine-quality', version: 'v2', authorization: v2only });
    expect(denied(authorizer.decide({ group: 'wine-quality', version: 'v1', authorization: v2only }) as AuthzDecision)).toEqual({ status: 403, code: 'FORBIDDEN' });
    // a wrong key close to a cached one is not let through by the cache
    const wrong = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(denied(await authorizer.decide({ group: 'wine-quality', authorization: wrong }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    // revoked: still served from the cache within its second, looked up again after it
    policies.revokeKey('key-1');
    t += 999;
    expect(authorizer.decide({ group: 'wine-quality', authorization: key })).toMatchObject({ allowed: true });
    t += 2;
    const late = authorizer.decide({ group: 'wine-quality', authorization: key });
    expect(late).toBeInstanceOf(Promise);
    expect(denied(await late)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(denied(authorizer.decide({ group: 'wine-quality', authorization: key }) as AuthzDecision)).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('caches lookups (one store read per key per TTL) and fails closed with 503 when the store fails', async () => {
    const { policies, key } = setup();
    let reads = 0;
    let fail = false;
    const source = {
      versionPolicies: (g: string) => policies.versionPolicies(g),
      markKeyUsed: () => {},
      findApiKey: async (h: string) => {
        reads++;
        if (fail) throw new Error('db down');
        return policies.findApiKey(h);
      },
    };
    const a = new Authorizer({ policies: source });
    await Promise.all(Array.from({ length: 20 }, () => a.check({ group: 'wine-quality', authorization: key })));
    expect(reads).toBe(1);
    fail = true;
    const b = new Authorizer({ policies: source });
    expect(denied(await b.check({ group: 'wine-quality', authorization: key }))).toEqual({ status: 503, code: 'AUTH_UNAVAILABLE' });
    fail = false;
    expect((await b.check({ group: 'wine-quality', authorization: key })).allowed).toBe(true); // failure not cached
  });

  it('lets anyone call a version with auth off, and answers 404 for unknown groups and versions', async () => {
    const { authorizer } = setup();
    expect(await authorizer.check({ group: 'open' })).toMatchObject({ allowed: true, kind: 'anonymous' });
    expect(denied(await authorizer.check({ group: 'nope', authorization: 'x' }))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(denied(await authorizer.check({ group: 'wine-quality', version: 'v9' }))).toEqual({ status: 404, code: 'NOT_FOUND' });
  });

  it('parses the Authorization header', () => {
    expect(credentialOf(undefined)).toBe('');
    expect(credentialOf(' Bearer  abc ')).toBe('abc');
    expect(credentialOf('abc')).toBe('abc');
    expect(credentialOf('Bearer')).toBe('');
    expect(credentialOf('Bearerabc')).toBe('Bearerabc');
  });
});

describe('JWTs', () => {
  it('accepts a valid token naming the group (or *), from the remote JWKS', async () => {
    const { authorizer } = setup();
    const d = await authorizer.check({ group: 'wine-quality', authorization: `Bearer ${await jwt({})}` });
    expect(d).toEqual({ allowed: true, kind: 'jwt', identity: `jwt:${ISSUER}#alice`, keyId: null });
    expect((await authorizer.check({ group: 'wine-quality', authorization: await jwt({ sluice_groups: ['*'] }) })).allowed).toBe(true);
  });

  it('refuses API keys on a version that accepts only JWTs (as Envoy\'s jwt_authn does), and still takes its JWTs', async () => {
    const { authorizer, policies, key } = setup();
    const v1 = policies.versionPolicies('wine-quality').find((p) => p.version === 'v1')!;
    policies.setVersion({ ...v1, authJwtOnly: true });
    // pinned to the JWT-only version: the key is refused before any lookup
    expect(denied(await authorizer.check({ group: 'wine-quality', version: 'v1', authorization: `Bearer ${key}` }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect((await authorizer.check({ group: 'wine-quality', version: 'v1', authorization: `Bearer ${await jwt({})}` })).allowed).toBe(true);
    // v2 still takes keys, so an unpinned request with a key may be routed there
    expect((await authorizer.check({ group: 'wine-quality', version: 'v2', authorization: key })).allowed).toBe(true);
    expect((await authorizer.check({ group: 'wine-quality', authorization: key })).allowed).toBe(true);
    // every version JWT-only: an unpinned key is refused too
    const v2 = policies.versionPolicies('wine-quality').find((p) => p.version === 'v2')!;
    policies.setVersion({ ...v2, authJwtOnly: true });
    expect(denied(await authorizer.check({ group: 'wine-quality', authorization: key }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('refuses alg none, expired, wrong audience, wrong issuer, foreign signature, other groups, missing claim', async () => {
    const { authorizer } = setup();
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'eve', exp: nowS() + 300, sluice_groups: ['wine-quality'] })}.`;
    const cases: Record<string, string> = {
      none,
      expired: await jwt({}, { exp: nowS() - 120 }),
      wrongAud: await new SignJWT({ sluice_groups: ['wine-quality'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience('someone-else')
        .setExpirationTime(nowS() + 300)
        .sign(privateKey),
      wrongIss: await new SignJWT({ sluice_groups: ['wine-quality'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer('https://evil.test')
        .setAudience(AUDIENCE)
        .setExpirationTime(nowS() + 300)
        .sign(privateKey),
      foreignKey: await jwt({}, { key: otherKey }),
      otherGroup: await jwt({ sluice_groups: ['open'] }),
      noClaim: await jwt({ sluice_groups: undefined }),
      noExp: await new SignJWT({ sluice_groups: ['wine-quality'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .sign(privateKey),
      hs256: await new SignJWT({ sluice_groups: ['wine-quality'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime(nowS() + 300)
        .sign(new TextEncoder().encode('a-shared-secret-of-enough-length-123')),
    };
    for (const [name, token] of Object.entries(cases)) {
      const d = await authorizer.check({ group: 'wine-quality', authorization: `Bearer ${token}` });
      expect(denied(d), name).toEqual({ status: 403, code: 'FORBIDDEN' });
    }
    const expired = await authorizer.check({ group: 'wine-quality', authorization: cases.expired });
    expect(expired.allowed === false && expired.message).toBe('invalid JWT: token expired');
  });

  it('refuses JWTs when no issuer is configured, and refuses to be configured with alg none', async () => {
    const policies = demoPolicies();
    const a = new Authorizer({ policies });
    expect(denied(await a.check({ group: 'wine-quality', authorization: await jwt({}) }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(() => new Authorizer({ policies, jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl, algorithms: ['none'] } })).toThrow(/none/);
  });
});

describe('Envoy Authorization/Check over gRPC', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    const s = setup();
    key = s.key;
    gw = await startTestGateway(s.policies, { authorizer: s.authorizer });
  });
  afterAll(async () => {
    await gw.close();
  });

  const request = (headers: Record<string, string>, ext: Record<string, string> = { group: 'wine-quality' }): CheckRequest => ({
    attributes: {
      request: { http: { method: 'POST', path: '/services/wine-quality/predict', headers: { 'x-request-id': 'req-1', ...headers } } },
      context_extensions: ext,
    },
  });

  it('answers OK with identity headers and strips Authorization', async () => {
    const res = await check(gw.clients, request({ authorization: `Bearer ${key}`, 'x-sluice-identity': 'spoofed' }));
    expect(res.status?.code).toBe(0);
    expect(res.http_response).toBe('ok_response');
    const headers = Object.fromEntries((res.ok_response?.headers ?? []).map((h) => [h.header?.key, h.header?.value]));
    expect(headers).toEqual({ 'x-sluice-identity': 'key:key-1', 'x-sluice-key-id': 'key-1' });
    for (const h of res.ok_response?.headers ?? []) expect(h.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
    expect(res.ok_response?.headers_to_remove).toEqual(['authorization']);
  });

  it('reads headers from header_map when Envoy sends raw header values', async () => {
    const res = await check(gw.clients, {
      attributes: {
        request: { http: { header_map: { headers: [{ key: 'authorization', raw_value: Buffer.from(key) }, { key: 'x-request-id', raw_value: Buffer.from('r2') }] } } },
        context_extensions: { group: 'wine-quality', version: 'v1' },
      },
    });
    expect(res.http_response).toBe('ok_response');
  });

  it('denies with the CONTRACT JSON body, status and content type', async () => {
    const cases: [Record<string, string>, Record<string, string> | undefined, number, string, string][] = [
      [{}, undefined, 16, 'Unauthorized', 'UNAUTHENTICATED'],
      [{ authorization: 'Bearer nonsense' }, undefined, 7, 'Forbidden', 'PERMISSION_DENIED'],
      [{ authorization: key }, { group: 'missing' }, 5, 'NotFound', 'RESOURCE_DOES_NOT_EXIST'],
      [{ authorization: key }, {}, 5, 'NotFound', 'RESOURCE_DOES_NOT_EXIST'],
    ];
    for (const [headers, ext, rpc, httpStatus, code] of cases) {
      const res = await check(gw.clients, request(headers, ext));
      expect(res.http_response).toBe('denied_response');
      expect(res.status?.code).toBe(rpc);
      expect(res.denied_response?.status?.code).toBe(httpStatus);
      const hdrs = Object.fromEntries((res.denied_response?.headers ?? []).map((h) => [h.header?.key, h.header?.value]));
      expect(hdrs['content-type']).toBe('application/json');
      const body = JSON.parse(res.denied_response?.body ?? '') as { error_code: string; message: string; request_id: string };
      expect(Object.keys(body).sort()).toEqual(['error_code', 'message', 'request_id']);
      expect(body.error_code).toBe(code);
      expect(body.message.length).toBeGreaterThan(0);
      expect(body.request_id).toBe('req-1');
      expect(res.denied_response?.body).not.toContain(key);
    }
  });

  it('takes the version from context_extensions or a pin header', async () => {
    const s = setup();
    const gw2 = await startTestGateway(s.policies, { authorizer: s.authorizer });
    try {
      const viaExt = await check(gw2.clients, request({ authorization: s.v2only }, { group: 'wine-quality', version: 'v1' }));
      expect(viaExt.denied_response?.status?.code).toBe('Forbidden');
      const viaPin = await check(gw2.clients, request({ authorization: s.v2only, 'x-sluice-version': 'v2' }));
      expect(viaPin.http_response).toBe('ok_response');
    } finally {
      await gw2.close();
    }
  });

  it('survives an empty CheckRequest', async () => {
    const res = await check(gw.clients, {});
    expect(res.denied_response?.status?.code).toBe('NotFound');
    expect(JSON.parse(res.denied_response?.body ?? '{}').request_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
