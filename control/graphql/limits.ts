// What one GraphQL operation may ask of the control plane, checked before anything runs:
// the parser's token limit (a huge document is refused while parsing), then one validation
// rule that measures each operation — depth, aliases, field selections and a cost budget
// where every list multiplies what is under it — and refuses what is over. The same checks
// serve HTTP (Apollo's validation rules) and graphql-ws (its onSubscribe), so a socket is no
// way around them. The walk memoizes each fragment, so a "fragment bomb" costs linear time.
// Lists are sized by list-bounds.ts; a size set by a variable is unknown while validating,
// so the cost of such an operation is checked again where its variables arrive
// (gated-execute.ts: Apollo's didResolveOperation, graphql-ws' execute and subscribe).
import {
  GraphQLError,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getNamedType,
  getVariableValues,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import { LIST_BOUNDS } from './list-bounds.ts';

/** How many items a paged list or connection returns: its resolver clamps to `max`. */
export interface ListBound {
  /** the size when neither `first` nor `last` is given */
  default: number;
  /** the most it returns, whatever `first`/`last` asks */
  max: number;
  /** the arguments that ask for a size (default `first` and `last`) */
  args?: readonly string[];
  /** on an object field (a connection, a page): its list of the items counted (default `edges`) */
  items?: string;
}

export interface GraphQLLimits {
  /** deepest field nesting (the root field is depth 1) */
  maxDepth: number;
  /** aliased fields in one operation */
  maxAliases: number;
  /** field selections in one operation, fragments expanded */
  maxFields: number;
  /** cost budget of the data fields: each costs 1 times the product of the list sizes above it */
  maxCost: number;
  /**
   * the same for the schema's own fields (__schema, __type): served from memory, far cheaper
   * per field than data, but as explosive when nested (types → fields → type → fields …)
   */
  maxIntrospectionCost: number;
  /** the size a list is assumed to have when costing what is selected under it (lists without a bound) */
  listFactor: number;
  /**
   * lists (and connections) whose real size is known: `Type.field` → the size the resolver
   * returns without a size argument and the most it returns with one (list-bounds.ts)
   */
  listBounds: Readonly<Record<string, ListBound>>;
  /** lexical tokens the parser reads before it gives up */
  maxTokens: number;
}

/**
 * Room for every dashboard query (the largest: depth 6, cost ~1 300) and for the standard
 * introspection query (depth 15, introspection cost ~49 000). The data budget is what keeps
 * the process responsive: measured (npm run bench -- trust), a query at cost ~94 000 over 51
 * groups took ~0.5 s of a synchronous SQLite process; 5 000 is about 1/20 of that.
 */
export const DEFAULT_GRAPHQL_LIMITS: GraphQLLimits = {
  maxDepth: 15,
  // each alias of a root list is its own database fetch, a fixed cost the per-field budget does
  // not see: with lists costed at their real bounds, 22 aliases of a 20-group page fit the
  // budget and took 149 ms of CPU per query (npm run bench -- trust); no dashboard query uses one
  maxAliases: 10,
  maxFields: 1_000,
  maxCost: 5_000,
  maxIntrospectionCost: 60_000,
  listFactor: 10,
  listBounds: LIST_BOUNDS,
  maxTokens: 5_000,
};

export interface OperationMeasure {
  depth: number;
  aliases: number;
  fields: number;
  cost: number;
  introspectionCost: number;
  /**
   * whether a list's size argument is a variable whose value was not known (while
   * validating): the cost then assumes that list's cap, and the cost check waits for the
   * operation's variables (`checkOperationCost`), so a small page is not refused for the
   * size a huge one would have
   */
  variableSized: boolean;
}

/** The error code a refused operation carries in `extensions.code`. */
export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

interface Measured {
  /** depth below the selection set's owner */
  depth: number;
  aliases: number;
  fields: number;
  /** cost with a multiplier of 1 (cost scales linearly with the multiplier above) */
  cost: number;
  introspectionCost: number;
}

const ZERO: Measured = { depth: 0, aliases: 0, fields: 0, cost: 0, introspectionCost: 0 };
// Past this the numbers only need to say "too much"; keeps the arithmetic finite.
const CAP = 1e15;
const capped = (n: number) => (n > CAP ? CAP : n);

function fieldDef(parent: GraphQLNamedType | undefined, node: FieldNode, schema: GraphQLSchema): GraphQLField<unknown, unknown> | undefined {
  const name = node.name.value;
  if (name === '__typename') return TypeNameMetaFieldDef;
  if (parent === schema.getQueryType()) {
    if (name === '__schema') return SchemaMetaFieldDef;
    if (name === '__type') return TypeMetaFieldDef;
  }
  if (parent && (isObjectType(parent) || isInterfaceType(parent))) return parent.getFields()[name];
  return undefined;
}

const SIZE_ARGS: readonly string[] = ['first', 'last'];

/** Inside a bounded page: the name of its list of items and the page's size. */
interface PagedItems {
  name: string;
  size: number;
}

/** How lists are sized while costing: the default factor, the known bounds, and the operation's variables when known. */
export interface ListSizing {
  listFactor?: number;
  listBounds?: Readonly<Record<string, ListBound>>;
  /** absent while validating: a size argument set by a variable is then costed at its list's cap */
  variables?: Readonly<Record<string, unknown>> | null;
}

/** Measures one operation (fragments expanded once each, memoized by fragment and type). */
export function measureOperation(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  sizing: ListSizing = {},
): OperationMeasure {
  const listFactor = sizing.listFactor ?? DEFAULT_GRAPHQL_LIMITS.listFactor;
  const bounds = sizing.listBounds ?? DEFAULT_GRAPHQL_LIMITS.listBounds;
  const memo = new Map<string, Measured>();
  const visiting = new Set<string>();
  let variableSized = false;

  /** What a `first`/`last` argument asks for: a literal, a variable's value, or unknown (null). */
  const asked = (value: ValueNode): number | null => {
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.NULL) return null;
    if (value.kind === Kind.VARIABLE) {
      // unknown while validating (no variables yet): the list's cap stands for it
      if (!sizing.variables) {
        variableSized = true;
        return Number.POSITIVE_INFINITY;
      }
      const v = sizing.variables[value.name.value];
      // not sent (or null): the argument is unset, so the list returns its default size
      if (v === undefined || v === null) return null;
      return typeof v === 'number' ? v : Number.POSITIVE_INFINITY;
    }
    return Number.POSITIVE_INFINITY;
  };

  /** The real size of a bounded list or connection: what its size argument asks, clamped like its resolver does. */
  const boundedSize = (bound: ListBound, node: FieldNode): number => {
    let size: number | null = null;
    const names = bound.args ?? SIZE_ARGS;
    for (const arg of node.arguments ?? []) {
      if (!names.includes(arg.name.value)) continue;
      const n = asked(arg.value);
      if (n !== null) size = Math.max(size ?? 0, n);
    }
    return Math.max(0, Math.min(size ?? bound.default, bound.max));
  };

  function selectionSet(set: SelectionSetNode, parent: GraphQLNamedType | undefined, inSchema: boolean, paged: PagedItems | null = null): Measured {
    let depth = 0;
    let aliases = 0;
    let fields = 0;
    let cost = 0;
    let introspectionCost = 0;
    const add = (m: Measured) => {
      depth = Math.max(depth, m.depth);
      aliases = capped(aliases + m.aliases);
      fields = capped(fields + m.fields);
      cost = capped(cost + m.cost);
      introspectionCost = capped(introspectionCost + m.introspectionCost);
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const def = fieldDef(parent, selection, schema);
        const isList = def ? isListType(getNullableType(def.type)) : false;
        const name = selection.name.value;
        const schemaField = inSchema || name === '__schema' || name === '__type';
        const bound = parent && !schemaField ? bounds[`${parent.name}.${name}`] : undefined;
        // a bounded connection (or page) is not a list itself: its `edges` (or `items`) list
        // holds the page, so that list is multiplied by the page size and the page's own
        // fields (pageInfo, a cursor) are counted once
        const connection = bound !== undefined && !isList;
        const child = selection.selectionSet
          ? selectionSet(
              selection.selectionSet,
              def ? getNamedType(def.type) : undefined,
              schemaField,
              connection ? { name: bound.items ?? 'edges', size: boundedSize(bound, selection) } : null,
            )
          : ZERO;
        const meta = name === '__typename';
        const factor = connection ? 1 : bound ? boundedSize(bound, selection) : paged !== null && name === paged.name ? paged.size : isList ? listFactor : 1;
        add({
          depth: child.depth + (meta ? 0 : 1),
          aliases: child.aliases + (selection.alias ? 1 : 0),
          fields: child.fields + 1,
          cost: (meta || schemaField ? 0 : 1) + child.cost * factor,
          introspectionCost: (schemaField && !meta ? 1 : 0) + child.introspectionCost * factor,
        });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) ?? undefined : parent;
        add(selectionSet(selection.selectionSet, type, inSchema, paged));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue; // unknown or cyclic: graphql's own rules report it
        const type = schema.getType(fragment.typeCondition.name.value) ?? undefined;
        const key = `${name}@${type?.name ?? ''}@${inSchema}@${paged ? `${paged.name}:${paged.size}` : ''}`;
        let measured = memo.get(key);
        if (!measured) {
          visiting.add(name);
          measured = selectionSet(fragment.selectionSet, type, inSchema, paged);
          visiting.delete(name);
          memo.set(key, measured);
        }
        add(measured);
      }
    }
    return { depth, aliases, fields, cost, introspectionCost };
  }

  const root =
    operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const m = selectionSet(operation.selectionSet, root ?? undefined, false);
  return { depth: m.depth, aliases: m.aliases, fields: m.fields, cost: m.cost, introspectionCost: m.introspectionCost, variableSized };
}

