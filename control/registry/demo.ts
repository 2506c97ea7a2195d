// Seeds the built-in registry with the demo model `wine-classifier` versions 1 and 2 from
// the committed files under runtime/demo (trained by runtime/demo/train.py), each with its
// training baseline for drift. Idempotent:
// versions already registered are left alone, except that an artifact path that moved
// (the checkout now lives elsewhere) is pointed at the current files.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { repoRoot } from '../../platform/paths.ts';
import type { PrismaClient } from '../../prisma/generated/sqlite/client.ts';
import { readSignatureFile } from '../../runtime/signature.ts';
import { registerModelVersion } from './builtin.ts';

export const DEMO_MODEL_NAME = 'wine-classifier';
export const DEMO_MODEL_VERSIONS = ['1', '2'] as const;
export const DEFAULT_DEMO_DIR = join(repoRoot, 'runtime', 'demo');

const MODEL_DESCRIPTION =
  "Wine cultivar classifier on scikit-learn's wine data set (13 chemical measurements, 3 classes); predicts the class label 0, 1 or 2.";

export interface SeededVersion {
  name: string;
  version: string;
  artifactUri: string;
  created: boolean;
}

async function versionDescriptions(demoDir: string): Promise<Record<string, string>> {
  try {
    const heldout = JSON.parse(await readFile(join(demoDir, 'heldout.json'), 'utf8')) as {
      versions?: Record<string, { description?: string; accuracy?: number }>;
    };
    return Object.fromEntries(
      Object.entries(heldout.versions ?? {}).map(([v, info]) => [
        v,
        `${info.description ?? ''}${info.accuracy === undefined ? '' : `; held-out accuracy ${info.accuracy.toFixed(3)}`}`,
      ]),
    );
  } catch {
    return {};
  }
}

/** The committed training baseline (train.py writes it next to signature.json); undefined when absent. */
async function readBaseline(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function seedDemoModels(
  prisma: PrismaClient,
  options: { demoDir?: string; createdById?: string | null } = {},
): Promise<SeededVersion[]> {
  const demoDir = resolve(options.demoDir ?? DEFAULT_DEMO_DIR);
  const descriptions = await versionDescriptions(demoDir);
  const seeded: SeededVersion[] = [];
  for (const version of DEMO_MODEL_VERSIONS) {
    const dir = join(demoDir, DEMO_MODEL_NAME, version);
    const artifactUri = join(dir, 'model.onnx');
    const existing = await prisma.modelVersion.findFirst({ where: { version, model: { name: DEMO_MODEL_NAME } } });
    const baseline = await readBaseline(join(dir, 'baseline.json'));
    if (existing) {
      if (existing.artifactUri !== artifactUri) await prisma.modelVersion.update({ where: { id: existing.id }, data: { artifactUri } });
      // a database seeded before baselines shipped gets one
      if (existing.baseline === null && baseline !== undefined) await prisma.modelVersion.update({ where: { id: existing.id }, data: { baseline: baseline as object } });
      seeded.push({ name: DEMO_MODEL_NAME, version, artifactUri, created: false });
      continue;
    }
    await registerModelVersion(prisma, {
      name: DEMO_MODEL_NAME,
      version,
      artifactUri,
      signature: await readSignatureFile(join(dir, 'signature.json')),
      baseline,
      createdById: options.createdById ?? null,
      description: descriptions[version] ?? '',
      modelDescription: MODEL_DESCRIPTION,
    });
    seeded.push({ name: DEMO_MODEL_NAME, version, artifactUri, created: true });
  }
  return seeded;
}
