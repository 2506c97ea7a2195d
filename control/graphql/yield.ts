// Keeps GraphQL execution from monopolizing the control plane's event loop. The embedded
// database (better-sqlite3) answers synchronously, so a large operation's resolvers run as
// one unbroken chain of microtasks: nothing else on the loop — /healthz, other callers, the
// xDS server — gets a turn until it ends (measured: the worst allowed query held the loop
// for hundreds of ms; four of them in a loop put /healthz p99 at 2.3 s). Every resolver is
// wrapped: when the loop has been held for more than `sliceMs` since its last turn, the
// resolver first waits for one macrotask turn (setImmediate), so I/O callbacks — a /healthz
// request among them — run between resolver batches. Below the slice, a resolver is called
// directly: no promise, no cost beyond reading the clock.
//
// A field marked `extensions: { [YIELD_ALONE]: true }` is one whose completion alone holds the
// loop for a while (a metric series' thousands of points, completed by graphql-js in one
// synchronous stretch after its resolver returns): it always waits for a turn of its own, and
// nothing else is released in that turn — released together, the five series of one metrics
// query completed back to back in one ~190 ms stretch.
import { performance } from 'node:perf_hooks';
import { isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';

export const DEFAULT_SLICE_MS = 5;
/** The field extension that makes a field wait for a turn of its own (see above). */
export const YIELD_ALONE = 'sluiceYieldAlone';

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
const waiting: Waiter[] = [];
interface Waiter {
  run: () => void;
  alone: boolean;
}
let nextWaiting = 0;

function scheduleTurn(): void {
  if (turnScheduled) return;
  turnScheduled = true;
  setImmediate(takeTurn);
}

/**
 * How many waiting resolvers one turn releases. Releasing is cheap, but what each released
 * resolver starts — completing its value, its children — runs in the microtasks after the
 * turn, out of sight of the clock: a turn that released 5 ms worth of cheap resolvers started
 * a quarter of a second of completions. So the batch adapts to what the previous turn really
 * took, from its start to the next turn: halved when it overran twice the slice, doubled when
 * it stayed under it, whole again once no resolver waits.
 */
const FIRST_BATCH = 65_536;
let batch = FIRST_BATCH;
let busySince = 0;

/**
 * A macrotask turn (check phase, after pending I/O callbacks ran): the slice starts again and
 * up to `batch` waiting resolvers run, in order; the rest wait for the next turn.
 */
function takeTurn(): void {
  turnScheduled = false;
  const now = performance.now();
  if (busySince > 0) {
    const took = now - busySince;
    if (took > 2 * sliceOfTurn) batch = Math.max(1, batch >> 1);
    else if (took < sliceOfTurn) batch = Math.min(65_536, batch * 2);
  }
  lastTurn = now;
  let released = 0;
  while (nextWaiting < waiting.length && released < batch) {
    const next = waiting[nextWaiting]!;
    if (next.alone && released > 0) break; // its own turn, the next one
    waiting[nextWaiting++] = DONE;
    next.run();
    released++;
    if (next.alone || performance.now() - lastTurn >= sliceOfTurn) break;
  }
  if (nextWaiting >= waiting.length) {
    waiting.length = 0;
    nextWaiting = 0;
    busySince = 0;
    // A new burst starts whole: resolvers released in one turn share one tick, which is what
    // lets Prisma batch their lookups into one statement (a small batch left over from an
    // earlier heavy operation split a group list's lookups into 12 statements instead of 8).
    batch = FIRST_BATCH;
  } else {
    if (nextWaiting > 4096) {
      waiting.splice(0, nextWaiting);
      nextWaiting = 0;
    }
    busySince = now;
    scheduleTurn();
  }
}

const DONE: Waiter = { run: () => undefined, alone: false };
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
      // A field without a resolver of its own reads a property of its parent: no database,
      // nothing worth a turn. Wrapping those too gave each point of a long metrics series a
      // promise (and graphql-js a promise per point object): measured with four concurrent
      // 65,000-point queries, the garbage collector took half the CPU and held the loop up to
      // 1.2 s; unwrapped, a series' points complete in one synchronous stretch of ~10 ms and
      // the series around them still wait their turn.
      if (!field.resolve) continue;
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve;
      const alone = field.extensions[YIELD_ALONE] === true;
      field.resolve = (source, args, context, info) => {
        scheduleTurn(); // notes when the loop is free again
        if (!alone && performance.now() - lastTurn < sliceMs) return resolve(source, args, context, info);
        return new Promise<unknown>((settle, fail) => {
          waiting.push({
            alone,
            run: () => {
              try {
                settle(resolve(source, args, context, info));
              } catch (error) {
                fail(error);
              }
            },
          });
        });
      };
    }
  }
  return schema;
}
