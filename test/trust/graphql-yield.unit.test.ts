// The attack behind the /healthz figure: a large (but allowed) operation whose resolvers all
// answer synchronously — as the embedded SQLite does — runs as one unbroken microtask chain
// and holds the control plane's event loop until it ends. Wrapped by yieldingExecution, the
// same operation lets the loop take turns (I/O callbacks, /healthz among them) between
// resolver batches. Counted in loop turns, not timed.
import { describe, expect, it } from 'vitest';
import { GraphQLInt, GraphQLList, GraphQLObjectType, GraphQLScalarType, GraphQLSchema, execute, parse } from 'graphql';
import { YIELD_ALONE, yieldingExecution } from '../../control/graphql/yield.ts';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a synchronous database read */ }
}

function schemaOf(): GraphQLSchema {
  const Item = new GraphQLObjectType({
    name: 'Item',
    fields: { n: { type: GraphQLInt, resolve: async (n: number) => { busy(0.2); return n; } } },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: { items: { type: new GraphQLList(Item), resolve: async () => Array.from({ length: 300 }, (_, i) => i) } },
    }),
  });
}

/** Runs the operation and counts the macrotask turns the loop took meanwhile. */
async function turnsDuring(schema: GraphQLSchema): Promise<{ turns: number; items: number }> {
  let turns = 0;
  let running = true;
  const tick = () => { if (running) { turns++; setImmediate(tick); } };
  setImmediate(tick);
  const result = await execute({ schema, document: parse('{ items { n } }') });
  running = false;
  return { turns, items: (result.data?.items as unknown[] | undefined)?.length ?? 0 };
}

describe('GraphQL execution and the event loop', () => {
  it('without yielding, a synchronous 60 ms operation holds the loop throughout', async () => {
    const { turns, items } = await turnsDuring(schemaOf());
    expect(items).toBe(300);
    expect(turns).toBe(0);
  });

  it('with yieldingExecution, the loop takes turns between resolver batches and the answer is the same', async () => {
    const schema = yieldingExecution(schemaOf(), 5);
    const { turns, items } = await turnsDuring(schema);
    expect(items).toBe(300);
    // 300 × 0.2 ms of synchronous work in 5 ms slices: about a dozen turns
    expect(turns).toBeGreaterThanOrEqual(5);
    // wrapping twice is a no-op
    expect(yieldingExecution(schema, 5)).toBe(schema);
  });

  it('completes each YIELD_ALONE field in a loop turn of its own, nothing else beside it', async () => {
    // five metric-like series of 400 points; a point's completion (its scalar) costs 0.05 ms,
    // so one series is a 20 ms synchronous stretch graphql-js runs after `points` returns
    let turn = 0;
    const seen: [series: number, turn: number][] = [];
    const Slow = new GraphQLScalarType({ name: 'Slow', serialize: (v) => { busy(0.05); seen.push([v as number, turn]); return v; } });
    const schemaWith = (alone: boolean) => {
      const Point = new GraphQLObjectType({ name: 'Point', fields: { v: { type: Slow } } });
      const Series = new GraphQLObjectType({
        name: 'Series',
        fields: {
          id: { type: GraphQLInt, resolve: (s: number) => s },
          points: { type: new GraphQLList(Point), extensions: alone ? { [YIELD_ALONE]: true } : {}, resolve: (s: number) => Array.from({ length: 400 }, () => ({ v: s })) },
        },
      });
      return yieldingExecution(new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { series: { type: new GraphQLList(Series), resolve: () => [0, 1, 2, 3, 4] } } }) }), 5);
    };
    const turnsPerSeries = async (alone: boolean) => {
      seen.length = 0;
      let running = true;
      const tick = () => { if (running) { turn++; setImmediate(tick); } };
      setImmediate(tick);
      const result = await execute({ schema: schemaWith(alone), document: parse('{ series { id points { v } } }') });
      running = false;
      expect((result.data?.series as unknown[]).length).toBe(5);
      expect(seen).toHaveLength(5 * 400);
      const turnsOf = new Map<number, Set<number>>();
      for (const [series, t] of seen) turnsOf.set(series, (turnsOf.get(series) ?? new Set()).add(t));
      return { turnsOf, distinct: new Set(seen.map(([, t]) => t)).size };
    };
    const alone = await turnsPerSeries(true);
    // every series completes within one turn, and no two share a turn: the loop runs between them
    for (const turns of alone.turnsOf.values()) expect(turns.size).toBe(1);
    expect(alone.distinct).toBe(5);
    // without the mark, series released in the same turn complete back to back
    const together = await turnsPerSeries(false);
    expect(together.distinct).toBeLessThan(5);
  });
});
