// Models from an MLflow registry, made runnable by the built-in runtime: checks that a
// registered version exists, downloads its files to a local folder (from the tracking
// server's artifact proxy, or straight from a local path), and reads the ONNX file and the
// column signature out of the MLmodel descriptor. Implements the resolver's
// MlflowModelSource port; failures come out as SluiceErrors for the GraphQL layer.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';
import { SluiceError, badInput } from '../../platform/errors.ts';
import type { ModelSignature, SignatureColumn } from '../../platform/model-signature.ts';
import { ModelError } from '../../runtime/errors.ts';
import { inspectModel } from '../../runtime/model.ts';
import { parseSignature } from '../../runtime/signature.ts';
import type { MlflowModelSource } from './resolver.ts';
import { MlflowError, type MlflowClient } from './mlflow.ts';

export interface MlflowSourceOptions {
  /** A client for a tracking URI (credentials are the factory's business). */
  clientFor(trackingUri: string): MlflowClient;
  /** Where downloaded model folders are kept, e.g. ${SLUICE_DATA_DIR}/models/mlflow */
  cacheDir: string;
}

// MLflow's column types → Sluice's; MLflow spells 32-bit integers "integer".
const MLFLOW_TYPES: Record<string, SignatureColumn['type']> = {
  double: 'double',
  float: 'float',
  long: 'long',
  integer: 'int',
  boolean: 'boolean',
  string: 'string',
};

const asSluice = (err: unknown): unknown => (err instanceof MlflowError ? err.toSluiceError() : err);

/** A column-based MLflow signature (`signature.inputs` is a JSON string in MLmodel). */
export function signatureFromMlmodel(mlmodel: unknown): ModelSignature | null {
  const sig = (mlmodel as { signature?: { inputs?: unknown; outputs?: unknown } } | null)?.signature;
  if (!sig || typeof sig.inputs !== 'string') return null;
  const columns = (text: unknown, side: string): SignatureColumn[] | null => {
    if (typeof text !== 'string') return [];
    let specs: unknown;
    try {
      specs = JSON.parse(text);
    } catch {
      throw badInput(`the MLmodel signature ${side} are not JSON`);
    }
    if (!Array.isArray(specs)) return null;
    const out: SignatureColumn[] = [];
    for (const [i, spec] of specs.entries()) {
      const { name, type } = spec as { name?: unknown; type?: unknown };
      // tensor-based signatures carry no column names: the graph (or the user) must supply them
      if (typeof name !== 'string' || typeof type !== 'string') return null;
      const mapped = MLFLOW_TYPES[type];
      if (!mapped) throw badInput(`the MLmodel signature's ${side} column ${i} ("${name}") has type ${type}, which the runtime cannot take`);
      out.push({ name, type: mapped });
    }
    return out;
  };
  const inputs = columns(sig.inputs, 'inputs');
  if (!inputs || inputs.length === 0) return null;
  const outputs = columns(sig.outputs, 'outputs') ?? [];
  return parseSignature({ inputs, outputs: outputs.filter((o) => o.name) });
}

