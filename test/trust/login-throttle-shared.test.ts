// With REDIS_URL set, failed sign-ins are counted in Redis: two control-plane instances (each
// with its own Redis connection, over one database) share one count per username and per
// address, so a guesser alternating between them gets no more tries than against one. When
// Redis cannot be reached the counts fall back to the process (never unlimited) and an event
// says so.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../fixtures/control-plane.ts';
import { testRedisUrl } from '../fixtures/services.ts';
import { People } from '../../control/domain/people.ts';
import { LoginThrottle } from '../../control/domain/login-throttle.ts';
import { RedisLoginCounters, type LoginCounterEvent } from '../../control/auth/login-counters.ts';
import { hashPassword, verifyPassword } from '../../control/auth/index.ts';

describe('login throttle shared through Redis', () => {
  let cp: TestControlPlane;
  const counters: RedisLoginCounters[] = [];
  const passwords = { hash: (p: string) => hashPassword(p), verify: (p: string, e: string) => verifyPassword(p, e) };
  const sessions = { issue: async () => ({ token: 't', expiresAt: new Date() }) };
  const limits = { perUser: 4, perAddress: 6, windowMs: 60_000 };

  /** One control-plane instance: its own Redis connection, the shared prefix. */
  function instance(prefix: string, url = testRedisUrl(), onEvent?: (e: LoginCounterEvent) => void): People {
    const c = new RedisLoginCounters(url, { keyPrefix: prefix, ...(onEvent ? { onEvent } : {}) });
    counters.push(c);
    return new People(cp.plane.domain.deps, passwords, sessions, new LoginThrottle(c, limits));
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ provider: 'sqlite' });
    await cp.gql(`mutation { createUser(username: "shared", password: "right-password-1", role: DEVELOPER) { id } }`);
  });
  afterAll(async () => {
    await Promise.all(counters.map((c) => c.close()));
    await cp?.close();
  });

  it('two instances count one username together: the fifth try is refused on either, the right password too', async () => {
    const prefix = `sluice-test-login-${randomUUID()}:`;
    const [a, b] = [instance(prefix), instance(prefix)];
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const people = i % 2 === 0 ? a : b;
      codes.push(await people!.login('shared', 'wrong-password', `10.0.0.${i}`).then(() => 'OK', (e: { code: string }) => e.code));
    }
    expect(codes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    // per process each saw two failures (under its limit of 4): only a shared count refuses here
    await expect(a!.login('shared', 'right-password-1', '10.0.0.9')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    await expect(b!.login('shared', 'right-password-1', '10.0.0.9')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
  });

  it('two instances count one address together across usernames', async () => {
    const prefix = `sluice-test-login-${randomUUID()}:`;
    const [a, b] = [instance(prefix), instance(prefix)];
    for (let i = 0; i < 6; i++) {
      await expect((i % 2 === 0 ? a : b)!.login(`nobody-${i}`, 'x', '192.0.2.7')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    await expect(a!.login('someone-else', 'x', '192.0.2.7')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    await expect(b!.login('someone-else', 'x', '192.0.2.8')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('Redis unreachable: counted in the process (still refused past the limit), with an event', async () => {
    const events: LoginCounterEvent[] = [];
    const people = instance(`sluice-test-login-${randomUUID()}:`, 'redis://127.0.0.1:1', (e) => events.push(e));
    for (let i = 0; i < 4; i++) {
      await expect(people.login('shared', 'wrong-password', '10.1.0.1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    await expect(people.login('shared', 'right-password-1', '10.1.0.1')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(events.map((e) => e.type)).toEqual(['LOGIN_THROTTLE_STORE_UNAVAILABLE']);
  });
});
