// Comparison of secrets without leaking, through timing, how many leading characters match
// or how long the expected value is: both sides are hashed to a fixed length first.

import { createHash, timingSafeEqual } from 'node:crypto';

export function constantTimeEqual(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(a, b);
}
