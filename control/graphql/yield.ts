// Keeps GraphQL execution from monopolizing the control plane's event loop. The embedded
// database (better-sqlite3) answers synchronously, so a large operation's resolvers run as
// one unbroken chain of microtasks: nothing else on the loop — /healthz, other callers, the
// xDS server — gets a turn until it ends (measured: the worst allowed query held the loop
// for hundreds of ms; four of them in a loop put /healthz p99 at 2.3 s). Every resolver is
// wrapped: when the loop has been held for more than `sliceMs` since its last turn, the
// resolver first waits for one macrotask turn (setImmediate), so I/O callbacks — a /healthz
// request among them — run between resolver batches. Below the slice, a resolver is called
// directly: no promise, no cost beyond reading the clock.
import { performance } from 'node:perf_hooks';
import { defaultFieldResolver, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';

export const DEFAULT_SLICE_MS = 5;

const wrapped = new WeakSet<GraphQLSchema>();

/** Shared by every operation of the process: when the loop last had a turn. */
let lastTurn = performance.now();
let pending: Promise<void> | null = null;

/**
 * The loop's next macrotask turn (check phase, after pending I/O callbacks ran), one promise
 * shared by every waiter; when it comes, the clock of the slice starts again.
 */
function nextTurn(): Promise<void> {
  pending ??= new Promise((resolve) => setImmediate(() => {
    pending = null;
    lastTurn = performance.now();
    resolve();
  }));
  return pending;
}

/** Wraps the resolvers of `schema` in place (once per schema object) so execution yields every `sliceMs`. */
export function yieldingExecution(schema: GraphQLSchema, sliceMs: number = DEFAULT_SLICE_MS): GraphQLSchema {
  if (wrapped.has(schema)) return schema;
  wrapped.add(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      // waiters woken by one turn re-check the slice: a batch that used it up waits again
      const call = (source: unknown, args: Record<string, unknown>, context: unknown, info: Parameters<GraphQLFieldResolver<unknown, unknown>>[3]): unknown => {
        if (performance.now() - lastTurn < sliceMs) return resolve(source, args, context, info);
        return nextTurn().then(() => call(source, args, context, info));
      };
      field.resolve = (source, args, context, info) => {
        void nextTurn(); // notes when the loop is free again
        return call(source, args, context, info);
      };
    }
  }
  return schema;
}
