// `npm run edge`: the local edge as a process of its own, for running more edge replicas
// beside one control plane. Routes come over xDS from the control plane
// (SLUICE_XDS_ADDRESS, or SLUICE_XDS_HOST:SLUICE_XDS_PORT); policies and API keys are read
// from the same database (DATABASE_URL) and re-read whenever xDS pushes a change (and on
// Redis pub/sub notices when REDIS_URL is set, which also makes the QPS limits fleet-wide);
// inference records go to SLUICE_OBJECT_STORE through a spool under SLUICE_DATA_DIR.
// Serves SLUICE_EDGE_PORT (8080) on SLUICE_HOST. Built from the same factories as `npm start`
// (platform/infrastructure.ts, gateway/compose.ts), from the one settings loader.
// `npm start` runs its local edge this way too, as a supervised child (`--supervised`,
// control/edge-supervisor.ts): it then also opens the control socket in the data dir
// (gateway/edge/control-socket.ts) and records its pid in `<data dir>/edge.pid`, and it keeps
// serving when the control plane dies (a crash) until a restarted one adopts it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { openInfrastructure } from '../../platform/infrastructure.ts';
import { runUntilSignalled } from '../../platform/process.ts';
import { loadSettings } from '../../platform/settings.ts';
import { openDataPlanePolicies, type DataPlanePolicies } from '../compose.ts';
import { adoptOrphanSpools, edgeSpoolName } from '../inference-log/orphans.ts';
import { startEdge } from './server.ts';
import { createEdgeCors } from './cors.ts';
import { XdsRoutingClient } from './xds-client.ts';
import { EDGE_PID_FILE, EDGE_SOCKET, openEdgeControlSocket, type EdgeControlSocket } from './control-socket.ts';

export interface EdgeMainOptions {
  /** run as `npm start`'s edge: control socket, pid file, outlives a crashed control plane */
  supervised?: boolean;
}

export interface EdgeProcess {
  port: number;
  close(): Promise<void>;
}

export async function main(env: Record<string, string | undefined> = process.env, options: EdgeMainOptions = {}): Promise<EdgeProcess> {
  const settings = loadSettings(env);
  if (options.supervised) {
    // the control plane reads our stdout and stderr; when it dies (a crash) the pipes break,
    // and the edge goes on serving without its logs rather than dying of EPIPE
    process.stdout.on('error', () => {});
    process.stderr.on('error', () => {});
  }
  const log = pino({ name: 'sluice-edge', level: settings.logLevel }, process.stdout);
  const xdsAddress = settings.edgeXdsAddress;
  // the spool is per process: two edges never share one; what a dead edge left in its own
  // (killed, or stopped while the store was down) is taken over before the writer opens ours
  const spoolParent = join(settings.dataDir, 'spool');
  const spoolDir = join(spoolParent, edgeSpoolName(process.pid));
  mkdirSync(spoolDir, { recursive: true });
  const adopted = await adoptOrphanSpools({ parent: spoolParent, own: spoolDir });
  if (adopted.files > 0) log.info({ batches: adopted.files, from: adopted.from }, 'took over the inference-log spool of stopped edge processes');

  // the same factories as `npm start` (control/main.ts): infrastructure, then the policies
  const infra = await openInfrastructure(settings, { onPubSubError: (err) => log.warn({ err: err.message }, 'pub/sub') });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  let dataPlane: DataPlanePolicies;
  try {
    dataPlane = await openDataPlanePolicies(settings, {
      prisma: infra.db.prisma,
      pubsub: infra.pubsub,
      store: infra.store,
      registry: metrics,
      spoolDir,
      log,
      onEvent: (event) => log.warn(event, event.type.startsWith('RATE_LIMIT') ? 'rate limit store' : 'inference log'),
    });
  } catch (err) {
    await infra.close();
    throw new Error(
      `cannot read service policies from ${infra.db.safeUrl} (${(err as Error).message.trim().split('\n').at(-1) ?? ''}); ` +
        'the edge reads the control plane\'s database: start the control plane (npm start) or run npm run db:migrate first',
      { cause: err },
    );
  }
  const { policies, authorizer, rateLimiter, recorder } = dataPlane;

  const routing = new XdsRoutingClient({ address: xdsAddress, token: settings.grpc.token, log }).start();
  // an xDS push means the data plane changed: re-read the policies that go with it
  const unwatch = routing.onChange(() => {
    policies.refresh().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'policy refresh failed'));
  });
  if (!(await routing.ready(10_000))) log.warn({ xds: xdsAddress }, 'no routes from xDS yet; answering 503 until they arrive');

  const edge = await startEdge({
    port: settings.ports.edge,
    host: settings.host,
    routing,
    policy: { authorizer, rateLimiter, recorder },
    metrics,
    log,
    cors: createEdgeCors(settings.edgeCorsOrigins, settings.dataPlane.stickyHeader ? [settings.dataPlane.stickyHeader] : []),
  });
  let control: EdgeControlSocket | null = null;
  let watchDataDir: NodeJS.Timeout | undefined;
  const pidFile = join(settings.dataDir, EDGE_PID_FILE);
  if (options.supervised) {
    control = await openEdgeControlSocket(join(settings.dataDir, EDGE_SOCKET), { stats: edge.stats, routing, xds: routing, port: edge.port, refresh: () => policies.refresh() });
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  }
  log.info({ url: `http://${settings.host}:${edge.port}/services/{group}/predict`, xds: xdsAddress, node: routing.nodeId, database: infra.db.safeUrl }, 'edge ready');

  const close = async () => {
    clearInterval(watchDataDir);
    if (control) {
      await control.close();
      // only our own record: a successor may have written its pid already
      try { if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile); } catch { /* gone already */ }
    }
    unwatch();
    await edge.close();
    await routing.close();
    await dataPlane.close();
    await infra.close();
  };
  if (options.supervised) {
    // orphaned (its control plane crashed) and its data dir deleted: nothing left to serve for
    watchDataDir = setInterval(() => {
      if (existsSync(settings.dataDir)) return;
      log.warn({ dataDir: settings.dataDir }, 'the data dir is gone; stopping');
      void close().finally(() => process.exit(0));
    }, 5_000);
    watchDataDir.unref();
  }
  return { port: edge.port, close };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runUntilSignalled('sluice-edge', async () => (await main(process.env, { supervised: process.argv.includes('--supervised') })).close);
}
