import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_PREFIX, isAdminToken, loadAdminToken } from '../../control/auth/admin-token.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'sluice-admin-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('bootstrap admin token', () => {
  it('uses SLUICE_ADMIN_TOKEN when set, and writes nothing', async () => {
    const dir = path.join(dataDir, 'env');
    await expect(loadAdminToken({ dataDir: dir, envToken: '  operator-chosen-token ' })).resolves.toEqual({
      token: 'operator-chosen-token',
      source: 'env',
    });
    await expect(stat(path.join(dir, 'admin-token'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a weak SLUICE_ADMIN_TOKEN', async () => {
    await expect(loadAdminToken({ dataDir, envToken: 'short' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(loadAdminToken({ dataDir, envToken: 'has a space inside' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('generates a token on first start (0600) and reads the same one back later', async () => {
    const dir = path.join(dataDir, 'gen', 'nested');
    const first = await loadAdminToken({ dataDir: dir, envToken: '' });
    expect(first.source).toBe('generated');
    expect(first.token.startsWith(ADMIN_TOKEN_PREFIX)).toBe(true);
    expect(first.token.length).toBe(ADMIN_TOKEN_PREFIX.length + 43);
    const file = path.join(dir, 'admin-token');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(first.token);
    await expect(loadAdminToken({ dataDir: dir })).resolves.toEqual({ token: first.token, source: 'file' });
    const other = await loadAdminToken({ dataDir: path.join(dataDir, 'gen2') });
    expect(other.token).not.toBe(first.token);
  });

  it('compares in constant time, exact match only', () => {
    const token = 'sluice_admin_abcdefghijklmnop';
    expect(isAdminToken(token, token)).toBe(true);
    expect(isAdminToken(token, token.slice(0, -1))).toBe(false);
    expect(isAdminToken(token, `${token}x`)).toBe(false);
    expect(isAdminToken(token, '')).toBe(false);
  });
});
