// Original file: deps/envoy-api/envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto

import type { ProcessingMode as _envoy_extensions_filters_http_ext_proc_v3_ProcessingMode, ProcessingMode__Output as _envoy_extensions_filters_http_ext_proc_v3_ProcessingMode__Output } from '../../../../../../envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.ts';
import type { GrpcService as _envoy_config_core_v3_GrpcService, GrpcService__Output as _envoy_config_core_v3_GrpcService__Output } from '../../../../../../envoy/config/core/v3/GrpcService.ts';
import type { MetadataOptions as _envoy_extensions_filters_http_ext_proc_v3_MetadataOptions, MetadataOptions__Output as _envoy_extensions_filters_http_ext_proc_v3_MetadataOptions__Output } from '../../../../../../envoy/extensions/filters/http/ext_proc/v3/MetadataOptions.ts';
import type { HeaderValue as _envoy_config_core_v3_HeaderValue, HeaderValue__Output as _envoy_config_core_v3_HeaderValue__Output } from '../../../../../../envoy/config/core/v3/HeaderValue.ts';

export interface ExtProcOverrides {
  'processing_mode'?: (_envoy_extensions_filters_http_ext_proc_v3_ProcessingMode | null);
  'async_mode'?: (boolean);
  'request_attributes'?: (string)[];
  'response_attributes'?: (string)[];
  'grpc_service'?: (_envoy_config_core_v3_GrpcService | null);
  'metadata_options'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions | null);
  'grpc_initial_metadata'?: (_envoy_config_core_v3_HeaderValue)[];
}

export interface ExtProcOverrides__Output {
  'processing_mode'?: (_envoy_extensions_filters_http_ext_proc_v3_ProcessingMode__Output);
  'async_mode'?: (boolean);
  'request_attributes'?: (string)[];
  'response_attributes'?: (string)[];
  'grpc_service'?: (_envoy_config_core_v3_GrpcService__Output);
  'metadata_options'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions__Output);
  'grpc_initial_metadata'?: (_envoy_config_core_v3_HeaderValue__Output)[];
}
