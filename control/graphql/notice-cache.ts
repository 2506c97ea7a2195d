// One database read per change notice, however many subscribers it reaches: subscribers
// of a topic share the decoded notice object, so the row read for it (per selection) is
// memoised on that object and dropped with it.
const reads = new WeakMap<object, Map<string, Promise<unknown>>>();

export function readOncePerNotice<T>(notice: object, key: string, read: () => Promise<T>): Promise<T> {
  let byKey = reads.get(notice);
  if (!byKey) {
    byKey = new Map();
    reads.set(notice, byKey);
  }
  let pending = byKey.get(key) as Promise<T> | undefined;
  if (!pending) {
    pending = read();
    byKey.set(key, pending);
  }
  return pending;
}
