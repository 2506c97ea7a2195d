// The built-in model runtime as a process: `node --import tsx runtime/server.ts`, configured
// by the environment (see config.ts). It listens first so /health answers during a slow
// load, loads the model, then reports ready; a model that cannot load ends the process
// with code 1 and a log line saying why, which the orchestrator reports as the failure.
import { pino } from 'pino';
import { readSignatureFile } from './signature.ts';
import { readRuntimeConfig } from './config.ts';
import { createRuntimeApp } from './http.ts';
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

  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(config.port, config.host, () => resolve());
  });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
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
    // In-flight requests finish; idle keep-alive sockets are closed so close() can return.
    app.server.close(() => {
      void model.close().finally(() => process.exit(0));
    });
    app.server.closeIdleConnections();
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
