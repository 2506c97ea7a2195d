import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError, loadSecretKey, openSecretBox } from '../../control/auth/secrets.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'sluice-secrets-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SecretBoxError);
    return (err as SecretBoxError).reason;
  }
  throw new Error('expected a SecretBoxError');
}

describe('SecretBox (AES-256-GCM)', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips text in the versioned format, with a fresh IV each time', () => {
    for (const secret of ['hunter2', '', 'pässwörd ✓ 🔑', 'x'.repeat(10_000)]) {
      const ct = box.encrypt(secret);
      expect(ct).toMatch(/^v1:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]*=*$/);
      // (the empty secret has nothing to hide; random base64 may hold any short string)
      if (secret) expect(ct).not.toContain(secret);
      expect(box.decrypt(ct)).toBe(secret);
    }
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
  });

  it('refuses any tampering with a typed error, never garbage', () => {
    const ct = box.encrypt('registry-password');
    const [v, iv, tag, body] = ct.split(':') as [string, string, string, string];
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64');
      buf[0] = buf[0]! ^ 1;
      return buf.toString('base64');
    };
    expect(failure(() => box.decrypt([v, iv, tag, flip(body)].join(':')))).toBe('TAMPERED');
    expect(failure(() => box.decrypt([v, iv, flip(tag), body].join(':')))).toBe('TAMPERED');
    expect(failure(() => box.decrypt([v, flip(iv), tag, body].join(':')))).toBe('TAMPERED');
    expect(failure(() => box.decrypt([v, iv, tag, body.slice(0, -4)].join(':')))).toBe('TAMPERED');
    expect(failure(() => new SecretBox(randomBytes(32)).decrypt(ct))).toBe('TAMPERED');
  });

  it('binds the context: a ciphertext moved to another row does not decrypt', () => {
    const ct = box.encrypt('pw', 'version:abc');
    expect(box.decrypt(ct, 'version:abc')).toBe('pw');
    expect(failure(() => box.decrypt(ct, 'version:xyz'))).toBe('TAMPERED');
    expect(failure(() => box.decrypt(ct))).toBe('TAMPERED');
  });

  it('reports malformed and unknown-version ciphertexts', () => {
    const ct = box.encrypt('pw');
    expect(failure(() => box.decrypt(''))).toBe('MALFORMED');
    expect(failure(() => box.decrypt('hunter2'))).toBe('MALFORMED');
    expect(failure(() => box.decrypt(`${ct}:extra`))).toBe('MALFORMED');
    expect(failure(() => box.decrypt(ct.replace(/^v1:[^:]+/, 'v1:AAAA')))).toBe('MALFORMED');
    expect(failure(() => box.decrypt(ct.replace(/:[^:]+$/, ':***')))).toBe('MALFORMED');
    expect(failure(() => box.decrypt(ct.replace(/^v1/, 'v2')))).toBe('UNSUPPORTED_VERSION');
    expect(failure(() => box.decrypt(42 as unknown as string))).toBe('MALFORMED');
  });

  it('does not show its key when logged or serialised', () => {
    const key = randomBytes(32);
    const b = new SecretBox(key);
    expect(JSON.stringify(b)).not.toContain(key.toString('base64'));
    expect(Object.keys(b)).toEqual([]);
  });

  it('takes the key from SLUICE_SECRET_KEY, or generates one into the data dir (0600)', async () => {
    const envKey = randomBytes(32).toString('base64');
    expect((await loadSecretKey({ dataDir, envKey })).toString('base64')).toBe(envKey);
    await expect(loadSecretKey({ dataDir, envKey: 'dG9vIHNob3J0' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(loadSecretKey({ dataDir, envKey: '%%%' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

    const dir = path.join(dataDir, 'fresh');
    const a = await openSecretBox({ dataDir: dir });
    expect((await stat(path.join(dir, 'secret-key'))).mode & 0o777).toBe(0o600);
    const b = await openSecretBox({ dataDir: dir, envKey: undefined });
    expect(b.decrypt(a.encrypt('survives a restart'))).toBe('survives a restart');
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});
