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

/** Shadow traffic: a copy of `percent` % of requests goes to `versionId`, whose answers reach nobody. */
export interface MirrorInput {
  versionId: string;
  percent: number;
}

/**
 * The mirror setting checked on its own (before the database): percent is a whole number
 * from 0 to 100, 0 meaning off (CONTRACT). Returns null when mirroring is off.
 */
export function checkMirrorInput(mirror: MirrorInput | null | undefined): MirrorInput | null {
  if (!mirror) return null;
  if (!Number.isInteger(mirror.percent) || mirror.percent < 0 || mirror.percent > 100) {
    throw badInput(`mirror percent must be an integer from 0 to 100 (0 turns mirroring off); got ${mirror.percent}`, { field: 'mirror.percent', reason: 'MIRROR_PERCENT_OUT_OF_RANGE' });
  }
  return mirror.percent === 0 ? null : mirror;
}

export class Traffic {
  private readonly changes: ChangeFeed;

  constructor(private readonly deps: DomainDeps) {
    this.changes = new ChangeFeed(deps.pubsub);
  }

  /**
   * Sets the split and (when `mirror` is given: undefined leaves it as it is) the shadow
   * copy. A mirror goes to a running version of this group that takes no live share:
   * mirroring to a version that answers live traffic would double its requests.
   */
  async set(actor: Actor, groupId: string, allocations: TrafficAllocationInput[], mirror?: MirrorInput | null): Promise<ServiceGroup> {
    const mirrorOn = mirror === undefined ? undefined : checkMirrorInput(mirror);
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
      if (mirrorOn) {
        const target = before.versions.find((v) => v.id === mirrorOn.versionId);
        if (!target) {
          throw badInput(`mirror version ${mirrorOn.versionId} is not in service group "${before.name}"`, { field: 'mirror.versionId', reason: 'MIRROR_VERSION_NOT_IN_GROUP' });
        }
        if (target.status !== 'RUNNING') {
          throw badInput(`mirror version "${target.name}" is ${target.status}; only a running version can take shadow traffic`, { field: 'mirror.versionId', reason: 'MIRROR_VERSION_NOT_RUNNING' });
        }
        const live = allocations.find((a) => a.versionId === target.id)?.percent ?? 0;
        if (live > 0) {
          throw badInput(`version "${target.name}" takes ${live}% of live traffic; a mirror must go to a version with a 0% share`, { field: 'mirror.versionId', reason: 'MIRROR_TO_LIVE_VERSION' });
        }
      }
      for (const a of allocations) {
        await tx.serviceVersion.update({ where: { id: a.versionId }, data: { trafficPercent: a.percent } });
      }
      if (mirror !== undefined) {
        await tx.serviceGroup.update({ where: { id: groupId }, data: { mirrorVersionId: mirrorOn?.versionId ?? null, mirrorPercent: mirrorOn?.percent ?? 0 } });
      } else if (before.mirrorVersionId && (allocations.find((a) => a.versionId === before.mirrorVersionId)?.percent ?? 0) > 0) {
        // the shadow version now takes live traffic: its mirror ends
        await tx.serviceGroup.update({ where: { id: groupId }, data: { mirrorVersionId: null, mirrorPercent: 0 } });
      }
      const after = await tx.serviceGroup.findUniqueOrThrow({ where: { id: groupId }, include: { versions: { orderBy: { createdAt: 'asc' } } } });
      await audit(
        tx, actor, 'setTrafficAllocation', 'ServiceGroup', groupId,
        { traffic: before.versions.map((v) => ({ version: v.name, percent: v.trafficPercent })), mirror: mirrorOf(before) },
        { traffic: after.versions.map((v) => ({ version: v.name, percent: v.trafficPercent })), mirror: mirrorOf(after) },
        now(),
      );
      return after;
    });
    await this.changes.dataPlane(`traffic of ${groupId}`);
    for (const v of group.versions) await this.changes.version(groupId, v.id);
    return group;
  }
}

function mirrorOf(g: ServiceGroup & { versions: { id: string; name: string }[] }): { version: string; percent: number } | null {
  if (!g.mirrorVersionId || g.mirrorPercent <= 0) return null;
  return { version: g.versions.find((v) => v.id === g.mirrorVersionId)?.name ?? g.mirrorVersionId, percent: g.mirrorPercent };
}
