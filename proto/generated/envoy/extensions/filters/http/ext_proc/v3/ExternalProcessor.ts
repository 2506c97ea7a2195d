// Original file: deps/envoy-api/envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto

import type { GrpcService as _envoy_config_core_v3_GrpcService, GrpcService__Output as _envoy_config_core_v3_GrpcService__Output } from '../../../../../../envoy/config/core/v3/GrpcService.ts';
import type { ProcessingMode as _envoy_extensions_filters_http_ext_proc_v3_ProcessingMode, ProcessingMode__Output as _envoy_extensions_filters_http_ext_proc_v3_ProcessingMode__Output } from '../../../../../../envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.ts';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../../../../../google/protobuf/Duration.ts';
import type { HeaderMutationRules as _envoy_config_common_mutation_rules_v3_HeaderMutationRules, HeaderMutationRules__Output as _envoy_config_common_mutation_rules_v3_HeaderMutationRules__Output } from '../../../../../../envoy/config/common/mutation_rules/v3/HeaderMutationRules.ts';
import type { HeaderForwardingRules as _envoy_extensions_filters_http_ext_proc_v3_HeaderForwardingRules, HeaderForwardingRules__Output as _envoy_extensions_filters_http_ext_proc_v3_HeaderForwardingRules__Output } from '../../../../../../envoy/extensions/filters/http/ext_proc/v3/HeaderForwardingRules.ts';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../../../../../google/protobuf/Struct.ts';
import type { MetadataOptions as _envoy_extensions_filters_http_ext_proc_v3_MetadataOptions, MetadataOptions__Output as _envoy_extensions_filters_http_ext_proc_v3_MetadataOptions__Output } from '../../../../../../envoy/extensions/filters/http/ext_proc/v3/MetadataOptions.ts';

// Original file: /work/main/node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto

export const _envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction = {
  DEFAULT: 'DEFAULT',
  CLEAR: 'CLEAR',
  RETAIN: 'RETAIN',
} as const;

export type _envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction =
  | 'DEFAULT'
  | 0
  | 'CLEAR'
  | 1
  | 'RETAIN'
  | 2

export type _envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction__Output = typeof _envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction[keyof typeof _envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction]

export interface ExternalProcessor {
  'grpc_service'?: (_envoy_config_core_v3_GrpcService | null);
  'failure_mode_allow'?: (boolean);
  'processing_mode'?: (_envoy_extensions_filters_http_ext_proc_v3_ProcessingMode | null);
  'request_attributes'?: (string)[];
  'response_attributes'?: (string)[];
  'message_timeout'?: (_google_protobuf_Duration | null);
  'stat_prefix'?: (string);
  'mutation_rules'?: (_envoy_config_common_mutation_rules_v3_HeaderMutationRules | null);
  'max_message_timeout'?: (_google_protobuf_Duration | null);
  'disable_clear_route_cache'?: (boolean);
  'forward_rules'?: (_envoy_extensions_filters_http_ext_proc_v3_HeaderForwardingRules | null);
  'filter_metadata'?: (_google_protobuf_Struct | null);
  'allow_mode_override'?: (boolean);
  'disable_immediate_response'?: (boolean);
  'metadata_options'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions | null);
  'observability_mode'?: (boolean);
  'route_cache_action'?: (_envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction);
  'deferred_close_timeout'?: (_google_protobuf_Duration | null);
}

export interface ExternalProcessor__Output {
  'grpc_service'?: (_envoy_config_core_v3_GrpcService__Output);
  'failure_mode_allow'?: (boolean);
  'processing_mode'?: (_envoy_extensions_filters_http_ext_proc_v3_ProcessingMode__Output);
  'request_attributes'?: (string)[];
  'response_attributes'?: (string)[];
  'message_timeout'?: (_google_protobuf_Duration__Output);
  'stat_prefix'?: (string);
  'mutation_rules'?: (_envoy_config_common_mutation_rules_v3_HeaderMutationRules__Output);
  'max_message_timeout'?: (_google_protobuf_Duration__Output);
  'disable_clear_route_cache'?: (boolean);
  'forward_rules'?: (_envoy_extensions_filters_http_ext_proc_v3_HeaderForwardingRules__Output);
  'filter_metadata'?: (_google_protobuf_Struct__Output);
  'allow_mode_override'?: (boolean);
  'disable_immediate_response'?: (boolean);
  'metadata_options'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions__Output);
  'observability_mode'?: (boolean);
  'route_cache_action'?: (_envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor_RouteCacheAction__Output);
  'deferred_close_timeout'?: (_google_protobuf_Duration__Output);
}
