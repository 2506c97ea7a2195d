// Keyset paging for the plain list fields (`serviceGroups`, `apiKeys`, a model's versions):
// the next page starts after a row the caller names (`after: <id of the last row it got>`)
// instead of after a count of rows (`skip`), so rows created or deleted meanwhile neither
// repeat nor go missing between pages. Rows are ordered by creation time, ties by id.
import { SluiceError } from '../../platform/errors.ts';

export interface KeysetRow {
  id: string;
  createdAt: Date;
}

/** The caller's cursor row, or a stable error when it names no row the caller can page from. */
export function cursorRow<T extends KeysetRow>(row: T | null, argument: string): T {
  if (!row) throw new SluiceError('BAD_USER_INPUT', `\`${argument}\` names no row of this list (deleted, or never in it): read again from the first page`, { reason: 'CURSOR_NOT_FOUND' });
  return row;
}

/** Rows strictly past `row` in (createdAt, id) order, ascending or descending. */
export function pastRow(row: KeysetRow, direction: 'asc' | 'desc'): { OR: ({ createdAt: { gt: Date } | { lt: Date } } | { createdAt: Date; id: { gt: string } | { lt: string } })[] } {
  return direction === 'asc'
    ? { OR: [{ createdAt: { gt: row.createdAt } }, { createdAt: row.createdAt, id: { gt: row.id } }] }
    : { OR: [{ createdAt: { lt: row.createdAt } }, { createdAt: row.createdAt, id: { lt: row.id } }] };
}
