// The attack behind the /healthz figure: a large (but allowed) operation whose resolvers all
// answer synchronously — as the embedded SQLite does — runs as one unbroken microtask chain
// and holds the control plane's event loop until it ends. Wrapped by yieldingExecution, the
// same operation lets the loop take turns (I/O callbacks, /healthz among them) between
// resolver batches. Counted in loop turns, not timed.
import { describe, expect, it } from 'vitest';
import { GraphQLInt, GraphQLList, GraphQLObjectType, GraphQLSchema, execute, parse } from 'graphql';
import { yieldingExecution } from '../../control/graphql/yield.ts';

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
});
