// Original file: deps/envoy-api/envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto

import type { ExtProcOverrides as _envoy_extensions_filters_http_ext_proc_v3_ExtProcOverrides, ExtProcOverrides__Output as _envoy_extensions_filters_http_ext_proc_v3_ExtProcOverrides__Output } from '../../../../../../envoy/extensions/filters/http/ext_proc/v3/ExtProcOverrides.ts';

export interface ExtProcPerRoute {
  'disabled'?: (boolean);
  'overrides'?: (_envoy_extensions_filters_http_ext_proc_v3_ExtProcOverrides | null);
  'override'?: "disabled"|"overrides";
}

export interface ExtProcPerRoute__Output {
  'disabled'?: (boolean);
  'overrides'?: (_envoy_extensions_filters_http_ext_proc_v3_ExtProcOverrides__Output);
  'override'?: "disabled"|"overrides";
}
