// Every document the dashboard sends (web/src/lib/queries.ts) is valid and within the
// GraphQL limits: tightening the cost model (list-bounds.ts: lists of groups costed at their
// page of 200) must never refuse a page of the dashboard.
import { describe, expect, it } from 'vitest';
import { parse, specifiedRules, validate } from 'graphql';
import * as queries from '../../web/src/lib/queries.ts';
import { schema } from '../../control/graphql/schema.ts';
import { operationLimitsRule } from '../../control/graphql/limits.ts';
import { GROUP_PAGE_MAX } from '../../control/graphql/list-bounds.ts';

const documents: [string, string][] = Object.entries(queries as Record<string, unknown>).flatMap(([name, value]) =>
  typeof value === 'string' && /^\s*(query|mutation|subscription)\b/.test(value) ? [[name, value] as [string, string]] : [],
);

describe("the dashboard's documents", () => {
  it("read the group list in pages of the server's cap (a smaller cap would end the list early)", () => {
    expect(queries.GROUP_PAGE).toBe(GROUP_PAGE_MAX);
  });

  it('are many (the filter found them)', () => {
    expect(documents.length).toBeGreaterThan(20);
  });

  it.each(documents)('%s is within the limits', (_name, text) => {
    expect(validate(schema, parse(text), [...specifiedRules, operationLimitsRule()]).map((e) => e.message)).toEqual([]);
  });
});
