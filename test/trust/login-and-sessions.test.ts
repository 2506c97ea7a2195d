// Signing in as an attacker would: guessing a password is cut off after a few tries (per
// username and per address, before any password is checked); an unknown username costs the
// same scrypt work as a known one; and a session ends when its user's password or role
// changes or the user is disabled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { People } from '../../control/domain/people.ts';
import { MemoryLoginCounters } from '../../control/auth/login-counters.ts';
import { LoginThrottle } from '../../control/domain/login-throttle.ts';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, verifyPassword } from '../../control/auth/index.ts';

describe('sign-in and sessions', () => {
  let cp: TestControlPlane;
  const login = (username: string, password: string) =>
    cp.gql<{ login: { token: string } }>(`mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`, { u: username, p: password }, null);
  const me = (token: string) => cp.gql<{ me: { username: string } | null }>(`{ me { username } }`, {}, token);
  const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

  async function createUser(username: string, password: string, role = 'DEVELOPER'): Promise<string> {
    const r = await cp.gql<{ createUser: { id: string } }>(`mutation($u: String!, $p: String!) { createUser(username: $u, password: $p, role: ${role}) { id } }`, { u: username, p: password });
    return r.data!.createUser.id;
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('ends a session when the password changes, the role changes, or the user is disabled', async () => {
    const id = await createUser('sam', 'first-password-1');
    for (const change of [`password: "second-password-2"`, `role: VIEWER`, `disabled: true`]) {
      const current = change.startsWith('password') ? 'first-password-1' : 'second-password-2';
      const token = (await login('sam', current)).data!.login.token;
      expect((await me(token)).data!.me!.username).toBe('sam');
      expect((await cp.gql(`mutation { updateUser(id: "${id}", ${change}) { id } }`)).errors).toBeUndefined();
      const after = await me(token);
      expect(codeOf(after)).toBe('UNAUTHENTICATED');
    }
    // a changed display name ends nothing
    await cp.gql(`mutation { updateUser(id: "${id}", disabled: false) { id } }`);
    const token = (await login('sam', 'second-password-2')).data!.login.token;
    await cp.gql(`mutation { updateUser(id: "${id}", displayName: "Sam") { id } }`);
    expect((await me(token)).data!.me!.username).toBe('sam');
  });

  it('checks an unknown username against a hash made with the current scrypt cost', async () => {
    const seen: string[] = [];
    const passwords = { hash: (p: string) => hashPassword(p), verify: (p: string, encoded: string) => { seen.push(encoded); return verifyPassword(p, encoded); } };
    const people = new People(cp.plane.domain.deps, passwords, { issue: async () => ({ token: 't', expiresAt: new Date() }) }, new LoginThrottle());
    await createUser('known', 'known-password-1');
    await expect(people.login('known', 'wrong-password-1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(people.login('unknown-user', 'wrong-password-1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const cost = `scrypt$${DEFAULT_SCRYPT_PARAMS.N}$${DEFAULT_SCRYPT_PARAMS.r}$${DEFAULT_SCRYPT_PARAMS.p}$`;
    expect(seen).toHaveLength(2);
    expect(seen.every((e) => e.startsWith(cost))).toBe(true);
  });

  it('stops password guessing per username: the right password is refused too until the window passes', async () => {
    await createUser('target', 'right-password-1');
    for (let i = 0; i < 5; i++) expect(codeOf(await login('target', `guess-${i}-password`))).toBe('UNAUTHENTICATED');
    const blocked = await login('target', 'right-password-1');
    expect(codeOf(blocked)).toBe('TOO_MANY_REQUESTS');
    expect(blocked.errors?.[0]?.message).toMatch(/try again in \d+ s/);
    // someone else from the same address still signs in
    await createUser('bystander', 'bystander-pass-1');
    expect((await login('bystander', 'bystander-pass-1')).errors).toBeUndefined();
  });

  it('stops password spraying per address across usernames', async () => {
    await createUser('late', 'late-password-1');
    let refused = false;
    for (let i = 0; i < 25 && !refused; i++) refused = codeOf(await login(`spray-${i}`, 'Winter2026!')) === 'TOO_MANY_REQUESTS';
    expect(refused).toBe(true);
    expect(codeOf(await login('late', 'late-password-1'))).toBe('TOO_MANY_REQUESTS');
  });

  it('lets a throttled username in once the window has passed', async () => {
    let now = 0;
    const throttle = new LoginThrottle(new MemoryLoginCounters(() => now, 10), { perUser: 2, perAddress: 100, windowMs: 60_000 });
    await throttle.failed('u', 'a');
    await throttle.failed('u', 'a');
    await expect(throttle.check('u', 'a')).rejects.toThrow(/try again in 60 s/);
    now = 60_001;
    await expect(throttle.check('u', 'a')).resolves.toBeUndefined();
  });
});
