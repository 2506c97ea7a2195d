// Traffic allocation: how a group's requests are split between its running versions
// (grayscale and A/B releases). Shares are whole percents summing to exactly 100.
import { badInput, notFound } from '../../platform/errors.ts';
import { requireProjectRole, type Actor } from './actor.ts';
import { audit } from './audit.ts';
import { ChangeFeed } from './changes.ts';
import type { DomainDeps } from './deps.ts';
import type { ServiceGroup } from '../../platform/db/prisma.ts';

export interface TrafficAllocationInput {
  versionId: string;
  percent: number;
}

export class Traffic {
  private readonly changes: ChangeFeed;

  constructor(private readonly deps: DomainDeps) {
    this.changes = new ChangeFeed(deps.pubsub);
  }

  async set(actor: Actor, groupId: string, allocations: TrafficAllocationInput[]): Promise<ServiceGroup> {
    const seen = new Set<string>();
    for (const a of allocations) {
      if (!Number.isInteger(a.percent) || a.percent < 0 || a.percent > 100) {
        throw badInput(`percent for version ${a.versionId} must be an integer from 0 to 100`, { field: 'allocations' });
      }
      if (seen.has(a.versionId)) throw badInput(`version ${a.versionId} appears twice`, { field: 'allocations' });
      seen.add(a.versionId);
    }
    const sum = allocations.reduce((s, a) => s + a.percent, 0);
    if (sum !== 100) throw badInput(`traffic shares must sum to 100 (got ${sum})`, { field: 'allocations' });

    const { prisma, now } = this.deps;
    const group = await prisma.$transaction(async (tx) => {
      const before = await tx.serviceGroup.findUnique({ where: { id: groupId }, include: { versions: { orderBy: { createdAt: 'asc' } } } });
      if (!before) throw notFound(`service group ${groupId} does not exist`);
      await requireProjectRole(tx, actor, before.projectId, 'DEVELOPER');
      const running = before.versions.filter((v) => v.status === 'RUNNING');
      for (const a of allocations) {
        const version = before.versions.find((v) => v.id === a.versionId);
        if (!version) throw badInput(`version ${a.versionId} is not in service group "${before.name}"`, { field: 'allocations' });
        if (version.status !== 'RUNNING') {
          throw badInput(`version "${version.name}" is ${version.status}; only running versions take traffic`, { field: 'allocations' });
        }
      }
      const missing = running.filter((v) => !seen.has(v.id));
      if (missing.length > 0) {
        throw badInput(`every running version needs a share; missing: ${missing.map((v) => v.name).join(', ')}`, { field: 'allocations' });
      }
      for (const a of allocations) {
        await tx.serviceVersion.update({ where: { id: a.versionId }, data: { trafficPercent: a.percent } });
      }
      const after = await tx.serviceGroup.findUniqueOrThrow({ where: { id: groupId }, include: { versions: { orderBy: { createdAt: 'asc' } } } });
      await audit(
        tx, actor, 'setTrafficAllocation', 'ServiceGroup', groupId,
        { traffic: before.versions.map((v) => ({ version: v.name, percent: v.trafficPercent })) },
        { traffic: after.versions.map((v) => ({ version: v.name, percent: v.trafficPercent })) },
        now(),
      );
      return after;
    });
    await this.changes.dataPlane(`traffic of ${groupId}`);
    for (const v of group.versions) await this.changes.version(groupId, v.id);
    return group;
  }
}
