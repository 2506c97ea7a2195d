// The signatures (and training baselines) of a group's versions, by version name: the
// table job types its feature columns from them, quality measures drift against them.
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { ModelSignature } from '../../platform/model-signature.ts';
import { parseSignature } from '../../runtime/signature.ts';
import { parseBaseline, type TrainingBaseline } from './baseline.ts';

export interface VersionModel {
  versionId: string;
  name: string;
  signature: ModelSignature | null;
  baseline: TrainingBaseline | null;
}

export async function groupModels(prisma: PrismaClient, groupId: string): Promise<Map<string, VersionModel>> {
  const versions = await prisma.serviceVersion.findMany({ where: { groupId }, select: { id: true, name: true, modelName: true, modelVersion: true, modelSource: true } });
  const out = new Map<string, VersionModel>();
  for (const v of versions) {
    let signature: ModelSignature | null = null;
    let baseline: TrainingBaseline | null = null;
    if (v.modelSource === 'REGISTRY' && v.modelName && v.modelVersion) {
      const mv = await prisma.modelVersion.findFirst({ where: { version: v.modelVersion, model: { name: v.modelName } }, select: { signature: true, baseline: true } });
      if (mv) {
        try {
          signature = parseSignature(mv.signature);
        } catch {
          signature = null;
        }
        try {
          baseline = mv.baseline === null ? null : parseBaseline(mv.baseline);
        } catch {
          baseline = null;
        }
      }
    }
    out.set(v.name, { versionId: v.id, name: v.name, signature, baseline });
  }
  return out;
}
