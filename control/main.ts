// `npm start`: wires the whole product from the environment (platform/settings.ts) and runs it
// on this machine: database (migrated on start), pub/sub, orchestrator, the GraphQL control
// plane and dashboard, the xDS server, the Envoy plugin services, and the local edge. Each
// embedded-or-production choice is made here, once, by picking a constructor.
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../platform/paths.ts';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { pino } from 'pino';
import { runUntilSignalled } from '../platform/process.ts';
import { loadSettings, type Settings } from '../platform/settings.ts';
import { applyMigrations } from '../platform/db/migrate.ts';
import { openInfrastructure } from '../platform/infrastructure.ts';
import { openAuth } from './auth/index.ts';
import type { Orchestrator, VersionDeployment } from './orchestrator/port.ts';
import { cpus, totalmem } from 'node:os';
import { createLocalOrchestrator } from './orchestrator/local/index.ts';
import { createControlPlane } from './app.ts';
import { startControlServer } from './http/server.ts';
import { RegistryModelResolver } from './registry/resolver.ts';
import { ArtifactStore } from './registry/artifacts.ts';
import { ModelRegistry, MAX_UPLOAD_BYTES } from './registry/service.ts';
import { createMlflowModelSource } from './registry/mlflow-source.ts';
import { createMlflowClient } from './registry/mlflow.ts';
import { seedDemoModels } from './registry/demo.ts';
import { setUpDemo, DEMO_KEY_FILE } from './demo.ts';
import { loadDataPlaneModel } from './domain/data-plane.ts';
import { createXdsControl } from '../xds/publisher.ts';
import { xdsSettingsOf } from '../xds/settings.ts';
import { notifyProxyStatus, proxyStatusSource, publishProxyStatusChanges, feedDataPlaneChanges } from './proxy-status.ts';
import { startGatewayServer } from '../gateway/server.ts';
import { openDataPlanePolicies } from '../gateway/compose.ts';
import { recordEvent } from './domain/events.ts';
import { startEdge } from '../gateway/edge/server.ts';
import { waitForRoutes } from '../gateway/edge/ready.ts';
import { LogStore } from './logs/store.ts';
import { LogSearcher } from './logs/search.ts';
import { LogService } from './logs/service.ts';
import { LogDelivery } from './logs/delivery.ts';
import { MetricsScraper } from './monitoring/scraper.ts';
import { EmbeddedMetricsReader, type MetricsReader } from './monitoring/reader.ts';
import { createNvidiaSmiProbe } from './monitoring/gpu.ts';
import { PrometheusMetricsReader } from './monitoring/prometheus.ts';
import { InferenceScheduler } from './inference/scheduler.ts';
import { configureDuck } from './inference/duck.ts';

/** The start banner: plain lines for the person who ran `npm start`. */
function banner(message: string): void {
  process.stdout.write(`[sluice] ${message}\n`);
}

/** Operational logs: structured (pino), on stderr so the banner stays readable. */
let logger = pino({ name: 'sluice', level: 'info' }, pino.destination(2));

async function openOrchestrator(settings: Settings, logStore: LogStore): Promise<Orchestrator> {
  if (settings.orchestrator === 'kubernetes') {
    const { createKubernetesOrchestrator } = await import('./orchestrator/kubernetes/index.ts');
    return createKubernetesOrchestrator({
      namespace: settings.kubernetesNamespace,
      ...(settings.runtimeImage ? { runtimeImage: settings.runtimeImage } : {}),
      ...(settings.objectStoreUrl.startsWith('s3://') ? { objectStoreUri: settings.objectStoreUrl } : {}),
    });
  }
  // The shared pool of a developer machine: its memory, and its cores overcommitted four
  // times (model runtimes idle most of the time); requests beyond it get FailedScheduling.
  return createLocalOrchestrator({
    dataDir: settings.dataDir,
    logStore,
    capacity: { cpu: cpus().length * 4, memoryGiB: Math.floor(totalmem() / 2 ** 30), gpus: [] },
  });
}

/** What should run after a restart: versions that were running or on their way up. */
async function wantedDeployments(plane: Awaited<ReturnType<typeof createControlPlane>>): Promise<VersionDeployment[]> {
  const versions = await plane.prisma.serviceVersion.findMany({ where: { status: { in: ['RUNNING', 'STARTING'] } } });
  const wanted: VersionDeployment[] = [];
  for (const v of versions) wanted.push(await plane.domain.versions.deployment(v));
  return wanted;
}

