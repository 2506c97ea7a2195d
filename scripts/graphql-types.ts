// The dashboard's GraphQL types, generated from the committed SDL and the documents the
// dashboard sends (web/src/lib/queries.ts), with graphql-js: every operation is validated
// against the schema (a query that asks for a field the schema lacks fails generation),
// and gets `<Name><Kind>` (its result) and `<Name><Kind>Variables` types; the selections the
// pages share get the names in DASHBOARD_NAMES; enums and input objects come from the
// schema. Called by `npm run schema:sdl` (control/graphql/sdl.ts); pure: text in, text out.
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  buildSchema,
  isCompositeType,
  isObjectType,
  isInterfaceType,
  parse,
  print,
  typeFromAST,
  validate,
  type GraphQLCompositeType,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/** Custom scalars as the dashboard receives them over JSON. */
const SCALARS: Record<string, string> = {
  ID: 'string',
  String: 'string',
  Int: 'number',
  Float: 'number',
  Boolean: 'boolean',
  DateTime: 'string',
  JSON: 'unknown',
};

/**
 * Names for the selections the dashboard's pages and components pass around: a shared
 * selection constant of queries.ts on a schema type, or a path into an operation's result.
 */
export type NamedType = { name: string; on: string; selection: string } | { name: string; alias: string };
export const DASHBOARD_NAMES: NamedType[] = [
  { name: 'GroupRow', on: 'ServiceGroup', selection: 'GROUP_ROW' },
  { name: 'GroupDetail', on: 'ServiceGroup', selection: 'GROUP_DETAIL' },
  { name: 'Version', on: 'ServiceVersion', selection: 'VERSION_FIELDS' },
  { name: 'Instance', alias: "Version['instances'][number]" },
  { name: 'ApiKey', alias: "ApiKeysQuery['apiKeys'][number]" },
  { name: 'EventRow', alias: "EventsQuery['events']['edges'][number]['node']" },
  { name: 'ProxyStatus', alias: "ProxyStatusQuery['proxyStatus'][number]" },
  { name: 'RegisteredModel', alias: "ModelsQuery['registeredModels'][number]" },
  { name: 'Status', alias: 'ServiceStatus' },
  { name: 'Series', alias: "MetricsQuery['metrics'][number]" },
  { name: 'LogRow', alias: "LogSearchQuery['logSearch']['lines'][number]" },
  { name: 'QualityRuleRow', on: 'QualityRule', selection: 'QUALITY_RULE' },
  { name: 'AlertRow', on: 'Alert', selection: 'ALERT_FIELDS' },
  { name: 'LabelReportRow', on: 'LabelReport', selection: 'LABEL_REPORT' },
  { name: 'InferenceRun', alias: "InferenceProgressQuery['inferenceTable']['runs'][number]" },
];

const KIND_SUFFIX = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

function scalar(t: GraphQLScalarType): string {
  const ts = SCALARS[t.name];
  if (!ts) throw new Error(`scalar ${t.name} has no TypeScript type: add it to SCALARS in scripts/graphql-types.ts`);
  return ts;
}

const pad = (depth: number) => '  '.repeat(depth);

/** `${type}:${printed selection}` → the name given to that selection (DASHBOARD_NAMES). */
type Named = ReadonlyMap<string, string>;
const signature = (type: string, set: SelectionSetNode) => `${type}:${print(set)}`;

function selectionType(schema: GraphQLSchema, named: Named, parent: GraphQLCompositeType, set: SelectionSetNode, depth: number, where: string): string {
  const lines: string[] = [];
  for (const sel of set.selections) {
    if (sel.kind !== 'Field') throw new Error(`${where}: fragments are not supported by the dashboard's type generator; list the fields`);
    const key = sel.alias?.value ?? sel.name.value;
    if (sel.name.value === '__typename') {
      lines.push(`${pad(depth + 1)}${key}: '${parent.name}';`);
      continue;
    }
    if (!isObjectType(parent) && !isInterfaceType(parent)) throw new Error(`${where}: select fields of the union ${parent.name} through inline fragments`);
    const field = parent.getFields()[sel.name.value];
    if (!field) throw new Error(`${where}: ${parent.name} has no field ${sel.name.value}`);
    lines.push(`${pad(depth + 1)}${key}: ${outputType(schema, named, field.type, sel.selectionSet, depth + 1, `${where}.${key}`)};`);
  }
  return `{\n${lines.join('\n')}\n${pad(depth)}}`;
}

function outputType(schema: GraphQLSchema, named: Named, type: GraphQLOutputType, set: SelectionSetNode | undefined, depth: number, where: string): string {
  if (type instanceof GraphQLNonNull) return nonNullOutput(schema, named, type.ofType, set, depth, where);
  return `${nonNullOutput(schema, named, type, set, depth, where)} | null`;
}

function nonNullOutput(schema: GraphQLSchema, named: Named, type: GraphQLOutputType, set: SelectionSetNode | undefined, depth: number, where: string): string {
  if (type instanceof GraphQLList) {
    const inner = outputType(schema, named, type.ofType as GraphQLOutputType, set, depth, where);
    return inner.includes('|') ? `Array<${inner}>` : `${inner}[]`;
  }
  if (type instanceof GraphQLScalarType) return scalar(type);
  if (type instanceof GraphQLEnumType) return type.name;
  if (isCompositeType(type)) {
    if (!set) throw new Error(`${where}: ${type.name} needs a selection`);
    // a shared selection keeps its name wherever it is used
    return named.get(signature(type.name, set)) ?? selectionType(schema, named, type, set, depth, where);
  }
  throw new Error(`${where}: unexpected type ${String(type)}`);
}

