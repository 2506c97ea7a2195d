// The pure status rules: a group's status follows its versions, and traffic shares of the
// running versions always sum to exactly 100.
import { describe, expect, it } from 'vitest';
import { deriveGroupStatus, rebalance } from '../../control/domain/status.ts';

describe('group status from its versions', () => {
  it.each([
    [[], 'DRAFT'],
    [['DRAFT', 'DRAFT'], 'DRAFT'],
    [['RUNNING', 'DRAFT'], 'RUNNING'],
    [['RUNNING', 'STARTING'], 'STARTING'],
    [['RUNNING', 'STOPPING'], 'STOPPING'],
    [['FAILED', 'STOPPED'], 'FAILED'],
    [['RUNNING', 'FAILED'], 'RUNNING'],
    [['STOPPED', 'DRAFT'], 'STOPPED'],
  ] as const)('%j → %s', (versions, expected) => {
    expect(deriveGroupStatus([...versions])).toBe(expected);
  });
});

describe('traffic rebalancing', () => {
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

  it('gives everything to the one version left', () => {
    expect(rebalance([{ id: 'b', percent: 20 }])).toEqual(new Map([['b', 100]]));
    expect(rebalance([{ id: 'b', percent: 0 }])).toEqual(new Map([['b', 100]]));
  });

  it('scales the remaining shares to 100, rounding deterministically', () => {
    const shares = rebalance([{ id: 'a', percent: 33 }, { id: 'b', percent: 33 }, { id: 'c', percent: 0 }]);
    expect(sum(shares)).toBe(100);
    expect(shares).toEqual(new Map([['a', 50], ['b', 50], ['c', 0]]));
    for (let a = 0; a <= 100; a += 7) {
      for (let b = 0; b <= 100 - a; b += 11) {
        const m = rebalance([{ id: 'x', percent: a }, { id: 'y', percent: b }, { id: 'z', percent: 100 - a - b }].filter((s) => s.percent > 0));
        if (m.size > 0) expect(sum(m)).toBe(100);
      }
    }
  });

  it('returns nothing when no version runs', () => {
    expect(rebalance([]).size).toBe(0);
  });
});
