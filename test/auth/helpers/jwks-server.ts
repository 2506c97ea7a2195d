// A throwaway identity provider for tests: key pairs made with jose, a JWKS served over
// HTTP on 127.0.0.1, and a signer. The test decides which public keys are published.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256' | 'EdDSA';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(kid: string, alg: TestKey['alg']): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export interface JwksServer {
  url: string;
  /** how many times the JWKS was fetched */
  fetches(): number;
  publish(keys: TestKey[]): void;
  close(): Promise<void>;
}

export async function startJwksServer(initial: TestKey[]): Promise<JwksServer> {
  let keys = initial;
  let fetches = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    fetches: () => fetches,
    publish: (next) => {
      keys = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SignOptions {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  /** seconds from now; negative = already expired */
  expiresIn?: number;
  kid?: string;
  nowSeconds?: number;
}

export function sign(key: TestKey, claims: JWTPayload, opts: SignOptions = {}): Promise<string> {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresIn ?? 300));
  if (opts.iss !== undefined) jwt.setIssuer(opts.iss);
  if (opts.aud !== undefined) jwt.setAudience(opts.aud);
  if (opts.sub !== undefined) jwt.setSubject(opts.sub);
  return jwt.sign(key.privateKey);
}

/** An unsigned token (`alg: none`), which jose itself refuses to produce. */
export function unsignedToken(payload: JWTPayload, alg = 'none'): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg, typ: 'JWT' })}.${enc(payload)}.`;
}

/** The reason of an AuthError thrown by `fn` (fails the test if it resolves). */
export async function reasonOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: string; reason?: string };
    return `${e.code}:${e.reason}`;
  }
  throw new Error('expected a rejection');
}
