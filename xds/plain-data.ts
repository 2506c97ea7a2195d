// Change detection for the data-plane model's plain data (objects, arrays, strings,
// numbers, booleans, null): translation keeps a copy of each group as it translated it and
// compares the next model's group with it, field by field, with no serialization. A model
// is rebuilt from the database per pass, or edited in place, so neither object identity
// nor a flag can say what changed; comparing costs a walk of the group and allocates nothing.
//
// Same meaning as comparing JSON.stringify outputs, less the key order: a member that is
// undefined counts as absent.

/** A deep copy of plain data, members that are undefined left out. */
export function plainClone<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => plainClone(v)) as T;
  const out: Record<string, unknown> = {};
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = plainClone(v);
  }
  return out as T;
}

/** Whether two plain values hold the same data. */
export function plainEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!plainEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    const v = x[k];
    if (v === undefined) continue;
    if (!plainEqual(v, y[k])) return false;
    n += 1;
  }
  for (const k in y) if (y[k] !== undefined) n -= 1;
  return n === 0;
}
