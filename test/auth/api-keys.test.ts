import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyMatches, generateApiKey, hashApiKey, isApiKeyFormat, parseAuthorizationHeader } from '../../platform/api-keys.ts';

describe('API keys', () => {
  it('generates sk_sluice_ keys with 32 random bytes, a 12-char prefix and a sha256 hash', () => {
    const { key, prefix, hash } = generateApiKey();
    expect(key).toMatch(/^sk_sluice_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice('sk_sluice_'.length), 'base64url').length).toBe(32);
    expect(prefix).toBe(key.slice(0, 12));
    expect(hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).toBe(hash);
    expect(isApiKeyFormat(key)).toBe(true);
  });

  it('never repeats a key', () => {
    const keys = new Set(Array.from({ length: 500 }, () => generateApiKey().key));
    expect(keys.size).toBe(500);
  });

  it('matches a presented key against the stored hash only when equal', () => {
    const { key, hash } = generateApiKey();
    expect(apiKeyMatches(key, hash)).toBe(true);
    expect(apiKeyMatches(`${key}x`, hash)).toBe(false);
    expect(apiKeyMatches(key, 'not-hex')).toBe(false);
    expect(apiKeyMatches(key, '')).toBe(false);
    expect(isApiKeyFormat('sk_sluice_short')).toBe(false);
    expect(isApiKeyFormat(`sk_other_${key.slice(10)}`)).toBe(false);
  });

  it('parses Authorization headers: bare, Bearer (any case), empty', () => {
    expect(parseAuthorizationHeader('sk_sluice_abc')).toBe('sk_sluice_abc');
    expect(parseAuthorizationHeader('Bearer sk_sluice_abc')).toBe('sk_sluice_abc');
    expect(parseAuthorizationHeader('bearer   tok.en.x  ')).toBe('tok.en.x');
    expect(parseAuthorizationHeader('BEARER\ttok')).toBe('tok');
    expect(parseAuthorizationHeader(['Bearer first', 'second'])).toBe('first');
    expect(parseAuthorizationHeader('Basic dXNlcjpwYXNz')).toBe('Basic dXNlcjpwYXNz');
    expect(parseAuthorizationHeader('Bearertoken')).toBe('Bearertoken');
    for (const none of [undefined, null, '', '   ', 'Bearer', 'Bearer   ', []]) {
      expect(parseAuthorizationHeader(none as string | undefined), JSON.stringify(none)).toBeNull();
    }
  });
});