function inputType(type: GraphQLInputType): string {
  if (type instanceof GraphQLNonNull) return nonNullInput(type.ofType);
  return `${nonNullInput(type)} | null`;
}

function nonNullInput(type: GraphQLInputType): string {
  if (type instanceof GraphQLList) {
    const inner = inputType(type.ofType as GraphQLInputType);
    return inner.includes('|') ? `Array<${inner}>` : `${inner}[]`;
  }
  if (type instanceof GraphQLScalarType) return scalar(type);
  return (type as GraphQLEnumType | GraphQLInputObjectType).name; // enums and input objects are declared by name
}

function operationTypes(schema: GraphQLSchema, named: Named, exportName: string, op: OperationDefinitionNode): string {
  const name = op.name?.value;
  if (!name) throw new Error(`web/src/lib/queries.ts ${exportName}: every operation needs a name (it names the generated types)`);
  const typeName = `${name}${KIND_SUFFIX[op.operation]}`;
  const root = schema.getRootType(op.operation);
  if (!root) throw new Error(`${exportName}: the schema has no ${op.operation} type`);
  const vars = (op.variableDefinitions ?? []).map((v) => {
    const t = typeFromAST(schema, v.type) as GraphQLInputType | undefined;
    if (!t) throw new Error(`${exportName}: unknown variable type for $${v.variable.name.value}`);
    const optional = !(t instanceof GraphQLNonNull) || v.defaultValue !== undefined;
    return `  ${v.variable.name.value}${optional ? '?' : ''}: ${inputType(t)};`;
  });
  return [
    `/** result of ${exportName} */`,
    `export type ${typeName} = ${selectionType(schema, named, root, op.selectionSet, 0, exportName)};`,
    `export type ${typeName}Variables = ${vars.length ? `{\n${vars.join('\n')}\n}` : 'Record<string, never>'};`,
  ].join('\n');
}

/** The whole generated module, from the SDL and queries.ts's exports. */
export function generateDashboardTypes(sdl: string, queries: Record<string, unknown>, names: readonly NamedType[] = DASHBOARD_NAMES): string {
  const schema = buildSchema(sdl);
  const out: string[] = [
    '// Generated by `npm run schema:sdl` from control/graphql/schema.graphql and the documents in',
    '// web/src/lib/queries.ts (scripts/graphql-types.ts): do not edit. The shapes the dashboard',
    '// reads from the GraphQL API: exactly the fields each document selects, typed by the schema.',
    '/* eslint-disable */',
    '',
  ];
  const declared = new Set<string>();
  const declare = (name: string) => {
    if (declared.has(name)) throw new Error(`two generated types are named ${name}`);
    declared.add(name);
  };

  const typeMap = schema.getTypeMap();
  for (const name of Object.keys(typeMap).sort()) {
    const t = typeMap[name]!;
    if (name.startsWith('__')) continue;
    if (t instanceof GraphQLEnumType) {
      declare(name);
      out.push(`export type ${name} = ${t.getValues().map((v) => `'${v.value as string}'`).join(' | ')};`);
    } else if (t instanceof GraphQLInputObjectType) {
      declare(name);
      const fields = Object.values(t.getFields()).map((f) => `  ${f.name}${f.type instanceof GraphQLNonNull && f.defaultValue === undefined ? '' : '?'}: ${inputType(f.type)};`);
      out.push(`export interface ${name} {\n${fields.join('\n')}\n}`);
    }
  }
  out.push('');

  const named = new Map<string, string>();
  const selections = new Map<string, SelectionSetNode>();
  for (const n of names) {
    if ('alias' in n) continue;
    const selection = queries[n.selection];
    if (typeof selection !== 'string') throw new Error(`queries.ts exports no selection ${n.selection}`);
    const set = (parse(`{ ${selection} }`).definitions[0] as OperationDefinitionNode).selectionSet;
    selections.set(n.name, set);
    named.set(signature(n.on, set), n.name);
  }

  const errors: string[] = [];
  for (const [exportName, value] of Object.entries(queries).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof value !== 'string' || !/^\s*(query|mutation|subscription)\b/.test(value)) continue;
    const doc = parse(value);
    for (const e of validate(schema, doc)) errors.push(`${exportName}: ${e.message}`);
    if (errors.length) continue;
    for (const def of doc.definitions) {
      if (def.kind !== 'OperationDefinition') throw new Error(`${exportName}: only operations, no fragments`);
      declare(`${def.name?.value ?? ''}${KIND_SUFFIX[def.operation]}`);
      out.push(operationTypes(schema, named, exportName, def), '');
    }
  }
  if (errors.length) throw new Error(`web/src/lib/queries.ts does not match the schema:\n  ${errors.join('\n  ')}`);

  for (const n of names) {
    declare(n.name);
    if ('alias' in n) {
      out.push(`export type ${n.name} = ${n.alias};`);
      continue;
    }
    const on = schema.getType(n.on);
    if (!on || !isCompositeType(on)) throw new Error(`${n.name}: the schema has no object type ${n.on}`);
    const set = selections.get(n.name)!;
    out.push(`/** ${n.selection} on ${n.on} */`, `export type ${n.name} = ${selectionType(schema, named, on, set, 0, n.selection)};`);
  }
  return `${out.join('\n')}\n`;
}