/** The measured quantities that have a limit. */
type Limited = Exclude<keyof OperationMeasure, 'variableSized'>;

function refusal(limit: Limited, measured: number, max: number, node: OperationDefinitionNode): GraphQLError {
  const what = { depth: 'nesting depth', aliases: 'aliases', fields: 'field selections', cost: 'estimated cost', introspectionCost: 'estimated introspection cost' }[limit];
  return new GraphQLError(`operation refused: its ${what} is ${measured >= CAP ? 'unbounded' : measured}, the limit is ${max}`, {
    nodes: [node],
    extensions: { code: QUERY_TOO_COMPLEX, limit, measured: Math.min(measured, CAP), max },
  });
}

/** Refusals for one operation, empty when it is within every limit. */
export function checkOperation(measure: OperationMeasure, limits: GraphQLLimits, node: OperationDefinitionNode): GraphQLError[] {
  const out: GraphQLError[] = [];
  if (measure.depth > limits.maxDepth) out.push(refusal('depth', measure.depth, limits.maxDepth, node));
  if (measure.aliases > limits.maxAliases) out.push(refusal('aliases', measure.aliases, limits.maxAliases, node));
  if (measure.fields > limits.maxFields) out.push(refusal('fields', measure.fields, limits.maxFields, node));
  // a cost that depends on variables is checked once they are known (checkOperationCost)
  if (measure.cost > limits.maxCost && !measure.variableSized) out.push(refusal('cost', measure.cost, limits.maxCost, node));
  if (measure.introspectionCost > limits.maxIntrospectionCost) {
    out.push(refusal('introspectionCost', measure.introspectionCost, limits.maxIntrospectionCost, node));
  }
  return out;
}

