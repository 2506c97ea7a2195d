// The shape of almost every mutation resolver: call the domain (which validates, writes,
// audits and notifies), then re-read the row it changed with the client's selection, so
// Pothos' Prisma plugin can resolve the nested fields the mutation asked for in one query.

/** A Prisma model delegate, as far as re-reading one row by id goes. */
export interface RowReader<Q, R> {
  findUniqueOrThrow(args: Q & { where: { id: string } }): PromiseLike<R>;
}

/**
 * Awaits the domain call, then reads the row `id` names (or the id the call's result
 * names: a create) from `table` with the client's `query` (Pothos' select/include).
 */
export async function reselect<T, Q extends object, R>(
  change: Promise<T>,
  table: RowReader<Q, R>,
  query: Q,
  id: string | ((result: T) => string),
): Promise<R> {
  const result = await change;
  return table.findUniqueOrThrow({ ...query, where: { id: typeof id === 'function' ? id(result) : id } });
}

/** The id of a created row, for `reselect`'s last argument. */
export const idOf = (row: { id: string }) => row.id;
