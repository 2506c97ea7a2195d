// Builds the data-plane model (xds/model.ts) from the database: running groups, their
// running versions with traffic shares, policies and ready endpoints. It is the one read
// the xDS publisher makes on every (debounced) change.
import type { DataPlaneModel } from '../../xds/model.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';

export async function loadDataPlaneModel(prisma: PrismaClient): Promise<DataPlaneModel> {
  const versions = await prisma.serviceVersion.findMany({
    where: { status: 'RUNNING' },
    include: { group: { select: { id: true, name: true, mirrorVersionId: true, mirrorPercent: true } }, instances: { orderBy: { name: 'asc' } } },
    orderBy: [{ groupId: 'asc' }, { name: 'asc' }],
  });
  const groups = new Map<string, DataPlaneModel['groups'][number]>();
  for (const v of versions) {
    let group = groups.get(v.groupId);
    if (!group) {
      group = { groupId: v.group.id, name: v.group.name, versions: [] };
      groups.set(v.groupId, group);
    }
    group.versions.push({
      versionId: v.id,
      name: v.name,
      weight: v.trafficPercent,
      authEnabled: v.authEnabled,
      ...(v.authJwtOnly ? { authJwtOnly: true } : {}),
      qpsLimit: v.qpsLimit,
      inferenceTable: { enabled: v.inferenceTableEnabled, sampleRate: v.inferenceSampleRate, maxBodyBytes: v.inferenceMaxBodyBytes },
      ...(v.autoscaleMaxReplicas !== null && v.autoscaleMinReplicas === 0 ? { scaleToZero: true } : {}),
      ...(v.maxConcurrency !== null ? { maxConcurrency: v.maxConcurrency, queueDepth: v.throttleMode === 'QUEUE' ? v.queueDepth : null } : {}),
      endpoints: v.instances
        .filter((i) => i.host && i.port)
        .map((i) => ({ instance: i.name, host: i.host!, port: i.port!, healthy: i.state === 'RUNNING' })),
    });
  }
  // shadow traffic goes to a running version of the same group (else it is dropped here)
  for (const v of versions) {
    const group = groups.get(v.groupId);
    if (group && v.group.mirrorVersionId === v.id && v.group.mirrorPercent > 0) group.mirror = { version: v.name, percent: v.group.mirrorPercent };
  }
  return { groups: [...groups.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}
