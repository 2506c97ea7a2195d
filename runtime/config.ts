// The runtime's settings, read from the environment in one place. This is the fixed
// contract between the orchestrator (which spawns `node dist/runtime/server.js`, or the source under tsx)
// and the runtime: PORT, HOST, SLUICE_MODEL_PATH, SLUICE_MODEL_SIGNATURE,
// SLUICE_MODEL_NAME, SLUICE_MODEL_VERSION, SLUICE_MODEL_FORMAT (onnx), SLUICE_USE_GPU,
// plus optional limits and SLUICE_GRPC_PORT (a dedicated port for OIP gRPC besides PORT).
import { DEFAULT_MAX_ROWS } from './scoring.ts';

export interface RuntimeConfig {
  host: string;
  port: number;
  modelPath: string;
  signaturePath: string;
  modelName: string;
  modelVersion: string;
  modelFormat: string;
  useGpu: boolean;
  bodyLimitBytes: number;
  maxRows: number;
  intraOpThreads: number;
  logLevel: string;
  /** 0: OIP gRPC only on PORT (h2c spliced to a loopback gRPC server); else also its own port */
  grpcPort: number;
}

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} must be set`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return value;
}

export function readRuntimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const modelFormat = (env.SLUICE_MODEL_FORMAT || 'onnx').toLowerCase();
  if (modelFormat !== 'onnx') throw new ConfigError(`SLUICE_MODEL_FORMAT is "${modelFormat}"; the built-in runtime serves onnx models`);
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8080, 0, 65535),
    modelPath: required(env, 'SLUICE_MODEL_PATH'),
    signaturePath: required(env, 'SLUICE_MODEL_SIGNATURE'),
    modelName: env.SLUICE_MODEL_NAME || 'model',
    modelVersion: env.SLUICE_MODEL_VERSION || '1',
    modelFormat,
    useGpu: env.SLUICE_USE_GPU === '1' || env.SLUICE_USE_GPU === 'true',
    bodyLimitBytes: integer(env, 'SLUICE_BODY_LIMIT_BYTES', DEFAULT_BODY_LIMIT, 1024, 1024 * 1024 * 1024),
    maxRows: integer(env, 'SLUICE_MAX_ROWS', DEFAULT_MAX_ROWS, 1, 10_000_000),
    intraOpThreads: integer(env, 'SLUICE_INTRA_OP_THREADS', 1, 1, 256),
    logLevel: env.LOG_LEVEL || 'info',
    grpcPort: integer(env, 'SLUICE_GRPC_PORT', 0, 0, 65535),
  };
}
