// Time windows of the Operations queries (metrics, logSearch): a named range (LAST_1H ...
// LAST_15D) or a custom from/to, checked once here so both queries refuse the same bad input.
import { badInput } from '../../platform/errors.ts';

export type TimeRangeName = 'LAST_1H' | 'LAST_24H' | 'LAST_7D' | 'LAST_15D';

export const RANGE_MS: Record<TimeRangeName, number> = {
  LAST_1H: 3_600_000,
  LAST_24H: 86_400_000,
  LAST_7D: 7 * 86_400_000,
  LAST_15D: 15 * 86_400_000,
};

export interface WindowInput {
  range?: TimeRangeName | null;
  from?: Date | null;
  to?: Date | null;
}

/** [fromMs, toMs]; `fallback` applies when neither a range nor `from` is given. */
export function resolveWindow(input: WindowInput, nowMs: number, fallback: TimeRangeName): { fromMs: number; toMs: number } {
  if (input.range && (input.from || input.to)) throw badInput('give either `range` or `from`/`to`, not both', { reason: 'BAD_TIME_WINDOW' });
  const toMs = input.to ? input.to.getTime() : nowMs;
  const fromMs = input.from ? input.from.getTime() : toMs - RANGE_MS[input.range ?? fallback];
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) throw badInput('`from` and `to` must be valid times', { reason: 'BAD_TIME_WINDOW' });
  if (toMs < fromMs) throw badInput('`to` is before `from`', { reason: 'BAD_TIME_WINDOW' });
  return { fromMs, toMs };
}
