// Original file: deps/envoy-api/envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto


export interface _envoy_extensions_filters_http_ext_proc_v3_MetadataOptions_MetadataNamespaces {
  'untyped'?: (string)[];
  'typed'?: (string)[];
}

export interface _envoy_extensions_filters_http_ext_proc_v3_MetadataOptions_MetadataNamespaces__Output {
  'untyped'?: (string)[];
  'typed'?: (string)[];
}

export interface MetadataOptions {
  'forwarding_namespaces'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions_MetadataNamespaces | null);
  'receiving_namespaces'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions_MetadataNamespaces | null);
}

export interface MetadataOptions__Output {
  'forwarding_namespaces'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions_MetadataNamespaces__Output);
  'receiving_namespaces'?: (_envoy_extensions_filters_http_ext_proc_v3_MetadataOptions_MetadataNamespaces__Output);
}
