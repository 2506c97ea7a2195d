// API keys for /predict: shown once at creation, stored only as a SHA-256 hash (the key has
// 256 bits of entropy, so a fast hash is enough and lookups stay one indexed query) plus a
// short prefix so users can tell their keys apart in the dashboard.

import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'sk_sluice_';
export const API_KEY_DISPLAY_PREFIX_LENGTH = 12;
const API_KEY_PATTERN = /^sk_sluice_[A-Za-z0-9_-]{43}$/;

export interface GeneratedApiKey {
  /** the full key: return it to the user once, never store it */
  key: string;
  /** first 12 characters, safe to store and show */
  prefix: string;
  /** sha256 hex of the key: what the database stores and looks up */
  hash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, API_KEY_DISPLAY_PREFIX_LENGTH), hash: hashApiKey(key) };
}

// One-shot digest: no Hash object (and its native handle) per call; about a third of the
// cost of createHash().update().digest() (the edge hashes the presented key per request).
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** Shape check only (cheap reject of garbage before a database lookup). */
export function isApiKeyFormat(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

/** Constant-time check of a presented key against a stored hash. */
export function apiKeyMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashApiKey(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The credential in an `Authorization` header: bare (`<key>`) or `Bearer <key>` (any case).
 * null when there is none (no header, empty, or `Bearer` with nothing after it). Other
 * schemes are returned whole, so they fail as a wrong credential rather than a missing one.
 */
export function parseAuthorizationHeader(value: string | readonly string[] | null | undefined): string | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return null;
  const trimmed = raw.trim();
  if (trimmed.length === 0) return null;
  const bearer = /^bearer(?:\s+(.*))?$/i.exec(trimmed);
  if (bearer) {
    const credential = (bearer[1] ?? '').trim();
    return credential.length > 0 ? credential : null;
  }
  return trimmed;
}
