// Password hashing for Sluice's own users: scrypt with a random salt per password and the
// cost parameters encoded next to the hash (`scrypt$N$r$p$saltB64$hashB64`), so the cost
// can be raised later without invalidating stored hashes.

import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { badInput } from '../../platform/errors.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two */
  N: number;
  /** block size */
  r: number;
  /** parallelisation */
  p: number;
}

/** One of OWASP's scrypt settings (N=2^15, r=8, p=3): ~32 MiB per hash. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const MAX_PASSWORD_LENGTH = 4096;
// Bounds on what a stored hash may ask for: a tampered row must not be able to make one
// verification eat gigabytes or minutes.
const LIMITS = { maxN: 2 ** 20, maxR: 32, maxP: 16, minSalt: 8, maxSalt: 64, minKey: 16, maxKey: 128 };

function scrypt(password: string, salt: Buffer, keyLen: number, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node's default cap (32 MiB) is exactly what N=2^15,r=8 needs and then some fails.
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function validParams(params: ScryptParams): boolean {
  const { N, r, p } = params;
  return (
    Number.isInteger(N) && N > 1 && N <= LIMITS.maxN && (N & (N - 1)) === 0 &&
    Number.isInteger(r) && r >= 1 && r <= LIMITS.maxR &&
    Number.isInteger(p) && p >= 1 && p <= LIMITS.maxP
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  if (typeof password !== 'string' || password.length === 0) throw badInput('password must not be empty');
  if (password.length > MAX_PASSWORD_LENGTH) throw badInput(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  if (!validParams(params)) throw badInput('invalid scrypt parameters', { ...params });
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password, salt, KEY_BYTES, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGITS = /^[1-9][0-9]{0,9}$/;

function parseHash(encoded: string): ParsedHash | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [, n, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  if (!DIGITS.test(n) || !DIGITS.test(r) || !DIGITS.test(p)) return null;
  if (!B64.test(saltB64) || !B64.test(hashB64)) return null;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!validParams(params)) return null;
  const salt = Buffer.from(saltB64, 'base64');
  const hash = Buffer.from(hashB64, 'base64');
  if (salt.length < LIMITS.minSalt || salt.length > LIMITS.maxSalt) return null;
  if (hash.length < LIMITS.minKey || hash.length > LIMITS.maxKey) return null;
  return { params, salt, hash };
}

/** True only when `password` matches; any malformed or foreign hash is simply `false`. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof encoded !== 'string') return false;
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return false;
  const parsed = parseHash(encoded);
  if (!parsed) return false;
  const candidate = await scrypt(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(candidate, parsed.hash);
}

/** True when a stored hash was made with weaker parameters than `target` (rehash on next login). */
export function needsRehash(encoded: string, target: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const parsed = parseHash(encoded);
  if (!parsed) return true;
  const { N, r, p } = parsed.params;
  return N < target.N || r < target.r || p < target.p;
}
