// The process-wide net for a database outage (platform/process.ts): an unhandled rejection
// that says "the database is unavailable" is logged with its stack and the process goes on;
// any other unhandled rejection still ends the process (rethrown, as Node does by default).
import { describe, expect, it } from 'vitest';
import { surviveDatabaseOutages } from '../../platform/process.ts';

describe('surviveDatabaseOutages', () => {
  it('logs a database-unavailable rejection and goes on; rethrows anything else', () => {
    const lines: string[] = [];
    const handler = surviveDatabaseOutages('test', (l) => lines.push(l));
    try {
      const timeout = new Error('Query read timeout');
      expect(() => handler(timeout)).not.toThrow();
      expect(() => handler(new Error('x', { cause: new Error('Connection terminated due to connection timeout') }))).not.toThrow();
      expect(lines).toHaveLength(2);
      const logged = JSON.parse(lines[0]!) as { code: string; err: { message: string; stack: string } };
      expect(logged.code).toBe('DATABASE_UNAVAILABLE');
      expect(logged.err.message).toBe('Query read timeout');
      expect(logged.err.stack).toContain('survive-db-outage.unit.test.ts');
      const bug = new TypeError('undefined is not a function');
      expect(() => handler(bug)).toThrow(bug);
      expect(lines).toHaveLength(2);
    } finally {
      process.off('unhandledRejection', handler);
    }
  });
});
