// readRuntimeConfig: the orchestrator → runtime environment contract, defaults and refusals.
import { describe, expect, it } from 'vitest';
import { ConfigError, readRuntimeConfig } from '../../runtime/config.ts';

const base = { SLUICE_MODEL_PATH: '/m/model.onnx', SLUICE_MODEL_SIGNATURE: '/m/signature.json' };

describe('readRuntimeConfig', () => {
  it('defaults', () => {
    expect(readRuntimeConfig({ ...base })).toEqual({
      host: '127.0.0.1',
      port: 8080,
      modelPath: '/m/model.onnx',
      signaturePath: '/m/signature.json',
      modelName: 'model',
      modelVersion: '1',
      modelFormat: 'onnx',
      useGpu: false,
      bodyLimitBytes: 10 * 1024 * 1024,
      maxRows: 100_000,
      intraOpThreads: 1,
      logLevel: 'info',
      grpcPort: 0,
    });
  });

  it('reads every setting', () => {
    const config = readRuntimeConfig({
      ...base,
      PORT: '9001',
      HOST: '0.0.0.0',
      SLUICE_MODEL_NAME: 'wine-classifier',
      SLUICE_MODEL_VERSION: '2',
      SLUICE_MODEL_FORMAT: 'ONNX',
      SLUICE_USE_GPU: '1',
      SLUICE_BODY_LIMIT_BYTES: '2048',
      SLUICE_MAX_ROWS: '64',
      SLUICE_INTRA_OP_THREADS: '2',
    });
    expect(config).toMatchObject({ host: '0.0.0.0', port: 9001, modelName: 'wine-classifier', modelVersion: '2', useGpu: true, bodyLimitBytes: 2048, maxRows: 64, intraOpThreads: 2 });
  });

  it('refuses what it cannot run with', () => {
    expect(() => readRuntimeConfig({ SLUICE_MODEL_SIGNATURE: 'x' })).toThrow(/SLUICE_MODEL_PATH must be set/);
    expect(() => readRuntimeConfig({ SLUICE_MODEL_PATH: 'x' })).toThrow(/SLUICE_MODEL_SIGNATURE must be set/);
    expect(() => readRuntimeConfig({ ...base, PORT: 'http' })).toThrow(ConfigError);
    expect(() => readRuntimeConfig({ ...base, PORT: '70000' })).toThrow(/PORT must be an integer/);
    expect(() => readRuntimeConfig({ ...base, SLUICE_MAX_ROWS: '0' })).toThrow(/SLUICE_MAX_ROWS/);
    expect(() => readRuntimeConfig({ ...base, SLUICE_MODEL_FORMAT: 'pytorch' })).toThrow(/serves onnx models/);
  });
});
