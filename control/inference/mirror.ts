// Local files for DuckDB to read. DuckDB gets local paths only (its httpfs extension is not
// available offline): a store whose objects already are files (the folder store: the port's
// `localPath`) hands out their paths; for an S3 API store they are downloaded through the
// store port into a cache folder laid out like the bucket, once per key and version (size +
// last-modified).
import { mkdir, rm, writeFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkObjectKey, type ObjectInfo, type ObjectStore } from '../../platform/objectstore/port.ts';

export class LocalMirror {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly cacheDir: string,
  ) {}

  /** Local paths of these objects (downloaded where needed), in the same order. */
  async paths(objects: readonly ObjectInfo[]): Promise<string[]> {
    const localPath = this.store.localPath?.bind(this.store);
    if (localPath) return objects.map((o) => localPath(o.key));
    await mkdir(this.cacheDir, { recursive: true });
    const out: string[] = [];
    const queue = [...objects.entries()];
    const result = new Array<string>(objects.length);
    // a few downloads at a time: enough to hide latency, not enough to flood the store
    await Promise.all(
      Array.from({ length: Math.min(4, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [i, o] = next;
          result[i] = await this.fetch(o);
        }
      }),
    );
    out.push(...result);
    return out;
  }

  private async fetch(o: ObjectInfo): Promise<string> {
    const version = `${o.size}:${o.lastModified.getTime()}`;
    // the key's own path, so Hive partition folders (version=/dt=) survive for DuckDB
    const path = join(this.cacheDir, ...checkObjectKey(o.key).split('/'));
    if (this.known.get(o.key) === version) {
      try {
        await stat(path);
        return path;
      } catch {
        // evicted from the cache folder: fetch again
      }
    }
    const { body } = await this.store.get(o.key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    this.known.set(o.key, version);
    return path;
  }

  async clear(): Promise<void> {
    if (this.store.localPath) return;
    this.known.clear();
    await rm(this.cacheDir, { recursive: true, force: true });
  }
}