export async function main(env: Record<string, string | undefined> = process.env): Promise<() => Promise<void>> {
  const settings = loadSettings(env);
  logger = pino({ name: 'sluice', level: settings.logLevel }, pino.destination(2));
  mkdirSync(settings.dataDir, { recursive: true });

  const migrated = await applyMigrations(settings.databaseUrl);
  if (migrated.applied.length > 0) logger.info({ migrations: migrated.applied }, 'database migrated');
  // the same factories as a stand-alone edge (gateway/edge/main.ts)
  const infra = await openInfrastructure(settings, {
    onPubSubError: (error) => logger.warn({ err: error }, 'pub/sub error'),
    onPubSubDrop: (topic, total) => logger.warn({ topic, total }, 'a slow subscriber lost notices'),
  });
  const { db, pubsub, store } = infra;
  const prisma = db.prisma;
  const auth = await openAuth({ dataDir: settings.dataDir, settings: settings.auth });
  // instance logs: on-disk segments per version (local replicas); the pod log API on Kubernetes
  const logStore = new LogStore({ root: join(settings.dataDir, 'logs'), capBytes: settings.logCapBytes });
  const logSearcher = new LogSearcher();
  const orchestrator = await openOrchestrator(settings, logStore);
  const local = settings.orchestrator === 'local';
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  // metrics history: embedded rollups scraped into the database, or Prometheus when configured
  const gpu = createNvidiaSmiProbe();
  const metricsReader: MetricsReader = settings.metrics.prometheusUrl
    ? new PrometheusMetricsReader({ baseUrl: settings.metrics.prometheusUrl, dataPlane: 'edge' })
    : new EmbeddedMetricsReader(prisma, () => gpu.status());

  // model artifacts: uploads live in the object store; local replicas read a cached copy
  const artifacts = new ArtifactStore(store, join(settings.dataDir, 'models', 'store'));
  const mlflow = createMlflowModelSource({
    clientFor: (trackingUri) => createMlflowClient({ trackingUri, ...settings.mlflow }),
    cacheDir: join(settings.dataDir, 'models', 'mlflow'),
  });
  const plane = await createControlPlane({
    db,
    pubsub,
    orchestrator,
    auth,
    models: new RegistryModelResolver(prisma, mlflow, settings.orchestrator === 'local' ? artifacts : null),
    registry: new ModelRegistry(prisma, artifacts),
    edgeBaseUrl: settings.publicEdgeUrl,
    operations: {
      logs: new LogService({ orchestrator, store: local ? logStore : null, searcher: local ? logSearcher : null }),
      metrics: metricsReader,
    },
    inference: { store, workDir: join(settings.dataDir, 'inference-work') },
  });
  // the inference table: scheduled runs per group, and webhook deliveries a stop left pending
  configureDuck({ memoryLimit: settings.inferenceTable.duckdbMemory ?? '384MB' });
  const inferenceScheduler = plane.inference
    ? new InferenceScheduler({
        prisma,
        service: plane.inference,
        defaultIntervalSeconds: settings.inferenceTable.intervalSeconds,
        onError: (groupId, error) => logger.warn({ groupId, err: error }, 'scheduled inference table run failed'),
      })
    : null;
  inferenceScheduler?.start();
  await plane.inference?.deliverer.resume();
  if (settings.demo) await seedDemoModels(prisma, { demoDir: join(repoRoot, 'runtime', 'demo') });

  // data plane: xDS snapshots rebuilt (debounced) on every data-plane change
  const xds = createXdsControl({
    loadModel: () => loadDataPlaneModel(prisma),
    settings: xdsSettingsOf(settings).dataPlane,
    onPublished: notifyProxyStatus(pubsub),
  });
  plane.setProxyStatus(proxyStatusSource(xds));
  publishProxyStatusChanges(xds, pubsub);
  const xdsPort = await xds.start(settings.ports.xds, settings.host);
  const stopDataPlaneFeed = feedDataPlaneChanges(xds, pubsub);

  // the Envoy plugins and the local edge share the same policy code
  const gatewayPolicies = await openDataPlanePolicies(settings, {
    prisma,
    pubsub,
    store,
    registry: metrics,
    // the data plane's own troubles (Redis or the object store down, and back) become events
    onEvent: (event) => {
      logger[event.level === 'WARNING' ? 'warn' : 'info']({ event: event.type }, event.message);
      void recordEvent(prisma, { level: event.level, resourceKind: 'Gateway', resourceName: 'gateway', reason: event.type, message: event.message }, event.at)
        .catch(() => undefined);
    },
  });
  const { authorizer, rateLimiter, recorder, capture } = gatewayPolicies;
  const gateway = await startGatewayServer({ port: settings.ports.gateway, host: settings.host, authorizer, rateLimiter, capture });
  const edge = await startEdge({
    port: settings.ports.edge,
    host: settings.host,
    xds: { address: `${settings.host}:${xdsPort}` },
    policy: { authorizer, rateLimiter, recorder },
    metrics,
    log: logger.child({ part: 'edge' }),
  });

  // the edge in this process is read from the shared registry; edges started with `npm run
  // edge` over HTTP. It runs with Prometheus too: the version list's live figures read it.
  const remoteEdge = (url: string) => async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.text();
  };
  const scraper = new MetricsScraper({
    prisma,
    pubsub,
    edges: [() => metrics.metrics(), ...settings.metrics.edgeUrls.map(remoteEdge)],
    gpu,
    intervalMs: settings.metrics.intervalMs,
    retentionMs: settings.metrics.retentionMs,
    onError: (error) => logger.warn({ err: error }, 'metrics scrape failed'),
  });
  scraper.start();
  // log delivery: versions with the switch on ship their stored logs to the object store
  const delivery = local
    ? new LogDelivery({ store: logStore, objects: store, prisma, onError: (versionId, error) => logger.warn({ versionId, err: error }, 'log delivery failed; retrying') })
    : null;
  delivery?.start();

  // bring back what was running before a restart, and clean up what was left behind
  await orchestrator.reconcile(await wantedDeployments(plane));

  const control = await startControlServer(settings.ports.control, settings.host, {
    schema: plane.schema,
    context: plane.contextFor,
    metrics,
    webRoot: join(repoRoot, 'web', 'dist'),
    // room for a base64 model upload in registerModelVersion
    maxBodyBytes: Math.ceil(MAX_UPLOAD_BYTES * 1.4),
  });

  banner(`control plane  ${control.url}/graphql  (dashboard ${control.url}/)`);
  banner(`edge           http://${settings.host}:${edge.port}/services/{group}/predict`);
  banner(`xDS (ADS)      ${settings.host}:${xdsPort}`);
  banner(`gateway gRPC   ${settings.host}:${gateway.port}  (ext_authz, rate limit, ext_proc, access log)`);
  banner(`database       ${db.safeUrl}`);
  banner(`pub/sub        ${settings.redisUrl ? 'redis' : 'in-process'};  orchestrator ${orchestrator.kind};  object store ${settings.objectStoreUrl}`);
  banner(`admin token    ${auth.admin.token}  (also in ${join(settings.dataDir, 'admin-token')})`);

  if (settings.demo) {
    const demo = await setUpDemo(plane.domain, plane.admin, settings.dataDir);
    const keyFile = join(settings.dataDir, DEMO_KEY_FILE);
    if (demo.created && !demo.split) logger.warn('the demo versions did not both start in time; see their events (dashboard or GraphQL) — traffic was not split 80/20');
    if (demo.created) banner(`demo           wine-quality is up; API key ${demo.apiKey} (also in ${keyFile})`);
    else if (existsSync(keyFile)) banner(`demo           API key in ${keyFile}: ${readFileSync(keyFile, 'utf8').trim()}`);
  }
  // "ready" means the edge already routes what the database says runs
  await xds.rebuild();
  if (!(await waitForRoutes(edge.routing, await loadDataPlaneModel(prisma), 15_000))) {
    logger.warn('the edge has not caught up with the running versions yet');
  }
  banner('ready');

  return async () => {
    logger.info('shutting down');
    // each step is bounded so one stuck part cannot keep the process alive
    const step = async (name: string, fn: () => Promise<unknown> | unknown, timeoutMs = 15_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); });
      const started = Date.now();
      try {
        const outcome = await Promise.race([Promise.resolve().then(fn), timeout]);
        if (outcome === 'timeout') logger.warn({ step: name, timeoutMs }, 'shutdown step did not finish');
        else if (Date.now() - started > 1000) logger.info({ step: name, ms: Date.now() - started }, 'slow shutdown step');
      } catch (error) {
        logger.error({ step: name, err: error }, 'shutdown step failed');
      } finally {
        clearTimeout(timer);
      }
    };
    await step('control server', () => control.close());
    await step('metrics scraper', () => scraper.stop());
    await step('log search', () => logSearcher.close());
    await step('log delivery', () => delivery?.stop());
    await step('inference scheduler', async () => { await inferenceScheduler?.close(); await plane.inference?.close(); });
    await step('edge', () => edge.close());
    await step('gateway', () => gateway.close());
    await step('data-plane feed', stopDataPlaneFeed);
    await step('xDS server', () => xds.close());
    await step('gateway policies (flushes the inference log)', () => gatewayPolicies.close());
    await step('orchestrator', () => orchestrator.close(), 30_000);
    await step('lifecycle', () => plane.domain.lifecycle.close());
    await step('pub/sub and database', () => infra.close());
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runUntilSignalled('sluice', () => main());
}
