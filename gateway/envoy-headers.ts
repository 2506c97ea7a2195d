// Reading a header off an Envoy HeaderValue, shared by the ext_authz and ext_proc adapters.
import type { HeaderValue__Output } from '../proto/generated/envoy/config/core/v3/HeaderValue.ts';

/** A header's text: newer Envoys send raw_value (bytes) and leave value empty. */
export function headerValueOf(h: HeaderValue__Output): string {
  if (h.value) return h.value;
  return h.raw_value ? Buffer.from(h.raw_value).toString('utf8') : '';
}