/** The validation rule: every operation of the document measured against the limits. */
export function operationLimitsRule(limits: GraphQLLimits = DEFAULT_GRAPHQL_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    Document(document: DocumentNode) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        for (const error of checkOperation(measureOperation(context.getSchema(), d, fragments, limits), limits, d)) context.reportError(error);
      }
      return false; // nothing more to visit: the measure walked what it needed
    },
  });
}

/** Whether a document asks for the schema itself (`__schema` or `__type` anywhere). */
export function asksForIntrospection(document: DocumentNode): boolean {
  const seen = new Set<SelectionSetNode>();
  const walk = (set: SelectionSetNode): boolean => {
    if (seen.has(set)) return false;
    seen.add(set);
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD && (s.name.value === '__schema' || s.name.value === '__type')) return true;
      if (s.kind !== Kind.FRAGMENT_SPREAD && s.selectionSet && walk(s.selectionSet)) return true;
    }
    return false;
  };
  return document.definitions.some((d) => (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) && walk(d.selectionSet));
}

/** The refusal for an anonymous introspection (the schema is for signed-in callers). */
export function introspectionRefused(): GraphQLError {
  return new GraphQLError('introspection needs a signed-in caller: send a bearer token', { extensions: { code: 'UNAUTHENTICATED' } });
}

/**
 * The estimated cost of the operation about to run (fragments of its document expanded),
 * with its variables coerced as execution will (a variable's default applies when it is not
 * sent); variables that do not coerce leave the list at its cap (execution refuses them).
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  sizing: ListSizing & { variables: Readonly<Record<string, unknown>> | null | undefined },
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], { ...(sizing.variables ?? {}) });
  const variables = coerced.coerced ?? {};
  return measureOperation(schema, operation, fragments, { ...sizing, variables }).cost;
}

/**
 * The cost check of an operation whose variables are known: the refusal when its cost with
 * those values is over the budget, else null. Run where the variables arrive — Apollo's
 * didResolveOperation, graphql-ws' execute and subscribe — because validation (cached per
 * document) cannot see them.
 */
export function checkOperationCost(cost: number, limits: Pick<GraphQLLimits, 'maxCost'>, node: OperationDefinitionNode): GraphQLError | null {
  if (cost <= limits.maxCost) return null;
  const refused = refusal('cost', cost, limits.maxCost, node);
  // 400 over HTTP like a refusal at validation (Apollo answers errors thrown before execution with 500 otherwise)
  return new GraphQLError(refused.message, { nodes: [node], extensions: { ...refused.extensions, http: { status: 400 } } });
}
