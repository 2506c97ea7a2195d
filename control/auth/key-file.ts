// Create-once secret files in the data dir (JWT secret, admin token, secret-box key).
// The first start generates the value and later starts read it back; two processes
// starting at once must end up with the same value, so creation is an atomic
// "link a fully written temp file into place unless something is already there".

import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../../platform/errors.ts';

export interface SecretFileOptions {
  /** file contents for a first start */
  generate: () => string;
  /** throws if the stored contents are unusable (truncated, edited by hand) */
  validate: (contents: string) => void;
}

export interface SecretFileResult {
  value: string;
  created: boolean;
}

export async function loadOrCreateSecretFile(
  filePath: string,
  options: SecretFileOptions,
): Promise<SecretFileResult> {
  await mkdir(path.dirname(filePath), { recursive: true, mode: 0o700 });
  const existing = await readIfPresent(filePath);
  if (existing !== null) return { value: checked(filePath, existing, options), created: false };

  const value = options.generate();
  options.validate(value);
  const tmp = `${filePath}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${value}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, filePath);
    return { value, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process won the race: its value is the one everybody must use.
    const winner = await readFile(filePath, 'utf8');
    return { value: checked(filePath, winner, options), created: false };
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function readIfPresent(filePath: string): Promise<string | null> {
  try {
    const info = await stat(filePath);
    // A secret readable by group/others was probably copied around by hand; tighten it
    // rather than refuse to start.
    if ((info.mode & 0o077) !== 0) await chmod(filePath, 0o600);
    return await readFile(filePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function checked(filePath: string, raw: string, options: SecretFileOptions): string {
  const value = raw.trim();
  try {
    options.validate(value);
  } catch (err) {
    throw new SluiceError('INTERNAL', `${filePath} holds an unusable value (${(err as Error).message}); remove it to generate a new one`);
  }
  return value;
}
