// The built-in model runtime as a process: `node dist/runtime/server.js` (built) or `node --import tsx runtime/server.ts`, configured
// by the environment (see config.ts). It listens first so /health answers during a slow
// load, loads the model, then reports ready; a model that cannot load ends the process
// with code 1 and a log line saying why, which the orchestrator reports as the failure.
// HTTP (MLflow, OIP REST) and gRPC (OIP) share the one port (listener.ts).
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { readSignatureFile } from './signature.ts';
import { readRuntimeConfig } from './config.ts';
import { createOipGrpcServer } from './grpc.ts';
import { createRuntimeApp } from './http.ts';
import { listenFront } from './listener.ts';
import { createRuntimeMetrics } from './metrics.ts';
import { loadModel } from './model.ts';

const log = pino({ name: 'sluice-runtime', level: process.env.LOG_LEVEL || 'info' });

async function main(): Promise<void> {
  const config = readRuntimeConfig();
  const metrics = createRuntimeMetrics({ model: config.modelName, version: config.modelVersion });
  const app = createRuntimeApp({
    metrics,
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    maxRows: config.maxRows,
    modelName: config.modelName,
    modelVersion: config.modelVersion,
  });

  const grpcServer = createOipGrpcServer({
    served: { name: config.modelName, version: config.modelVersion },
    model: () => app.model,
    maxRows: config.maxRows,
    maxMessageBytes: config.bodyLimitBytes,
    metrics,
    log,
  });
  // On loopback: reached through the front listener's port (and on SLUICE_GRPC_PORT directly when set)
  const bind = (address: string) =>
    new Promise<number>((resolve, reject) => grpcServer.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const grpcPort = await bind('127.0.0.1:0');
  if (config.grpcPort > 0) log.info({ host: config.host, port: await bind(`${config.host}:${config.grpcPort}`) }, 'OIP gRPC listening on its own port');
  const front = await listenFront(app.server, grpcPort, config.port, config.host);
  const port = front.port;
  log.info({ host: config.host, port }, 'runtime listening');

  const signature = await readSignatureFile(config.signaturePath);
  const model = await loadModel(config.modelPath, signature, {
    useGpu: config.useGpu,
    intraOpThreads: config.intraOpThreads,
    log: (message) => log.warn(message),
  });
  app.setModel(model);
  log.info(
    { model: config.modelName, version: config.modelVersion, path: config.modelPath, executionProvider: model.executionProvider, columns: signature.inputs.length },
    'model loaded; ready',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing in-flight requests');
    // In-flight requests finish. The front listener owns every accepted socket: it closes
    // idle keep-alive sockets at once and busy ones as their last answer is sent, and
    // resolves once the last one has.
    void front.close().then(() => model.close().finally(() => process.exit(0)));
    grpcServer.tryShutdown(() => {});
    setTimeout(() => {
      log.warn('in-flight requests did not finish in 10 s; exiting');
      process.exit(0);
    }, 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const code = (err as { code?: unknown }).code;
  log.fatal({ code, err: (err as Error).message }, 'runtime failed to start');
  process.exit(1);
});
