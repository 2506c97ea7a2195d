// `npm run k8s:render -- <group> [--file deployments.json] [--namespace ns] [--runtime-image img]`
// prints, as YAML, the Kubernetes objects the orchestrator would apply for a service group's
// versions: read from the database (DATABASE_URL, default file:${SLUICE_DATA_DIR}/sluice.db,
// as platform/settings.ts reads them),
// or from a JSON file of VersionDeployment[] when there is no database at hand. Registry
// credentials are never printed: the pull Secret's data is redacted.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dumpYaml } from '@kubernetes/client-node';
import { SluiceError } from '../../../platform/errors.ts';
import { loadSettings, type Settings } from '../../../platform/settings.ts';
import type { ModelSignature } from '../../../platform/model-signature.ts';
import { versionDeployment, versionSpec } from '../../domain/deployment.ts';
import type { VersionDeployment } from '../port.ts';
import { defaultManifestOptions, orderedObjects, renderManifests, type ManifestOptions } from './manifests.ts';

const USAGE = 'usage: npm run k8s:render -- <group> [--file deployments.json] [--namespace sluice] [--runtime-image image]';
const REDACTED = '<redacted>';

export function renderGroupYaml(deployments: VersionDeployment[], options: ManifestOptions): string {
  const docs: string[] = [];
  for (const d of deployments) {
    const m = renderManifests(d, options);
    if (m.pullSecret) m.pullSecret.data = { '.dockerconfigjson': REDACTED };
    for (const obj of orderedObjects(m)) docs.push(`# ${d.groupName}/${d.versionName}: ${obj.kind}\n${dumpYaml(obj).trimEnd()}`);
  }
  return `${docs.join('\n---\n')}\n`;
}

function readDeploymentsFile(path: string): VersionDeployment[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SluiceError('BAD_USER_INPUT', `cannot read ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new SluiceError('BAD_USER_INPUT', `${path} must hold a JSON array of VersionDeployment`);
  for (const [i, d] of parsed.entries()) {
    const ok = d && typeof d === 'object' && typeof d.groupName === 'string' && typeof d.versionName === 'string' && d.source && d.resources;
    if (!ok) throw new SluiceError('BAD_USER_INPUT', `${path}[${i}] is not a VersionDeployment (groupName, versionName, source, resources)`);
  }
  return parsed as VersionDeployment[];
}

/** The group's versions as the orchestrator would get them, straight from the database. */
async function readDeploymentsFromDb(group: string, databaseUrl: string): Promise<VersionDeployment[]> {
  const { createDatabase } = await import('../../../platform/db/client.ts');
  const { isPrismaError } = await import('../../../platform/db/errors.ts');
  const db = await createDatabase(databaseUrl);
  try {
    const found = await db.prisma.serviceGroup
      .findUnique({
        where: { name: group },
        include: { versions: { orderBy: { createdAt: 'asc' }, include: { resourceGroup: { include: { nodes: { orderBy: { name: 'asc' } } } } } } },
      })
      .catch((error: unknown) => {
        // P2021: no such table — a database Sluice never ran on
        if (isPrismaError(error, 'P2021')) {
          throw new SluiceError('NOT_FOUND', `the database at ${db.safeUrl} has no Sluice tables: run \`npm start\` or \`npm run db:migrate\` first, or pass --file`);
        }
        throw error;
      });
    if (!found) throw new SluiceError('NOT_FOUND', `no service group named "${group}"`);
    const result: VersionDeployment[] = [];
    for (const v of found.versions) {
      const spec = versionSpec(v, { groupName: found.name, resourceGroup: v.resourceGroup });
      let model: Extract<VersionDeployment['source'], { kind: 'model' }> | null = null;
      if (spec.source.kind === 'model') {
        // the built-in registry's row when there is one; an MLflow model is not fetched here
        const { name, version } = spec.source;
        const mv = await db.prisma.modelVersion.findFirst({ where: { version, model: { name } } });
        model = {
          kind: 'model',
          modelName: name,
          modelVersion: version,
          artifactUri: mv?.artifactUri ?? `models/${name}/${version}/model.onnx`,
          format: mv?.format ?? 'onnx',
          signature: (mv?.signature as unknown as ModelSignature | undefined) ?? { inputs: [], outputs: [] },
        };
      }
      // The password stays encrypted: the rendered Secret is redacted anyway.
      result.push(versionDeployment(spec, { model, openSecret: () => REDACTED }));
    }
    return result;
  } finally {
    await db.close();
  }
}

export interface Output {
  write(text: string): unknown;
}

/** The CLI, callable in-process: returns the exit code. */
export async function main(
  argv: string[],
  io: { out: Output; err: Output } = { out: process.stdout, err: process.stderr },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { file: { type: 'string' }, namespace: { type: 'string' }, 'runtime-image': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    io.err.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    io.out.write(`${USAGE}\n`);
    return 0;
  }
  const group = args.positionals[0];
  if (!group && !args.values.file) {
    io.err.write(`${USAGE}\n`);
    return 2;
  }
  let settings: Settings;
  try {
    settings = loadSettings(env);
  } catch (err) {
    io.err.write(`k8s:render: ${(err as Error).message}\n`);
    return 1;
  }
  const store = settings.objectStoreUrl;
  const options = defaultManifestOptions({
    ...(args.values.namespace ? { namespace: args.values.namespace } : {}),
    // the flag, else SLUICE_RUNTIME_IMAGE (as the orchestrator reads it), else the default
    ...((args.values['runtime-image'] || settings.runtimeImage) ? { runtimeImage: (args.values['runtime-image'] || settings.runtimeImage) as string } : {}),
    objectStoreUri: store && !store.startsWith('file:') ? store : null,
  });
  try {
    let deployments = args.values.file ? readDeploymentsFile(args.values.file) : await readDeploymentsFromDb(group as string, settings.databaseUrl);
    if (group) deployments = deployments.filter((d) => d.groupName === group);
    if (deployments.length === 0) {
      io.err.write(`no versions for group "${group}"\n`);
      return 1;
    }
    io.out.write(renderGroupYaml(deployments, options));
    return 0;
  } catch (err) {
    const code = err instanceof SluiceError ? err.code : 'INTERNAL';
    io.err.write(`k8s:render: ${code}: ${(err as Error).message}\n`);
    return 1;
  }
}
