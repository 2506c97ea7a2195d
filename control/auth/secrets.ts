// Encryption of secrets at rest (private-registry passwords): AES-256-GCM with a random IV
// per value, stored as `v1:ivB64:tagB64:ctB64`. The key comes from SLUICE_SECRET_KEY or is
// generated into `${dataDir}/secret-key` (0600). Tampering or a wrong key is a typed error;
// decryption never returns unauthenticated bytes.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import path from 'node:path';
import { SluiceError, badInput } from '../../platform/errors.ts';
import { loadOrCreateSecretFile } from './key-file.ts';

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export type SecretBoxFailure = 'MALFORMED' | 'UNSUPPORTED_VERSION' | 'TAMPERED';

export class SecretBoxError extends SluiceError {
  readonly reason: SecretBoxFailure;

  constructor(reason: SecretBoxFailure, message: string) {
    super('INTERNAL', message, { reason });
    this.name = 'SecretBoxError';
    this.reason = reason;
  }
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.byteLength !== KEY_BYTES) throw badInput(`secret key must be ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  /**
   * `context` (e.g. the owning row's id) is bound into the tag as associated data, so a
   * ciphertext copied to another row does not decrypt there.
   */
  encrypt(plaintext: string, context = ''): string {
    if (typeof plaintext !== 'string') throw badInput('secret must be a string');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`${VERSION}|${context}`, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
  }

  decrypt(ciphertext: string, context = ''): string {
    if (typeof ciphertext !== 'string') throw new SecretBoxError('MALFORMED', 'ciphertext must be a string');
    const parts = ciphertext.split(':');
    if (parts.length !== 4) throw new SecretBoxError('MALFORMED', 'ciphertext is not in the v1:iv:tag:ct format');
    const [version, ivB64, tagB64, ctB64] = parts as [string, string, string, string];
    if (version !== VERSION) throw new SecretBoxError('UNSUPPORTED_VERSION', `ciphertext version ${version.slice(0, 8)} is not supported`);
    if (!B64.test(ivB64) || !B64.test(tagB64) || !B64.test(ctB64)) throw new SecretBoxError('MALFORMED', 'ciphertext is not base64');
    const iv = Buffer.from(ivB64, 'base64');
    const tag = Buffer.from(tagB64, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretBoxError('MALFORMED', 'ciphertext has a wrong IV or tag length');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(`${VERSION}|${context}`, 'utf8'));
    decipher.setAuthTag(tag);
    const body = decipher.update(Buffer.from(ctB64, 'base64'));
    try {
      // final() is where GCM checks the tag; `body` must not escape before it passes.
      return Buffer.concat([body, decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('TAMPERED', 'ciphertext failed authentication (tampered, or encrypted with another key)');
    }
  }
}

/** The key from SLUICE_SECRET_KEY (base64 of 32 bytes) or `${dataDir}/secret-key`, made on first start. */
export async function loadSecretKey(options: { dataDir: string; envKey?: string | undefined }): Promise<Buffer> {
  const fromEnv = options.envKey?.trim();
  if (fromEnv) return decodeKey(fromEnv, 'SLUICE_SECRET_KEY');
  const { value } = await loadOrCreateSecretFile(path.join(options.dataDir, 'secret-key'), {
    generate: () => randomBytes(KEY_BYTES).toString('base64'),
    validate: (v) => void decodeKey(v, 'secret-key file'),
  });
  return decodeKey(value, 'secret-key file');
}

function decodeKey(b64: string, where: string): Buffer {
  const key = B64.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) throw badInput(`${where} must be the base64 encoding of ${KEY_BYTES} bytes`);
  return key;
}

export async function openSecretBox(options: { dataDir: string; envKey?: string | undefined }): Promise<SecretBox> {
  return new SecretBox(await loadSecretKey(options));
}
