// Resolves a version's model reference to something an orchestrator can run: the built-in
// registry's artifact and signature (for REGISTRY), or an MLflow registry's (for MLFLOW,
// through the MLflow client). Implements the domain's ModelResolver port.
import { badInput } from '../../platform/errors.ts';
import type { ModelResolver } from '../domain/deps.ts';
import type { PrismaClient, ServiceVersion } from '../../platform/db/prisma.ts';
import type { BackendSource } from '../orchestrator/port.ts';
import type { ModelSignature } from '../../platform/model-signature.ts';
import type { ArtifactStore } from './artifacts.ts';

export interface MlflowModelSource {
  /** throws BAD_USER_INPUT / NOT_FOUND when the registered model version does not exist */
  check(trackingUri: string, name: string, version: string): Promise<void>;
  resolve(trackingUri: string, name: string, version: string): Promise<{ artifactUri: string; signature: ModelSignature; format: string }>;
}

export class RegistryModelResolver implements ModelResolver {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly mlflow: MlflowModelSource | null = null,
    /** set where models run on this machine: store keys become local files */
    private readonly artifacts: Pick<ArtifactStore, 'localPath'> | null = null,
  ) {}

  private async builtin(name: string, version: string) {
    const found = await this.prisma.modelVersion.findFirst({ where: { version, model: { name } } });
    if (!found) throw badInput(`model "${name}" version "${version}" is not in the model registry`, { field: 'model' });
    return found;
  }

  async check(ref: { source: 'REGISTRY' | 'MLFLOW'; name: string; version: string; trackingUri: string | null }): Promise<void> {
    if (ref.source === 'REGISTRY') {
      await this.builtin(ref.name, ref.version);
      return;
    }
    if (!this.mlflow) throw badInput('MLflow models need an MLflow client; none is configured', { field: 'model.source' });
    await this.mlflow.check(ref.trackingUri ?? '', ref.name, ref.version);
  }

  async resolve(version: ServiceVersion): Promise<Extract<BackendSource, { kind: 'model' }>> {
    const name = version.modelName ?? '';
    const ver = version.modelVersion ?? '';
    if (version.modelSource === 'MLFLOW') {
      if (!this.mlflow) throw badInput('MLflow models need an MLflow client; none is configured');
      const m = await this.mlflow.resolve(version.mlflowTrackingUri ?? '', name, ver);
      return { kind: 'model', modelName: name, modelVersion: ver, artifactUri: m.artifactUri, format: m.format, signature: m.signature };
    }
    const m = await this.builtin(name, ver);
    return {
      kind: 'model',
      modelName: name,
      modelVersion: ver,
      artifactUri: this.artifacts ? await this.artifacts.localPath(m.artifactUri) : m.artifactUri,
      format: m.format,
      signature: m.signature as unknown as ModelSignature,
    };
  }
}
