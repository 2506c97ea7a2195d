// `npm run prometheus:config`: prints a Prometheus scrape configuration for this Sluice (same
// environment as `npm start`): the edge, and the replicas — the running instances from the
// database for the local orchestrator (run it again after they change, or point
// file_sd_configs at its output), pod discovery for Kubernetes.
import { loadSettings } from '../../platform/settings.ts';
import { createDatabase } from '../../platform/db/client.ts';
import { prometheusConfigYaml, type ReplicaTarget } from './prometheus-config.ts';

const settings = loadSettings(process.env);
let replicas: ReplicaTarget[] = [];
if (settings.orchestrator === 'local') {
  const db = await createDatabase(settings.databaseUrl);
  try {
    const rows = await db.prisma.instance.findMany({
      where: { state: 'RUNNING', port: { not: null } },
      select: { name: true, host: true, port: true, version: { select: { name: true, group: { select: { name: true } } } } },
      orderBy: { name: 'asc' },
    });
    replicas = rows.map((r) => ({ group: r.version.group.name, version: r.version.name, instance: r.name, address: `${r.host ?? '127.0.0.1'}:${r.port}` }));
  } finally {
    await db.close();
  }
}
process.stdout.write(
  prometheusConfigYaml({
    intervalSeconds: settings.metrics.intervalMs / 1000,
    edges: [`${settings.host}:${settings.ports.edge}`],
    orchestrator: settings.orchestrator,
    replicas,
    namespace: settings.kubernetesNamespace,
    envoyAdmins: settings.metrics.envoyTargets,
    dcgmExporters: settings.metrics.dcgmTargets,
  }),
);
