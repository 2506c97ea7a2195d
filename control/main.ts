// `npm start`: wires the whole product from the environment (platform/settings.ts) and runs it
// on this machine: database (migrated on start), pub/sub, orchestrator, the GraphQL control
// plane and dashboard, the xDS server, the Envoy plugin services, and the local edge. Each
// embedded-or-production choice is made here, once, by picking a constructor.
import { chmodSync, mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../platform/paths.ts';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { pino } from 'pino';
import { runUntilSignalled } from '../platform/process.ts';
import { lockDataDir } from '../platform/data-dir-lock.ts';
import { loadSettings, type Settings } from '../platform/settings.ts';
import { applyMigrations, pendingMigrations } from '../platform/db/migrate.ts';
import { openInfrastructure } from '../platform/infrastructure.ts';
import { openAuth } from './auth/index.ts';
import type { Orchestrator, VersionDeployment } from './orchestrator/port.ts';
import { cpus, totalmem } from 'node:os';
import { createLocalOrchestrator } from './orchestrator/local/index.ts';
import { resolveRunAs } from './orchestrator/local/launch.ts';
import { createControlPlane } from './app.ts';
import { startControlServer } from './http/server.ts';
import { RegistryModelResolver } from './registry/resolver.ts';
import { ArtifactStore } from './registry/artifacts.ts';
import { RedisLoginCounters } from './auth/login-counters.ts';
import { ModelRegistry } from './registry/service.ts';
import { createMlflowModelSource } from './registry/mlflow-source.ts';
import { createMlflowClient, mayCarryCredentials } from './registry/mlflow.ts';
import { seedDemoModels } from './registry/demo.ts';
import { setUpDemo, DEMO_KEY_FILE } from './demo.ts';
import { loadDataPlaneModel } from './domain/data-plane.ts';
import { createXdsControl } from '../xds/publisher.ts';
import { GRPC_TOKEN_FILE, grpcAuthOf, resolveGrpcToken } from '../platform/grpc-auth.ts';
import { xdsSettingsOf } from '../xds/settings.ts';
import { notifyProxyStatus, proxyStatusSource, publishProxyStatusChanges, feedDataPlaneChanges } from './proxy-status.ts';
import { startGatewayServer } from '../gateway/server.ts';
import { openDataPlanePolicies } from '../gateway/compose.ts';
import { recordEvent } from './domain/events.ts';
import { EDGE_LOG_KEY, EdgeSupervisor, PLATFORM_LOG_DIR, stopLeftoverEdge } from './edge-supervisor.ts';
import { prioritizeDataPlane, type SpawnProcess } from './data-plane-priority.ts';
import { topics } from '../platform/pubsub/port.ts';
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
import { CanaryGuard } from './domain/canary-guard.ts';
import { Autoscaler } from './orchestrator/autoscaler.ts';
import { TYPE_URL } from '../proto/envoy.ts';

/** The start banner: plain lines for the person who ran `npm start`. */
function banner(message: string): void {
  process.stdout.write(`[sluice] ${message}\n`);
}

/** Operational logs: structured (pino), on stderr so the banner stays readable. */
let logger = pino({ name: 'sluice', level: 'info' }, pino.destination(2));

async function openOrchestrator(settings: Settings, logStore: LogStore, spawnProcess: SpawnProcess): Promise<Orchestrator> {
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
    // image commands run as an unprivileged user where we can switch users (as root)
    runAs: resolveRunAs(settings.runAs),
    // replicas are data plane: started from the thread left at the normal priority
    spawn: spawnProcess,
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

/**
 * The data dir holds the JWT secret, the admin token, the secret-box key and the database:
 * only this user may enter it (0700), whatever the umask made of it.
 */
function protectDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

/** The embedded SQLite file (and its WAL) readable by this user only (0600). */
function protectDatabaseFile(databaseUrl: string): void {
  if (!databaseUrl.startsWith('file:')) return;
  const file = databaseUrl.slice('file:'.length).split('?')[0] ?? '';
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}

/** A listen address as a client dials it (a wildcard listens on loopback too). */
const dialable = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);

/** Waits (bounded) until every wanted version has its replicas RUNNING again. */
async function waitForReplicas(prisma: Awaited<ReturnType<typeof createControlPlane>>['prisma'], wanted: VersionDeployment[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let up = true;
    for (const d of wanted) {
      const running = await prisma.instance.count({ where: { versionId: d.versionId, state: 'RUNNING' } });
      if (running < d.replicas) up = false;
    }
    if (up) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function main(env: Record<string, string | undefined> = process.env): Promise<() => Promise<void>> {
  const loaded = loadSettings(env);
  // the gRPC ports always need a token: SLUICE_GRPC_TOKEN, or one generated in the data dir
  protectDataDir(loaded.dataDir);
  const settings: Settings = { ...loaded, grpc: { ...loaded.grpc, token: resolveGrpcToken(loaded.grpc.token, loaded.dataDir) } };
  logger = pino({ name: 'sluice', level: settings.logLevel }, pino.destination(2));
  protectDataDir(settings.dataDir);
  // one Sluice per data dir: a second start fails here, before the database is opened
  const dataDirLock = lockDataDir(settings.dataDir);
  if (dataDirLock.tookOverFrom !== null) logger.info({ pid: dataDirLock.tookOverFrom }, 'took over the data dir lock of a stopped Sluice');
  mkdirSync(settings.modelImportDir, { recursive: true, mode: 0o700 });
  // the data plane gets the CPU first: this process's threads (GraphQL and the rest of the
  // control plane) take a lower priority; the edge and replicas are spawned from a thread
  // that keeps the normal one (control/data-plane-priority.ts)
  const priority = await prioritizeDataPlane({ nice: settings.controlPlaneNice });
  if (priority.lowered > 0) logger.info({ nice: priority.nice, threads: priority.lowered }, 'control plane runs at a lower CPU priority than the data plane');

  // a schema change must not happen under an edge that outlived a crashed control plane
  const pending = pendingMigrations(settings.databaseUrl);
  if (pending !== null && pending.length > 0) {
    const stopped = await stopLeftoverEdge(settings.dataDir);
    if (stopped !== null) logger.info({ pid: stopped }, 'stopped the edge a crashed control plane left running: the database needs migrating');
  }
  const migrated = await applyMigrations(settings.databaseUrl);
  if (migrated.applied.length > 0) logger.info({ migrations: migrated.applied }, 'database migrated');
  // the same factories as a stand-alone edge (gateway/edge/main.ts)
  const infra = await openInfrastructure(settings, {
    onPubSubError: (error) => logger.warn({ err: error }, 'pub/sub error'),
    onPubSubDrop: (topic, total) => logger.warn({ topic, total }, 'a slow subscriber lost notices'),
  });
  const { db, pubsub, store } = infra;
  protectDatabaseFile(settings.databaseUrl);
  const prisma = db.prisma;
  const auth = await openAuth({ dataDir: settings.dataDir, settings: settings.auth });
  // instance logs: on-disk segments per version (local replicas); the pod log API on Kubernetes
  const logStore = new LogStore({ root: join(settings.dataDir, 'logs'), capBytes: settings.logCapBytes });
  // the platform's own processes' output (the local edge), apart from the versions' logs
  const platformLogs = new LogStore({ root: join(settings.dataDir, PLATFORM_LOG_DIR), capBytes: settings.logCapBytes });
  const logSearcher = new LogSearcher();
  const orchestrator = await openOrchestrator(settings, logStore, priority.spawn);
  const local = settings.orchestrator === 'local';
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  // metrics history: embedded rollups scraped into the database, or Prometheus when configured
  const gpu = createNvidiaSmiProbe();
  const metricsReader: MetricsReader = settings.metrics.prometheusUrl
    ? new PrometheusMetricsReader({ baseUrl: settings.metrics.prometheusUrl, dataPlane: settings.metrics.dataPlane, envoyRateLimit: settings.dataPlane.envoyRateLimit })
    : new EmbeddedMetricsReader(prisma, () => gpu.status());

  // model artifacts: uploads live in the object store; local replicas read a cached copy
  const artifacts = new ArtifactStore(store, join(settings.dataDir, 'models', 'store'));
  const mlflow = createMlflowModelSource({
    // the MLflow credentials go only to the configured (or admin-trusted) tracking server
    clientFor: (trackingUri) => createMlflowClient({ trackingUri, ...(mayCarryCredentials(env, trackingUri) ? settings.mlflow : {}) }),
    cacheDir: join(settings.dataDir, 'models', 'mlflow'),
  });
  // REDIS_URL: failed sign-ins counted once across every control-plane process
  const loginCounters = settings.redisUrl
    ? new RedisLoginCounters(settings.redisUrl, { onEvent: (e) => logger.warn({ event: e.type }, e.message) })
    : undefined;
  const plane = await createControlPlane({
    db,
    pubsub,
    orchestrator,
    auth,
    models: new RegistryModelResolver(prisma, mlflow, settings.orchestrator === 'local' ? artifacts : null),
    registry: new ModelRegistry(prisma, artifacts, undefined, settings.modelImportDir),
    edgeBaseUrl: settings.publicEdgeUrl,
    operations: {
      logs: new LogService({ orchestrator, store: local ? logStore : null, searcher: local ? logSearcher : null }),
      metrics: metricsReader,
    },
    inference: { store, workDir: join(settings.dataDir, 'inference-work'), webhookAllowHosts: settings.inferenceTable.webhookAllowHosts },
    ...(loginCounters ? { loginCounters } : {}),
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
  // a report that met an unreachable database is retried by the lifecycle (logged here);
  // one it could not apply otherwise (a database error, say) is logged and an event
  plane.domain.lifecycle.onRetry((error, report, attempt) => {
    if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: error, report: report.type, versionId: report.versionId, attempt }, 'database unavailable: an orchestrator report will be applied when it answers');
  });
  plane.domain.lifecycle.onError((error, report) => {
    logger.error({ err: error, report: report.type, versionId: report.versionId }, 'lifecycle could not apply an orchestrator report');
    void recordEvent(prisma, {
      level: 'WARNING', resourceKind: 'Version', resourceName: report.versionId, reason: 'LifecycleError',
      message: `could not apply a ${report.type} report: ${error instanceof Error ? error.message : String(error)}`,
    }, new Date()).catch((e: unknown) => logger.error({ err: e }, 'could not record an event'));
  });
  if (settings.demo) await seedDemoModels(prisma, { demoDir: join(repoRoot, 'runtime', 'demo') });

  // data plane: xDS snapshots rebuilt (debounced) on every data-plane change
  // a failed rebuild keeps the last snapshot serving; it is logged and becomes an event
  const xdsLog = logger.child({ part: 'xds' });
  const xds = createXdsControl({
    loadModel: () => loadDataPlaneModel(prisma),
    settings: xdsSettingsOf(settings).dataPlane,
    onPublished: notifyProxyStatus(pubsub),
    logger: { info: (o, m) => xdsLog.info(o, m), warn: (o, m) => xdsLog.warn(o, m), debug: (o, m) => xdsLog.debug(o, m) },
    onError: (err) => {
      xdsLog.error({ err }, 'xDS snapshot rebuild failed; proxies keep the last good configuration');
      void recordEvent(prisma, { level: 'WARNING', resourceKind: 'DataPlane', resourceName: 'xds', reason: 'SnapshotFailed', message: `xDS snapshot rebuild failed: ${err.message}` }, new Date())
        .catch((e: unknown) => logger.error({ err: e }, 'could not record an event'));
    },
  });
  plane.setProxyStatus(proxyStatusSource(xds));
  publishProxyStatusChanges(xds, pubsub);
  // gRPC ports: loopback by default; exposed, only with a token or mTLS (platform/grpc-auth.ts)
  const grpcAuth = grpcAuthOf(settings.grpc);
  const xdsPort = await xds.start(settings.ports.xds, settings.grpcListenHosts.xds, grpcAuth);
  const stopDataPlaneFeed = feedDataPlaneChanges(xds, pubsub);

  // the Envoy plugins and the local edge share the same policy code
  const gatewayPolicies = await openDataPlanePolicies(settings, {
    prisma,
    pubsub,
    store,
    registry: metrics,
    log: logger,
    // the data plane's own troubles (Redis or the object store down, and back) become events
    onEvent: (event) => {
      logger[event.level === 'WARNING' ? 'warn' : 'info']({ event: event.type }, event.message);
      void recordEvent(prisma, { level: event.level, resourceKind: 'Gateway', resourceName: 'gateway', reason: event.type, message: event.message }, event.at)
        .catch((e: unknown) => logger.error({ err: e }, 'could not record an event'));
    },
  });
  const { authorizer, rateLimiter, capture } = gatewayPolicies;
  const gateway = await startGatewayServer({ port: settings.ports.gateway, host: settings.grpcListenHosts.gateway, authorizer, rateLimiter, capture, auth: grpcAuth });
  // the local edge: a process of its own (control/edge-supervisor.ts), so that neither a
  // hostile GraphQL query on this event loop nor a crash of this process stops predictions;
  // what it needs from us is passed explicitly
  const edge = new EdgeSupervisor({
    dataDir: settings.dataDir,
    env: {
      ...env,
      SLUICE_DATA_DIR: settings.dataDir,
      DATABASE_URL: settings.databaseUrl,
      REDIS_URL: settings.redisUrl ?? '',
      SLUICE_OBJECT_STORE: settings.objectStoreUrl,
      SLUICE_HOST: settings.host,
      SLUICE_EDGE_PORT: String(settings.ports.edge),
      SLUICE_XDS_ADDRESS: `${dialable(settings.grpcListenHosts.xds)}:${xdsPort}`,
      SLUICE_GRPC_TOKEN: grpcAuth.token ?? '',
    },
    log: logger.child({ part: 'edge-supervisor' }),
    spawn: priority.spawn,
    // the edge's own output: kept in the platform log store (an adopted edge's too) and shown
    // on our stderr as before
    logSink: (lines) => {
      platformLogs.append(EDGE_LOG_KEY, lines);
      process.stderr.write(lines.map((l) => `${l.line}\n`).join(''));
    },
  });
  const edgeStarted = await edge.start();
  // pub/sub may be in-process: pass the data plane's change notices on to the edge
  const dataPlaneNotices = pubsub.subscribe(topics.dataPlane);
  void (async () => {
    for await (const _ of dataPlaneNotices) await edge.refresh();
  })();
  // the control plane's own registry (the Envoy plugins), the local edge's and the edges
  // started with `npm run edge` over HTTP. It runs with Prometheus too: the version list's live figures read it.
  const remoteEdge = (url: string) => async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.text();
  };
  const scraper = new MetricsScraper({
    prisma,
    pubsub,
    edges: [() => metrics.metrics(), remoteEdge(`http://${dialable(settings.host)}:${edgeStarted.port}/metrics`), ...settings.metrics.edgeUrls.map(remoteEdge)],
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
  // releases that protect themselves: canary rollback and (where Sluice runs the replicas) autoscaling, from the edge's per-version counts
  const guard = new CanaryGuard({
    deps: plane.domain.deps,
    traffic: plane.domain.traffic,
    stats: edge.stats,
    onRollback: (r) => logger.warn(r, 'canary rolled back'),
  }).start();
  const autoscaler = orchestrator.kind === 'kubernetes' ? null : new Autoscaler({ deps: plane.domain.deps, versions: plane.domain.versions, stats: edge.stats }).start();

  // bring back what was running before a restart, and clean up what was left behind
  const wanted = await wantedDeployments(plane);
  await orchestrator.reconcile(wanted);

  const control = await startControlServer(settings.ports.control, settings.host, {
    schema: plane.schema,
    context: plane.contextFor,
    metrics,
    webRoot: settings.webRoot ?? join(repoRoot, 'web', 'dist'),
    // model files go to /models/upload; GraphQL bodies stay small
    maxBodyBytes: settings.graphql.maxBodyBytes,
    limits: { maxDepth: settings.graphql.maxDepth, maxAliases: settings.graphql.maxAliases, maxCost: settings.graphql.maxCost },
    socketQuota: { maxSocketsPerUser: settings.graphql.maxSocketsPerUser, maxSubscriptionsPerUser: settings.graphql.maxSubscriptionsPerUser },
    development: settings.development,
    log: (error) => logger.error({ err: error }, 'control plane request failed'),
  });

  banner(`control plane  ${control.url}/graphql  (dashboard ${control.url}/)`);
  banner(`edge           http://${settings.host}:${edgeStarted.port}/services/{group}/predict  (pid ${edgeStarted.pid}${edgeStarted.adopted ? ', adopted' : ''})`);
  const grpcDoor = grpcAuth.tls?.ca ? 'mTLS' : loaded.grpc.token ? 'token' : `token in ${join(settings.dataDir, GRPC_TOKEN_FILE)}`;
  banner(`xDS (ADS)      ${settings.grpcListenHosts.xds}:${xdsPort}  (${grpcDoor})`);
  banner(`gateway gRPC   ${settings.grpcListenHosts.gateway}:${gateway.port}  (ext_authz, rate limit, ext_proc, access log; ${grpcDoor})`);
  banner(`database       ${db.safeUrl}`);
  banner(`pub/sub        ${settings.redisUrl ? 'redis' : 'in-process'};  orchestrator ${orchestrator.kind};  object store ${settings.objectStoreUrl}`);
  // secrets on the terminal only when just made: a scrollback or a log collector must not
  // hold the admin token or the demo key on every restart
  if (auth.admin.source === 'generated') banner(`admin token    ${auth.admin.token}  (also in ${join(settings.dataDir, 'admin-token')})`);
  else if (auth.admin.source === 'file') banner(`admin token    in ${join(settings.dataDir, 'admin-token')}`);
  else banner('admin token    from SLUICE_ADMIN_TOKEN');

  if (settings.demo) {
    const demo = await setUpDemo(plane.domain, plane.admin, settings.dataDir);
    const keyFile = join(settings.dataDir, DEMO_KEY_FILE);
    if (demo.created && !demo.split) logger.warn('the demo versions did not both start in time; see their events (dashboard or GraphQL) — traffic was not split 80/20');
    if (demo.created) banner(`demo           wine-quality is up; API key ${demo.apiKey} (also in ${keyFile})`);
    else if (existsSync(keyFile)) banner(`demo           API key in ${keyFile}`);
  }
  // "ready" means the replicas brought back are up and the edge already routes them
  if (!(await waitForReplicas(plane.prisma, wanted, 60_000))) {
    logger.warn('some replicas brought back on start are not running yet; see their events');
  }
  await xds.rebuild();
  if (!(await edge.waitForRoutes(() => loadDataPlaneModel(prisma), 15_000))) {
    logger.warn('the edge has not caught up with the running versions yet');
  }
  // and it has taken the snapshot we publish, every type (an adopted edge may still hold what
  // it had before the restart: a split changed just before a crash, a replica on its old port)
  const published = () => {
    const s = xds.current;
    return s ? { listener: s.types[TYPE_URL.listener].version, route: s.types[TYPE_URL.route].version, cluster: s.types[TYPE_URL.cluster].version, endpoint: s.types[TYPE_URL.endpoint].version } : null;
  };
  if (!(await edge.waitForSync(published, 15_000))) {
    logger.warn('the edge has not accepted the current xDS snapshot yet');
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
    await step('canary guard', () => guard.close());
    await step('autoscaler', () => autoscaler?.close());
    await step('edge', async () => { await dataPlaneNotices.return?.(); await edge.close(); });
    await step('gateway', () => gateway.close());
    await step('data-plane feed', stopDataPlaneFeed);
    await step('xDS server', () => xds.close());
    await step('gateway policies (flushes the inference log)', () => gatewayPolicies.close());
    // The orchestrator's stop of every replica is this shutdown's doing, not a failure: the
    // lifecycle ignores version reports from here on, so no version turns FAILED and no
    // traffic moves. The next start brings the same versions back (reconcile above).
    plane.domain.lifecycle.beginShutdown();
    await step('orchestrator', () => orchestrator.close(), 30_000);
    await step('lifecycle', () => plane.domain.lifecycle.shutdown());
    await step('pub/sub and database', () => infra.close());
    await step('login counters', async () => loginCounters?.close());
    await step('spawner', () => priority.close());
    dataDirLock.release();
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runUntilSignalled('sluice', () => main());
}
