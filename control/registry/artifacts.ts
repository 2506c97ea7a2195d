// Model artifacts: uploads go to the object store under models/{name}/{version}/model.onnx,
// and whatever runs a model locally gets a file on this disk — the artifact itself when it
// is a local path, else a copy fetched from the store into the data dir's cache once.
import { copyFileSync, mkdirSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { badInput } from '../../platform/errors.ts';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import { localArtifactPath } from './builtin.ts';

export const artifactKey = (name: string, version: string) => `models/${name}/${version}/model.onnx`;

export class ArtifactStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly cacheDir: string,
  ) {}

  async upload(key: string, bytes: Buffer): Promise<void> {
    await this.store.put(key, bytes, 'application/octet-stream');
    this.writeCache(key, bytes);
  }

  /** As upload, streaming from a local file (the upload endpoint's scratch copy). */
  async uploadFile(key: string, file: string): Promise<void> {
    await this.store.putFile(key, file, 'application/octet-stream');
    const path = this.cachePath(key);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(file, `${path}.tmp`);
    renameSync(`${path}.tmp`, path);
  }

  async remove(key: string): Promise<void> {
    await this.store.delete(key).catch(() => undefined);
  }

  /** A path on this disk for the artifact, downloading it from the store the first time. */
  async localPath(artifactUri: string): Promise<string> {
    const local = localArtifactPath(artifactUri);
    if (local) return local;
    const path = this.cachePath(artifactUri);
    if (!existsSync(path)) this.writeCache(artifactUri, (await this.store.get(artifactUri)).body);
    return path;
  }

  private cachePath(key: string): string {
    const path = normalize(join(this.cacheDir, key));
    if (!path.startsWith(normalize(this.cacheDir) + '/')) throw badInput(`artifact key ${key} leaves the cache`, { field: 'artifactUri' });
    return path;
  }

  private writeCache(key: string, bytes: Buffer): void {
    const path = this.cachePath(key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, bytes);
    renameSync(`${path}.tmp`, path);
  }
}
