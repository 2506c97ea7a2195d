// One cell against one signature column: the value MLflow's schema enforcement would pass
// to the model, cast where MLflow casts it (a number sent as a string to a numeric column,
// "true"/"false" to a boolean one, a number to a string one), or an
// INVALID_PARAMETER_VALUE error naming column and row. Shared by every input format of
// both protocols, so a cell is judged the same whichever way it arrived.
import type { SignatureColumn } from '../model-signature.ts';
import { protocolError } from './errors.ts';

export type Cell = number | string | boolean;
export type ColumnType = SignatureColumn['type'];

const INT32_MAX = 2 ** 31 - 1;
// what pandas' to_numeric / astype(float) read: decimal, exponent, inf, nan are not taken
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const EXPECTED: Record<ColumnType, string> = {
  double: 'a number',
  float: 'a number',
  int: 'a 32-bit integer',
  long: 'an integer',
  string: 'a string',
  boolean: 'true or false',
};

export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'a missing value (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

export function badCell(name: string, type: ColumnType, row: number, value: unknown) {
  return protocolError('INVALID_PARAMETER_VALUE', `column "${name}" row ${row}: expected ${EXPECTED[type]} (${type}), got ${describe(value)}`, {
    column: name,
    row,
  });
}

function numberOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') {
    const t = value.trim();
    return NUMERIC.test(t) ? Number(t) : null;
  }
  return null;
}

/** The cell as the column's type, or undefined when it cannot be one. */
export function castCell(type: ColumnType, value: unknown): Cell | undefined {
  switch (type) {
    case 'double':
    case 'float':
      return typeof value === 'number' ? value : (numberOf(value) ?? undefined);
    case 'int':
    case 'long': {
      const n = numberOf(value);
      if (n === null || !Number.isInteger(n)) return undefined;
      return (type === 'int' ? Math.abs(n) <= INT32_MAX : Number.isSafeInteger(n)) ? n : undefined;
    }
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        const t = value.trim().toLowerCase();
        if (t === 'true') return true;
        if (t === 'false') return false;
      }
      return undefined;
  }
}
