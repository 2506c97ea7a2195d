// Loads the four Envoy service protos the gateway serves (ext_authz, rate limit, ext_proc,
// access log) from the Envoy API copy that @grpc/grpc-js-xds ships, and types them with the
// proto-loader-gen-types output in gateway/generated/ (regenerate: `npm run gateway:gen-types`).
// The options here must match the generator flags: keepCase, longs/enums as String,
// defaults, oneofs.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AlsProto } from './generated/als.ts';
import type { ProtoGrpcType as AuthProto } from './generated/external_auth.ts';
import type { ProtoGrpcType as ExtProcProto } from './generated/external_processor.ts';
import type { ProtoGrpcType as RlsProto } from './generated/rls.ts';

export const GATEWAY_PROTO_FILES = [
  'envoy/service/auth/v3/external_auth.proto',
  'envoy/service/ratelimit/v3/rls.proto',
  'envoy/service/ext_proc/v3/external_processor.proto',
  'envoy/service/accesslog/v3/als.proto',
] as const;

export const GATEWAY_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export function envoyProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const xdsRoot = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const deps = path.join(xdsRoot, 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d));
}

export type GatewayProtos = AuthProto & RlsProto & ExtProcProto & AlsProto;

let cached: GatewayProtos | undefined;

/** Parsed once per process (about 0.2 s); every later call returns the same object. */
export function loadGatewayProtos(): GatewayProtos {
  if (!cached) {
    const def = protoLoader.loadSync([...GATEWAY_PROTO_FILES], {
      ...GATEWAY_LOADER_OPTIONS,
      includeDirs: envoyProtoIncludeDirs(),
    });
    cached = grpc.loadPackageDefinition(def) as unknown as GatewayProtos;
  }
  return cached;
}
