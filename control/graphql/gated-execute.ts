// The expensive-operation gate (expensive-gate.ts) applied to an operation about to run,
// the same way on both transports: Apollo's request pipeline calls `admit` (HTTP) and
// graphql-ws runs every query and mutation through `gatedExecute`, so opening a socket is no
// way around the line. The cost is the estimate of limits.ts with the operation's own
// variables (a `first: $n` costs what $n asks, clamped like its resolver).
import { execute as graphqlExecute, GraphQLError, Kind, type DocumentNode, type ExecutionArgs, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import type { GraphQLContext } from './context.ts';
import type { ExpensiveGate } from './expensive-gate.ts';
import { operationCost, type ListSizing } from './limits.ts';

/** Who waits in the gate's line: the signed-in user, else the caller's address. */
export function gateCaller(ctx: GraphQLContext): string {
  return ctx.actor?.userId ?? `address:${ctx.clientAddress ?? ''}`;
}

/**
 * Waits for the operation's turn when its estimated cost is over the gate's threshold;
 * resolves with the release (a no-op for a cheap one). Throws the gate's TOO_MANY_REQUESTS
 * refusal when the caller already has too many waiting.
 */
export async function admit(
  gate: ExpensiveGate,
  ctx: GraphQLContext,
  args: { schema: ExecutionArgs['schema']; document: DocumentNode; operation: OperationDefinitionNode; variables?: Readonly<Record<string, unknown>> | null | undefined },
  sizing: ListSizing,
): Promise<() => void> {
  const cost = operationCost(args.schema, args.document, args.operation, { ...sizing, variables: args.variables ?? {} });
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
export function gatedExecute(gate: ExpensiveGate, sizing: ListSizing): (args: ExecutionArgs) => Promise<ExecutionResult> {
  return async (args) => {
    const operation = operationOf(args);
    let release: () => void = () => undefined;
    if (operation) {
      try {
        release = await admit(gate, args.contextValue as GraphQLContext, { schema: args.schema, document: args.document, operation, variables: args.variableValues }, sizing);
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
