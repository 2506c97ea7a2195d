// The cost budget and the expensive-operation gate (expensive-gate.ts) applied to an
// operation about to run, the same way on both transports: Apollo's request pipeline calls
// `admit` (HTTP) and graphql-ws runs every query and mutation through `gatedExecute`, so
// opening a socket is no way around the line. The cost is the estimate of limits.ts with the
// operation's own variables (a `first: $n` costs what $n asks, clamped like its resolver):
// validation could only assume the cap for it, so the budget is checked here too.
import {
  createSourceEventStream,
  execute as graphqlExecute,
  GraphQLError,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import type { GraphQLContext } from './context.ts';
import type { ExpensiveGate } from './expensive-gate.ts';
import { checkOperationCost, operationCost, type GraphQLLimits, type ListSizing } from './limits.ts';

/** Who waits in the gate's line: the signed-in user, else the caller's address. */
export function gateCaller(ctx: GraphQLContext): string {
  return ctx.actor?.userId ?? `address:${ctx.clientAddress ?? ''}`;
}

/** What `admit` needs of the limits: how lists are sized and the budget. */
export type AdmitLimits = ListSizing & Pick<GraphQLLimits, 'maxCost'>;

/** The operation's cost with its variables; throws QUERY_TOO_COMPLEX over the budget. */
function costWithinBudget(
  args: { schema: ExecutionArgs['schema']; document: DocumentNode; operation: OperationDefinitionNode; variables?: Readonly<Record<string, unknown>> | null | undefined },
  limits: AdmitLimits,
): number {
  const cost = operationCost(args.schema, args.document, args.operation, { ...limits, variables: args.variables ?? undefined });
  const refused = checkOperationCost(cost, limits, args.operation);
  if (refused) throw refused;
  return cost;
}

/**
 * Checks the operation's cost with its variables (QUERY_TOO_COMPLEX over the budget), then
 * waits for its turn when that cost is over the gate's threshold; resolves with the release
 * (a no-op for a cheap one). Throws the gate's TOO_MANY_REQUESTS refusal when the caller
 * already has too many waiting.
 */
export async function admit(
  gate: ExpensiveGate,
  ctx: GraphQLContext,
  args: { schema: ExecutionArgs['schema']; document: DocumentNode; operation: OperationDefinitionNode; variables?: Readonly<Record<string, unknown>> | null | undefined },
  limits: AdmitLimits,
): Promise<() => void> {
  const cost = costWithinBudget({ ...args, variables: args.variables ?? {} }, limits);
  if (cost <= gate.threshold) return () => undefined;
  return gate.enter(gateCaller(ctx));
}

/** The operation of `args` (by name, or the only one), or null. */
function operationOf(args: ExecutionArgs): OperationDefinitionNode | null {
  const ops = args.document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (args.operationName) return ops.find((o) => o.name?.value === args.operationName) ?? null;
  return ops.length === 1 ? (ops[0] ?? null) : null;
}

/** graphql's `execute`, behind the gate: for graphql-ws, whose queries and mutations Apollo's plugins never see. */
export function gatedExecute(gate: ExpensiveGate, limits: AdmitLimits): (args: ExecutionArgs) => Promise<ExecutionResult> {
  return async (args) => {
    const operation = operationOf(args);
    let release: () => void = () => undefined;
    if (operation) {
      try {
        release = await admit(gate, args.contextValue as GraphQLContext, { schema: args.schema, document: args.document, operation, variables: args.variableValues }, limits);
      } catch (error) {
        // a refusal is the operation's answer, not a broken socket
        if (error instanceof GraphQLError) return { errors: [error] };
        throw error;
      }
    }
    try {
      return await graphqlExecute(args);
    } finally {
      release();
    }
  };
}

/**
 * graphql's `subscribe`, each event's execution behind the gate: a subscription costs its
 * selection once per event, so a burst of events fanned out to many subscriptions would run
 * that many operations at once. The subscription's cost (with its variables) is checked
 * against the budget when it starts; an event whose execution is expensive then waits for
 * its turn like any expensive operation (never refused: its subscription would miss the
 * update) — one at a time per caller, `global` at a time in the process. graphql-ws reads
 * a subscription's events one after another, so a waiting event holds the next ones back
 * instead of piling up executions (they wait in the source's buffer).
 */
export function gatedSubscribe(
  gate: ExpensiveGate,
  limits: AdmitLimits,
): (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  return async (args) => {
    const operation = operationOf(args);
    let cost = 0;
    try {
      if (operation) cost = costWithinBudget({ schema: args.schema, document: args.document, operation, variables: args.variableValues }, limits);
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const caller = gateCaller(args.contextValue as GraphQLContext);
    const iterator = source[Symbol.asyncIterator]();
    // by hand, not an async generator: a generator awaiting its next event could not be
    // returned (a completed subscription) until that event came, leaving the source open
    const events: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        const next = await iterator.next();
        if (next.done) return { done: true, value: undefined };
        const release = cost > gate.threshold ? await gate.enter(caller, { refuse: false }) : () => undefined;
        try {
          return { done: false, value: await graphqlExecute({ ...args, rootValue: next.value }) };
        } finally {
          release();
        }
      },
      async return() {
        await iterator.return?.();
        return { done: true, value: undefined };
      },
      async throw(error: unknown) {
        await iterator.return?.();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return events;
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
