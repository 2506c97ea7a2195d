// Sticky A/B by caller: the version a request with the sticky header goes to, chosen the way
// Envoy chooses it for `WeightedCluster.use_hash_policy` with a header hash policy:
// xxHash64(header value, seed 0) mod the total weight, the clusters taken in route order
// ([0, w1) → first, [w1, w1+w2) → second, …). The same value therefore lands on the same
// version on every edge and every Envoy, across restarts, while the weights stay; and
// moving weight between neighbouring versions only moves the callers whose slot changed
// hands (80/20 → 60/40 moves slots 60–79 from v1 to v2 and nobody else).
//
// xxhash-wasm is the implementation @grpc/grpc-js-xds uses for the same hash; it loads
// its WebAssembly once, when this module is first imported.
import xxhash from 'xxhash-wasm';

const api = await xxhash();

/** The 64-bit hash Envoy's header hash policy computes for one header value. */
export function stickyHash(headerValue: string): bigint {
  return api.h64(headerValue, 0n);
}

/**
 * Index into `weights` (in route order) for a hash: Envoy's pickClusterIndex. -1 when
 * every weight is 0.
 */
export function stickyIndex(weights: readonly number[], hash: bigint): number {
  let total = 0;
  for (const w of weights) total += w;
  if (total <= 0) return -1;
  const slot = Number(hash % BigInt(total));
  let end = 0;
  for (let i = 0; i < weights.length; i++) {
    end += weights[i] as number;
    if (slot < end) return i;
  }
  return -1;
}

/** The header's value as one string (Node joins repeated headers with ", "); undefined when absent or empty. */
export function stickyValue(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header.join(',') : header;
  return v === undefined || v === '' ? undefined : v;
}
