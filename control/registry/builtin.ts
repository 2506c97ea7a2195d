// The built-in model registry over Prisma (RegisteredModel / ModelVersion): register a
// version only after its artifact has loaded as a real model with its signature, and
// resolve name + version back to artifact + signature. Artifacts arrive as local file
// paths (the object store, another module, has already put them on disk).
//
// Errors: artifact problems are the runtime's ModelError (ARTIFACT_NOT_FOUND,
// INVALID_ARTIFACT, SIGNATURE_REQUIRED, INVALID_SIGNATURE); registry problems are
// SluiceErrors (NOT_FOUND, CONFLICT, BAD_USER_INPUT). `toSluiceError` folds both into the
// control plane's codes for GraphQL.
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import { SluiceError, badInput, conflict, notFound } from '../../platform/errors.ts';
import type { ModelSignature } from '../../platform/model-signature.ts';
import type { PrismaClient } from '../../prisma/generated/sqlite/client.ts';
import { ModelError } from '../../runtime/errors.ts';
import { inspectModel, loadModel } from '../../runtime/model.ts';
import { parseSignature } from '../../runtime/signature.ts';
import { parseBaseline } from '../inference/baseline.ts';

export interface RegisterModelVersionInput {
  name: string;
  version: string;
  /** Stored as given: a local path, a file: URL, or an object-store key. */
  artifactUri: string;
  /** Where the artifact can be read now, when artifactUri is not itself a local path. */
  localPath?: string;
  /** Omitted: derived from the graph, which works only when its inputs name the columns. */
  signature?: ModelSignature | unknown;
  /** The training data's summary for drift (control/inference/baseline.ts); validated against the signature. */
  baseline?: unknown;
  createdById?: string | null;
  description?: string;
  modelDescription?: string;
}

export interface ResolvedModelVersion {
  name: string;
  version: string;
  artifactUri: string;
  format: string;
  signature: ModelSignature;
  description: string;
  createdAt: Date;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The local file behind an artifact URI, or null when it is not on this disk (e.g. a store key). */
export function localArtifactPath(artifactUri: string): string | null {
  if (artifactUri.startsWith('file:')) return fileURLToPath(artifactUri);
  return isAbsolute(artifactUri) ? artifactUri : null;
}

/**
 * The signature an ONNX file spells out itself (one named input per column). Throws
 * ModelError SIGNATURE_REQUIRED when the graph takes an unnamed [N, k] matrix, so the
 * caller must bring a signature JSON; INVALID_ARTIFACT when the file is not a model.
 */
export async function readOnnxSignature(path: string): Promise<ModelSignature> {
  const info = await inspectModel(path);
  if (!info.derivedSignature) {
    const shapes = info.inputs.map((m) => (m.isTensor ? `${m.name} [${m.shape.join(', ')}]` : m.name)).join(', ');
    throw new ModelError('SIGNATURE_REQUIRED', `the graph's inputs (${shapes}) do not name the model's columns; give a signature {inputs: [{name, type}], outputs: [...]}`);
  }
  return info.derivedSignature;
}

/**
 * Prove that an artifact is a model the runtime can serve with this signature: load it,
 * score nothing, release it. Returns the signature as validated.
 */
export async function validateArtifact(path: string, signature?: ModelSignature | unknown): Promise<ModelSignature> {
  const sig = signature === undefined ? await readOnnxSignature(path) : parseSignature(signature);
  const model = await loadModel(path, sig);
  await model.close();
  return model.signature;
}

export async function registerModelVersion(prisma: PrismaClient, input: RegisterModelVersionInput): Promise<ResolvedModelVersion> {
  if (!NAME.test(input.name)) throw badInput(`model name "${input.name}" must be letters, digits, ".", "_" or "-" (at most 128)`, { field: 'name' });
  if (!VERSION.test(input.version)) throw badInput(`model version "${input.version}" must be letters, digits, ".", "_" or "-" (at most 64)`, { field: 'version' });
  const path = input.localPath ?? localArtifactPath(input.artifactUri);
  if (!path) throw badInput(`artifact ${input.artifactUri} is not a local file; pass localPath to validate it`, { field: 'artifactUri' });
  const signature = await validateArtifact(path, input.signature);
  const baseline = input.baseline === undefined || input.baseline === null ? null : parseBaseline(input.baseline, signature.inputs.map((c) => c.name));

  const createdById = input.createdById ?? null;
  try {
    const row = await prisma.modelVersion.create({
      data: {
        version: input.version,
        artifactUri: input.artifactUri,
        format: 'onnx',
        signature: signature as unknown as object,
        ...(baseline ? { baseline: baseline as unknown as object } : {}),
        description: input.description ?? '',
        createdById,
        model: {
          connectOrCreate: {
            where: { name: input.name },
            create: { name: input.name, description: input.modelDescription ?? '', createdById },
          },
        },
      },
    });
    return { name: input.name, version: row.version, artifactUri: row.artifactUri, format: row.format, signature, description: row.description, createdAt: row.createdAt };
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`model "${input.name}" already has a version "${input.version}"`);
    throw err;
  }
}

/** Compare versions as numbers where both are numbers ("10" after "9"), else as text. */
function byVersion(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Name + version (or "latest") → artifact and signature. NOT_FOUND when absent. */
export async function resolveModelVersion(prisma: PrismaClient, name: string, version: string): Promise<ResolvedModelVersion> {
  const model = await prisma.registeredModel.findUnique({ where: { name }, include: version === 'latest' ? { versions: true } : { versions: { where: { version } } } });
  if (!model) throw notFound(`model "${name}" is not in the registry`);
  const row = version === 'latest' ? [...model.versions].sort((a, b) => byVersion(a.version, b.version)).pop() : model.versions[0];
  if (!row) throw notFound(version === 'latest' ? `model "${name}" has no versions` : `model "${name}" has no version "${version}"`);
  let signature: ModelSignature;
  try {
    signature = parseSignature(row.signature);
  } catch (err) {
    throw new SluiceError('INTERNAL', `model "${name}" version "${row.version}" has a stored signature that is not valid: ${(err as Error).message}`);
  }
  return { name, version: row.version, artifactUri: row.artifactUri, format: row.format, signature, description: row.description, createdAt: row.createdAt };
}

/** List a model's versions, oldest first. */
export async function listModelVersions(prisma: PrismaClient, name: string): Promise<{ version: string; artifactUri: string; createdAt: Date }[]> {
  const rows = await prisma.modelVersion.findMany({ where: { model: { name } }, select: { version: true, artifactUri: true, createdAt: true } });
  return rows.sort((a, b) => byVersion(a.version, b.version));
}

/** The control plane's code for a registry failure (ModelErrors are the caller's bad input). */
export function toSluiceError(err: unknown): unknown {
  if (err instanceof ModelError) return badInput(err.message, { reason: err.code });
  return err;
}
