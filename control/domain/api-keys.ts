// API keys for /predict: per group (or one version of it), shown once at creation and
// stored only as a hash, revocable, with the time each was last used.
import { badInput, notFound } from '../../platform/errors.ts';
import { requireProjectRole, type Actor } from './actor.ts';
import { audit } from './audit.ts';
import { ChangeFeed } from './changes.ts';
import type { DomainDeps } from './deps.ts';
import { assertText } from './names.ts';
import type { ApiKey } from '../../platform/db/prisma.ts';

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: string;
}

export class ApiKeys {
  private readonly changes: ChangeFeed;

  constructor(
    private readonly deps: DomainDeps,
    private readonly generate: () => GeneratedKey,
  ) {
    this.changes = new ChangeFeed(deps.pubsub);
  }

  async create(actor: Actor, groupId: string, options: { versionId?: string | null; name?: string | null } = {}): Promise<{ key: string; apiKey: ApiKey }> {
    const name = assertText(options.name, 'name', 200);
    const { prisma, now } = this.deps;
    const generated = this.generate();
    const apiKey = await prisma.$transaction(async (tx) => {
      const group = await tx.serviceGroup.findUnique({ where: { id: groupId } });
      if (!group) throw notFound(`service group ${groupId} does not exist`);
      await requireProjectRole(tx, actor, group.projectId, 'DEVELOPER');
      if (options.versionId) {
        const version = await tx.serviceVersion.findUnique({ where: { id: options.versionId } });
        if (!version || version.groupId !== groupId) throw badInput(`version ${options.versionId} is not in this group`, { field: 'versionId' });
      }
      const created = await tx.apiKey.create({
        data: { groupId, versionId: options.versionId ?? null, name, prefix: generated.prefix, hash: generated.hash, createdById: actor.userId },
      });
      await audit(tx, actor, 'createApiKey', 'ApiKey', created.id, null, created, now());
      return created;
    });
    await this.changes.group(groupId);
    return { key: generated.key, apiKey };
  }

  async revoke(actor: Actor, id: string): Promise<ApiKey> {
    const { prisma, now } = this.deps;
    const key = await prisma.$transaction(async (tx) => {
      const before = await tx.apiKey.findUnique({ where: { id }, include: { group: true } });
      if (!before) throw notFound(`API key ${id} does not exist`);
      await requireProjectRole(tx, actor, before.group.projectId, 'DEVELOPER');
      if (before.revokedAt) return before;
      const after = await tx.apiKey.update({ where: { id }, data: { revokedAt: now() } });
      await audit(tx, actor, 'revokeApiKey', 'ApiKey', id, before, after, now());
      return after;
    });
    await this.changes.group(key.groupId);
    await this.changes.dataPlane(`api key ${id} revoked`);
    return key;
  }
}
