import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, needsRehash, verifyPassword } from '../../control/auth/passwords.ts';

const cheap = { N: 2 ** 10, r: 8, p: 1 };

describe('passwords (scrypt)', () => {
  it('hashes in the encoded format with the default parameters and verifies', async () => {
    const encoded = await hashPassword('correct horse battery staple');
    expect(encoded).toMatch(/^scrypt\$32768\$8\$3\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(await verifyPassword('correct horse battery staple', encoded)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', encoded)).toBe(false);
    expect(needsRehash(encoded)).toBe(false);
  });

  it('uses a fresh salt per hash', async () => {
    const a = await hashPassword('same', cheap);
    const b = await hashPassword('same', cheap);
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('verifies with the parameters encoded in the hash, and flags weak ones for rehash', async () => {
    const encoded = await hashPassword('pw', cheap);
    expect(encoded.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect(await verifyPassword('pw', encoded)).toBe(true);
    expect(needsRehash(encoded, DEFAULT_SCRYPT_PARAMS)).toBe(true);
  });

  it('treats NFC and NFD spellings of a password as the same', async () => {
    const encoded = await hashPassword('caf\u00e9', cheap);
    expect(await verifyPassword('cafe\u0301', encoded)).toBe(true);
  });

  it('returns false, without throwing, for malformed or hostile hashes', async () => {
    const good = await hashPassword('pw', cheap);
    const [, , , , salt, hash] = good.split('$');
    const bad = [
      '',
      'plaintext',
      'bcrypt$2b$10$abc',
      good.replace('scrypt', 'Scrypt'),
      `scrypt$1000$8$1$${salt}$${hash}`, // N not a power of two
      `scrypt$1073741824$8$1$${salt}$${hash}`, // N = 2^30 would eat a terabyte
      `scrypt$1024$0$1$${salt}$${hash}`,
      `scrypt$1024$8$99$${salt}$${hash}`,
      `scrypt$1024$8$1$!!!$${hash}`,
      `scrypt$1024$8$1$${salt}$`,
      `scrypt$1024$8$1$${salt}$AAAA`, // hash too short
      `scrypt$01024$8$1$${salt}$${hash}`,
      `scrypt$1024$8$1$${salt}$${hash}$extra`,
      `${good}\n`,
    ];
    for (const encoded of bad) expect(await verifyPassword('pw', encoded), encoded).toBe(false);
    // Wrong input types from untyped callers are false too.
    expect(await verifyPassword(undefined as unknown as string, good)).toBe(false);
    expect(await verifyPassword('pw', null as unknown as string)).toBe(false);
    expect(await verifyPassword('', good)).toBe(false);
  });

  it('refuses empty passwords and bad parameters with BAD_USER_INPUT', async () => {
    await expect(hashPassword('')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(hashPassword('x'.repeat(5000), cheap)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(hashPassword('pw', { N: 1000, r: 8, p: 1 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