function onnxFileOf(mlmodel: unknown): string {
  const flavors = (mlmodel as { flavors?: Record<string, { data?: unknown }> } | null)?.flavors ?? {};
  const onnx = flavors.onnx;
  if (!onnx) {
    const names = Object.keys(flavors).join(', ') || 'none';
    throw badInput(`the MLflow model has no onnx flavor (it has ${names}); the built-in runtime serves ONNX models`);
  }
  const data = typeof onnx.data === 'string' ? onnx.data : 'model.onnx';
  if (isAbsolute(data) || data.split('/').includes('..')) throw badInput(`the MLmodel onnx flavor points outside the model folder (${data})`);
  return data;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

/** A safe local name for one entry of a listing (a server must not place files outside). */
function entryName(path: string): string {
  const name = basename(path);
  if (!name || name === '.' || name === '..') throw new MlflowError('INVALID_RESPONSE', `artifact listing has an unusable entry "${path}"`);
  return name;
}

async function downloadTree(client: MlflowClient, remote: string, local: string, depth = 0): Promise<void> {
  if (depth > 8) throw new MlflowError('INVALID_RESPONSE', 'artifact folders nest deeper than 8 levels');
  await mkdir(local, { recursive: true });
  for (const entry of await client.listProxiedArtifacts(remote)) {
    const name = entryName(entry.path);
    const remotePath = remote ? `${remote}/${name}` : name;
    if (entry.isDir) await downloadTree(client, remotePath, join(local, name), depth + 1);
    else await client.downloadProxiedArtifact(remotePath, join(local, name));
  }
}

/** The path part of `mlflow-artifacts:/p`, `mlflow-artifacts://host/p`. */
function proxiedPath(uri: string): string {
  const rest = uri.slice('mlflow-artifacts:'.length);
  const path = rest.startsWith('//') ? rest.slice(2).replace(/^[^/]*/, '') : rest;
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

export function createMlflowModelSource(options: MlflowSourceOptions): MlflowModelSource & {
  /** Download (once) and return the local model folder for a version. */
  fetchModelDir(trackingUri: string, name: string, version: string): Promise<string>;
} {
  const client = (trackingUri: string) => {
    if (!trackingUri) throw badInput('an MLflow model needs the tracking server URI', { field: 'model.trackingUri' });
    try {
      return options.clientFor(trackingUri);
    } catch (err) {
      throw asSluice(err);
    }
  };

  async function fetchModelDir(trackingUri: string, name: string, version: string): Promise<string> {
    const mlflow = client(trackingUri);
    const uri = await mlflow.getDownloadUri(name, version).catch((err: unknown) => {
      throw asSluice(err);
    });
    if (uri.startsWith('file:') || isAbsolute(uri)) {
      // a tracking server on this machine (or a shared mount): use the folder where it is
      return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
    }
    if (!uri.startsWith('mlflow-artifacts:')) {
      const scheme = uri.split(':')[0];
      throw new MlflowError(
        'UNSUPPORTED_ARTIFACT_URI',
        `model "${name}" version ${version} is stored at a ${scheme}: URI; run the tracking server with --serve-artifacts so it can be downloaded through it`,
      ).toSluiceError();
    }
    const key = createHash('sha256').update(`${mlflow.trackingUri}\n${name}\n${version}`).digest('hex').slice(0, 24);
    const dir = join(resolvePath(options.cacheDir), key);
    if (await exists(join(dir, 'MLmodel'))) return dir;
    // download beside, then rename: a crash half-way never leaves a folder that looks complete
    const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
    try {
      await downloadTree(mlflow, proxiedPath(uri), partial);
      await mkdir(dirname(dir), { recursive: true });
      await rm(dir, { recursive: true, force: true });
      await rename(partial, dir);
    } catch (err) {
      await rm(partial, { recursive: true, force: true });
      throw asSluice(err);
    }
    return dir;
  }

  return {
    fetchModelDir,
    async check(trackingUri, name, version) {
      try {
        const found = await client(trackingUri).getModelVersion(name, version);
        if (found.status !== 'READY') throw badInput(`MLflow model "${name}" version ${version} is ${found.status}, not READY`, { field: 'model' });
      } catch (err) {
        if (err instanceof MlflowError && err.code === 'NOT_FOUND') {
          throw badInput(`MLflow model "${name}" version ${version} is not in the registry at ${trackingUri}`, { field: 'model' });
        }
        throw asSluice(err);
      }
    },
    async resolve(trackingUri, name, version) {
      const dir = await fetchModelDir(trackingUri, name, version);
      let mlmodel: unknown;
      try {
        mlmodel = loadYaml(await readFile(join(dir, 'MLmodel'), 'utf8'));
      } catch (err) {
        throw badInput(`MLflow model "${name}" version ${version} has no readable MLmodel file: ${(err as Error).message}`);
      }
      const artifactUri = join(dir, onnxFileOf(mlmodel));
      let signature = signatureFromMlmodel(mlmodel);
      try {
        signature ??= (await inspectModel(artifactUri)).derivedSignature;
      } catch (err) {
        if (err instanceof ModelError) throw new SluiceError('BAD_USER_INPUT', `MLflow model "${name}" version ${version}: ${err.message}`, { modelCode: err.code });
        throw err;
      }
      if (!signature) {
        throw badInput(`MLflow model "${name}" version ${version} has no column signature, and its ONNX graph does not name its columns; log it with a signature`);
      }
      return { artifactUri, signature, format: 'onnx' };
    },
  };
}
