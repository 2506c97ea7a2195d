// Every document the dashboard sends (web/src/lib/queries.ts) is valid and within the
// GraphQL limits: tightening the cost model (list-bounds.ts: every list costed at what it can
// return) must never refuse a page of the dashboard — including the documents whose page
// size is a variable, costed with the largest value the dashboard sends.
import { describe, expect, it } from 'vitest';
import { parse, specifiedRules, validate } from 'graphql';
import * as queries from '../../web/src/lib/queries.ts';
import { schema } from '../../control/graphql/schema.ts';
import { DEFAULT_GRAPHQL_LIMITS, measureOperation, operationCost, operationLimitsRule } from '../../control/graphql/limits.ts';
import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
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

  // the largest page sizes the dashboard sends in variables (web/src/components)
  const largest: Record<string, Record<string, unknown>> = {
    INFERENCE: { first: Math.max(...queries.INFERENCE_ROW_CHOICES) },
    LOG_SEARCH: { limit: 200 }, // the logs component sends 200
    LOGS: { limit: 200 }, // the server's default
  };
  it.each(documents)('%s fits the cost budget with the variables the dashboard sends', (name, text) => {
    const doc = parse(text);
    const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    const fragments = new Map<string, FragmentDefinitionNode>();
    if (!measureOperation(schema, op, fragments).variableSized) return; // validation checked its cost
    expect(largest[name], `${name}: its page size is a variable — add the largest value the dashboard sends`).toBeDefined();
    expect(operationCost(schema, doc, op, { variables: largest[name] })).toBeLessThanOrEqual(DEFAULT_GRAPHQL_LIMITS.maxCost);
  });
});
