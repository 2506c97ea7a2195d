// The built-in model registry as users drive it: register a model version from a path on
// the server or from uploaded bytes (validated as a real model with its signature before
// anything is kept), with the caller recorded and an audit row written.
import { mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, sep } from 'node:path';
import { forbidden, badInput } from '../../platform/errors.ts';
import type { Actor } from '../domain/actor.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { audit } from '../domain/audit.ts';
import { registerModelVersion, toSluiceError, type ResolvedModelVersion } from './builtin.ts';
import { ArtifactStore, artifactKey } from './artifacts.ts';

export const MAX_UPLOAD_BYTES = 48 * 1024 * 1024;

export interface RegisterInput {
  name: string;
  version: string;
  /** an absolute path of an .onnx file the server can read */
  path?: string | null;
  /** the .onnx file itself, base64-encoded (small models over GraphQL) */
  contentBase64?: string | null;
  /** the .onnx file's bytes */
  bytes?: Buffer | null;
  /** a local file holding the upload (the upload endpoint, /models/upload, streams the body
   *  into one); read from disk and streamed on into the store, never whole in memory */
  file?: string | null;
  /** {inputs: [{name, type}], outputs: [...]}; omitted: read from the graph */
  signature?: unknown;
  /** the training baseline for drift (control/inference/baseline.ts) */
  baseline?: unknown;
  description?: string | null;
}

export class ModelRegistry {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly artifacts: ArtifactStore,
    private readonly now: () => Date = () => new Date(),
    /**
     * Where `path` registrations may read from (SLUICE_MODEL_IMPORT_DIR). Null: no folder is
     * configured, and only admins may register by path.
     */
    private readonly importDir: string | null = null,
  ) {}

  /** The real path of `path`, refused unless it lies inside the import folder. */
  private importable(actor: Actor, path: string): string {
    if (!isAbsolute(path)) throw badInput('path must be absolute', { field: 'path' });
    if (this.importDir === null) {
      if (actor.role !== 'ADMIN') throw forbidden('registering by server path needs an import folder (SLUICE_MODEL_IMPORT_DIR); upload the file instead');
      return path;
    }
    let real: string;
    let root: string;
    try {
      real = realpathSync(path);
      root = realpathSync(this.importDir);
    } catch {
      throw badInput(`no file at ${path} in the import folder`, { field: 'path' });
    }
    // symlinks resolved first: a link inside the folder to /etc or the data dir is refused too
    if (!real.startsWith(root + sep)) throw forbidden(`path must be inside the import folder ${this.importDir}`);
    return real;
  }

  async register(actor: Actor, input: RegisterInput): Promise<ResolvedModelVersion> {
    if (actor.role === 'VIEWER') throw forbidden(`${actor.username} may not register models`);
    const given = [input.path, input.contentBase64, input.bytes, input.file].filter((x) => x != null).length;
    if (given !== 1) throw badInput('give exactly one of path and contentBase64', { field: 'path' });
    const common = {
      name: input.name,
      version: input.version,
      createdById: actor.userId,
      description: input.description ?? '',
      ...(input.signature !== undefined && input.signature !== null ? { signature: input.signature } : {}),
      ...(input.baseline !== undefined && input.baseline !== null ? { baseline: input.baseline } : {}),
    };
    let registered: ResolvedModelVersion;
    try {
      if (input.path != null) {
        registered = await registerModelVersion(this.prisma, { ...common, artifactUri: this.importable(actor, input.path) });
      } else if (input.file != null) {
        const size = statSync(input.file).size;
        if (size === 0) throw badInput('the model file is empty', { field: 'file' });
        if (size > MAX_UPLOAD_BYTES) throw badInput(`the model is over ${MAX_UPLOAD_BYTES} bytes; register it by path`, { field: 'file' });
        const key = artifactKey(input.name, input.version);
        // validated from the file first, so nothing reaches the store for a bad upload
        registered = await registerModelVersion(this.prisma, { ...common, artifactUri: key, localPath: input.file });
        try {
          await this.artifacts.uploadFile(key, input.file);
        } catch (error) {
          await this.artifacts.remove(key);
          await this.prisma.modelVersion.deleteMany({ where: { version: input.version, model: { name: input.name } } });
          throw error;
        }
      } else {
        const bytes = input.bytes ?? Buffer.from(input.contentBase64!, 'base64');
        if (bytes.length === 0) throw badInput('the model file is empty (or contentBase64 is not base64)', { field: 'contentBase64' });
        if (bytes.length > MAX_UPLOAD_BYTES) throw badInput(`the model is over ${MAX_UPLOAD_BYTES} bytes; register it by path`, { field: 'contentBase64' });
        // validate from a scratch file first, so nothing reaches the store for a bad upload
        const scratch = mkdtempSync(join(tmpdir(), 'sluice-upload-'));
        const key = artifactKey(input.name, input.version);
        try {
          writeFileSync(join(scratch, 'model.onnx'), bytes);
          registered = await registerModelVersion(this.prisma, { ...common, artifactUri: key, localPath: join(scratch, 'model.onnx') });
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
        try {
          await this.artifacts.upload(key, bytes);
        } catch (error) {
          await this.prisma.modelVersion.deleteMany({ where: { version: input.version, model: { name: input.name } } });
          throw error;
        }
      }
    } catch (error) {
      throw toSluiceError(error);
    }
    await this.prisma.$transaction((tx) => audit(tx, actor, 'registerModelVersion', 'ModelVersion', `${registered.name}/${registered.version}`, null, registered, this.now()));
    return registered;
  }
}
