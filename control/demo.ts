// The demo that `npm start` sets up on first start with an empty database (SLUICE_DEMO=1):
// the service group `wine-quality` with versions v1 and v2 of the wine classifier, split
// 80/20, auth and the inference table on, and an API key written to the data dir.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Domain, Actor } from './domain/index.ts';

export const DEMO_GROUP = 'wine-quality';
export const DEMO_MODEL = 'wine-classifier';
export const DEMO_KEY_FILE = 'demo-api-key';

export interface DemoResult {
  created: boolean;
  apiKey: string | null;
  groupId: string | null;
  /** false when the versions did not both reach RUNNING in time (traffic left as it was) */
  split: boolean;
}

async function waitForRunning(domain: Domain, versionIds: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const versions = await domain.deps.prisma.serviceVersion.findMany({ where: { id: { in: versionIds } }, select: { status: true } });
    if (versions.every((v) => v.status === 'RUNNING')) return true;
    if (versions.some((v) => v.status === 'FAILED')) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Creates the demo service when the database has no service group yet. */
export async function setUpDemo(domain: Domain, admin: Actor, dataDir: string, options: { startTimeoutMs?: number } = {}): Promise<DemoResult> {
  const { prisma } = domain.deps;
  if ((await prisma.serviceGroup.count()) > 0) return { created: false, apiKey: null, groupId: null, split: false };
  const group = await domain.groups.create(admin, {
    name: DEMO_GROUP,
    type: 'MODEL_SERVICE',
    description: 'Demo: a wine classifier trained on scikit-learn\'s wine data set, two versions split 80/20',
  });
  const common = { authEnabled: true, replicas: 1, inferenceTable: { enabled: true, sampleRate: 1 }, resources: { cpu: 1, memoryGiB: 1 } };
  const v1 = await domain.versions.add(admin, group.id, { ...common, name: 'v1', description: 'model version 1', model: { name: DEMO_MODEL, version: '1' } });
  const v2 = await domain.versions.add(admin, group.id, { ...common, name: 'v2', description: 'model version 2', model: { name: DEMO_MODEL, version: '2' } });
  const { key } = await domain.apiKeys.create(admin, group.id, { name: 'demo' });
  writeFileSync(join(dataDir, DEMO_KEY_FILE), `${key}\n`, { mode: 0o600 });
  await domain.versions.start(admin, v1.id);
  await domain.versions.start(admin, v2.id);
  const running = await waitForRunning(domain, [v1.id, v2.id], options.startTimeoutMs ?? 120_000);
  if (running) {
    await domain.traffic.set(admin, group.id, [
      { versionId: v1.id, percent: 80 },
      { versionId: v2.id, percent: 20 },
    ]);
  }
  return { created: true, apiKey: key, groupId: group.id, split: running };
}
