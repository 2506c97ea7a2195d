// Every list of the schema is costed at what it can really return (list-bounds.ts): a list
// costed at the flat factor of 10 while its resolver returned more let a "within budget"
// query do many times the work its estimate said. And a page size given by a variable is
// costed with the variable's value once it is known: at validation it can only be assumed
// to be the cap, which refused small pages for the size a huge one would have.
import { describe, expect, it } from 'vitest';
import {
  Kind,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  parse,
  specifiedRules,
  validate,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from 'graphql';
import { schema } from '../../control/graphql/schema.ts';
import { DEFAULT_GRAPHQL_LIMITS, measureOperation, operationCost, operationLimitsRule } from '../../control/graphql/limits.ts';
import {
  INSTANCES_PER_VERSION_MAX,
  LIST_BOUNDS,
  LISTS_COSTED_BY_FACTOR,
  MODEL_VERSIONS_MAX,
  MODELS_PAGE_MAX,
  NODES_PER_RESOURCE_GROUP_MAX,
  RESOURCE_GROUPS_PAGE,
  VERSIONS_PER_GROUP_MAX,
} from '../../control/graphql/list-bounds.ts';

const measure = (text: string, variables?: Record<string, unknown>) => {
  const doc = parse(text);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  return measureOperation(schema, op, new Map<string, FragmentDefinitionNode>(), variables ? { variables } : {});
};
const costWith = (text: string, variables: Record<string, unknown>) => {
  const doc = parse(text);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  return operationCost(schema, doc, op, { variables });
};
const refusals = (text: string) => validate(schema, parse(text), [...specifiedRules, operationLimitsRule()]).map((e) => e.extensions?.limit);

describe('list bounds', () => {
  it('cover every list (and connection) field of the schema, or say why it is costed by the factor', () => {
    // a bounded page (a connection, the log search) is costed once at its field: its list of
    // items (`edges`, `lines`) is then counted as it holds
    const pageItems = new Set<string>();
    for (const [key, bound] of Object.entries(LIST_BOUNDS)) {
      const [typeName, fieldName] = key.split('.') as [string, string];
      const owner = schema.getType(typeName);
      const field = owner && isObjectType(owner) ? owner.getFields()[fieldName] : undefined;
      if (field && !isListType(getNullableType(field.type))) pageItems.add(`${getNamedType(field.type).name}.${bound.items ?? 'edges'}`);
    }
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const list = isListType(getNullableType(field.type));
        const connection = getNamedType(field.type).name.endsWith('Connection');
        const key = `${type.name}.${field.name}`;
        if (pageItems.has(key)) continue;
        if ((list || connection) && !(key in LIST_BOUNDS) && !(key in LISTS_COSTED_BY_FACTOR)) missing.push(key);
      }
    }
    expect(missing).toEqual([]);
  });

  it('name only fields that exist', () => {
    for (const key of [...Object.keys(LIST_BOUNDS), ...Object.keys(LISTS_COSTED_BY_FACTOR)]) {
      const [typeName, fieldName] = key.split('.') as [string, string];
      const type = schema.getType(typeName);
      expect(type && isObjectType(type) ? Object.keys(type.getFields()) : [], key).toContain(fieldName);
    }
  });

  it("cost a group's versions and their instances at their caps, not 10 each", () => {
    // 1 (serviceGroup) + 16 × (1 versions item field + 64 × 1)
    const m = measure(`{ serviceGroup(name: "a") { versions { instances { name } } } }`);
    expect(m.cost).toBe(1 + 1 + VERSIONS_PER_GROUP_MAX * (1 + INSTANCES_PER_VERSION_MAX * 1));
    // a smaller page asked for is costed at that page
    expect(measure(`{ serviceGroup(name: "a") { versions(first: 2) { instances(first: 3) { name } } } }`).cost).toBe(1 + 1 + 2 * (1 + 3));
  });

  it('cost registered models, their versions, resource groups and their nodes at their caps', () => {
    expect(measure(`{ registeredModels { versions { version } } }`).cost).toBe(1 + MODELS_PAGE_MAX * (1 + MODEL_VERSIONS_MAX));
    // a connection: its edges hold the page; its pageInfo is counted once
    expect(measure(`{ resourceGroups { pageInfo { hasNextPage } edges { node { nodes { name } } } } }`).cost - 2).toBe(2 + RESOURCE_GROUPS_PAGE.default * (1 + 1 + NODES_PER_RESOURCE_GROUP_MAX));
    expect(measure(`{ resourceGroups(first: 1000) { edges { node { id } } } }`).cost).toBe(2 + RESOURCE_GROUPS_PAGE.max * (1 + 1));
  });

  it('refuse at validation what no variable value could make cheap, and leave a variable page to the cost with its value', () => {
    // the old costing allowed this: versions and instances at 10 each (8 × 511 = 4 088)
    expect(refusals(`{ serviceGroups(first: 8) { versions { instances { name state node startedAt restartCount } } } }`)).toContain('cost');
    const paged = `query($n: Int) { serviceGroups(first: $n) { versions { name instances { name state } } } }`;
    expect(refusals(paged)).toEqual([]); // decided once $n is known
    expect(measure(paged).variableSized).toBe(true);
    expect(costWith(paged, { n: 1 })).toBeLessThanOrEqual(DEFAULT_GRAPHQL_LIMITS.maxCost);
    expect(costWith(paged, { n: 200 })).toBeGreaterThan(DEFAULT_GRAPHQL_LIMITS.maxCost);
    // a huge value stays clamped to the cap, a value not sent is the list's default
    expect(costWith(paged, { n: 1e12 })).toBe(costWith(paged, { n: 200 }));
    expect(costWith(paged, {})).toBe(costWith(paged, { n: 200 }));
    // a variable's default value applies when it is not sent
    expect(costWith(`query($n: Int = 1) { serviceGroups(first: $n) { versions { name instances { name state } } } }`, {})).toBe(costWith(paged, { n: 1 }));
  });
});
