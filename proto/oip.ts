// The Open Inference Protocol's gRPC API (proto/grpc_predict_v2.proto), loaded with
// @grpc/proto-loader for the runtime's service and for clients (tests, benchmarks). The
// message types below are the loader's plain objects for the options used here (keepCase,
// int64 as Number, bytes as Buffer): hand-written because they are few and stable.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../platform/paths.ts';

// from the package root, not this module's URL: the build bundles this module into dist/
export const OIP_PROTO_PATH = join(repoRoot, 'proto', 'grpc_predict_v2.proto');
export const OIP_SERVICE_NAME = 'inference.GRPCInferenceService';
/** the gRPC path prefix every OIP call shares (`/inference.GRPCInferenceService/ModelInfer`, ...) */
export { OIP_GRPC_PATH_PREFIX } from '../xds/contract.ts';

export interface InferParameter {
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
  parameter_choice?: string;
}

export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface GrpcTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, InferParameter>;
  contents?: InferTensorContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, InferParameter>;
  inputs: GrpcTensor[];
  outputs: { name: string; parameters?: Record<string, InferParameter> }[];
  raw_input_contents: Buffer[];
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, InferParameter>;
  outputs: GrpcTensor[];
  raw_output_contents: Buffer[];
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };

let cached: grpc.GrpcObject | undefined;

/** The loaded package (once per process). */
export function loadOip(): grpc.GrpcObject {
  cached ??= grpc.loadPackageDefinition(protoLoader.loadSync(OIP_PROTO_PATH, LOADER_OPTIONS));
  return cached;
}

type ServiceCtor = grpc.ServiceClientConstructor;

/** `inference.GRPCInferenceService`: its definition (for a server) and client constructor. */
export function oipService(): ServiceCtor {
  const inference = loadOip().inference as grpc.GrpcObject;
  return inference.GRPCInferenceService as ServiceCtor;
}
