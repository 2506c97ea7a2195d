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
import { isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';

export const DEFAULT_SLICE_MS = 5;

const wrapped = new WeakSet<GraphQLSchema>();

/** Shared by every operation of the process: when the loop last had a turn. */
let lastTurn = performance.now();
let turnScheduled = false;
/**
 * Resolvers waiting for a turn, first come first served. Each is released exactly once: an
 * earlier version woke every waiter on each turn and let them re-check the slice, so a list
 * of N items cost N wake-ups per turn — quadratic (a 7-day, one-minute metrics query, 100 000
 * points, held the control plane for minutes).
 */
const waiting: (() => void)[] = [];
let nextWaiting = 0;

function scheduleTurn(): void {
  if (turnScheduled) return;
  turnScheduled = true;
  setImmediate(takeTurn);
}

/**
 * A macrotask turn (check phase, after pending I/O callbacks ran): the slice starts again and
 * waiting resolvers run in order until it is used up; the rest wait for the next turn. What
 * they start (their children's resolvers) runs in the microtasks after, and waits in turn once
 * the slice is over.
 */
function takeTurn(): void {
  turnScheduled = false;
  lastTurn = performance.now();
  while (nextWaiting < waiting.length) {
    const run = waiting[nextWaiting]!;
    waiting[nextWaiting++] = noop;
    run();
    if (performance.now() - lastTurn >= sliceOfTurn) break;
  }
  if (nextWaiting >= waiting.length) {
    waiting.length = 0;
    nextWaiting = 0;
  } else {
    if (nextWaiting > 4096) {
      waiting.splice(0, nextWaiting);
      nextWaiting = 0;
    }
    scheduleTurn();
  }
}

const noop = () => undefined;
/** the slice of the schema wrapped last (one per process in practice: the control plane's) */
let sliceOfTurn = DEFAULT_SLICE_MS;

/** Wraps the resolvers of `schema` in place (once per schema object) so execution yields every `sliceMs`. */
export function yieldingExecution(schema: GraphQLSchema, sliceMs: number = DEFAULT_SLICE_MS): GraphQLSchema {
  if (wrapped.has(schema)) return schema;
  wrapped.add(schema);
  sliceOfTurn = sliceMs;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      // A field without a resolver of its own reads a property of its parent: no database, no
      // work worth a turn — and wrapping every leaf gave each point of a long metrics series a
      // promise of its own (most of that query's time went to the garbage collector).
      if (!field.resolve) continue;
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve;
      field.resolve = (source, args, context, info) => {
        scheduleTurn(); // notes when the loop is free again
        if (performance.now() - lastTurn < sliceMs) return resolve(source, args, context, info);
        return new Promise<unknown>((settle, fail) => {
          waiting.push(() => {
            try {
              settle(resolve(source, args, context, info));
            } catch (error) {
              fail(error);
            }
          });
        });
      };
    }
  }
  return schema;
}
