// Original file: deps/envoy-api/envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto

import type { ListStringMatcher as _envoy_type_matcher_v3_ListStringMatcher, ListStringMatcher__Output as _envoy_type_matcher_v3_ListStringMatcher__Output } from '../../../../../../envoy/type/matcher/v3/ListStringMatcher.ts';

export interface HeaderForwardingRules {
  'allowed_headers'?: (_envoy_type_matcher_v3_ListStringMatcher | null);
  'disallowed_headers'?: (_envoy_type_matcher_v3_ListStringMatcher | null);
}

export interface HeaderForwardingRules__Output {
  'allowed_headers'?: (_envoy_type_matcher_v3_ListStringMatcher__Output);
  'disallowed_headers'?: (_envoy_type_matcher_v3_ListStringMatcher__Output);
}
