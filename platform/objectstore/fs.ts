// The embedded object store: a folder laid out exactly like a bucket (key = relative path),
// so the same files can later be synced to S3 or read by DuckDB in place.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkObjectKey, ObjectStoreError, type ObjectInfo, type ObjectStore, type StoredObject } from './port.ts';

// Temp files carry this prefix so list() never shows a half-written object.
const TEMP_PREFIX = '.tmp-';
// A folder has no per-object metadata; content types are derived from the key's extension
// (sidecar files would show up in every glob a reader like DuckDB runs over the folder).
const CONTENT_TYPES: [string, string][] = [
  ['.ndjson.gz', 'application/x-ndjson'],
  ['.ndjson', 'application/x-ndjson'],
  ['.json', 'application/json'],
  ['.parquet', 'application/vnd.apache.parquet'],
  ['.gz', 'application/gzip'],
  ['.onnx', 'application/octet-stream'],
  ['.txt', 'text/plain'],
];
export const contentTypeOf = (key: string): string | undefined => CONTENT_TYPES.find(([ext]) => key.endsWith(ext))?.[1];

const isErrno = (err: unknown, code: string): boolean =>
  typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.description = `file://${this.root}`;
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...checkObjectKey(key).split('/'));
  }

  async put(key: string, body: Buffer, _contentType?: string): Promise<void> {
    const target = this.pathOf(key);
    const base = path.basename(target);
    if (base.startsWith(TEMP_PREFIX)) {
      throw new ObjectStoreError('BAD_OBJECT_KEY', `object key ${JSON.stringify(key)} uses a reserved name`, key);
    }
    const dir = path.dirname(target);
    try {
      await mkdir(dir, { recursive: true });
      const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
      const fh = await open(temp, 'w');
      try {
        await fh.writeFile(body);
        // fsync before rename: after a crash the name points at the whole body or the old one.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, target);
    } catch (err) {
      throw new ObjectStoreError('STORE_UNAVAILABLE', `cannot write ${key}: ${(err as Error).message}`, key, err);
    }
  }

  async putFile(key: string, file: string, _contentType?: string): Promise<void> {
    const target = this.pathOf(key);
    if (path.basename(target).startsWith(TEMP_PREFIX)) {
      throw new ObjectStoreError('BAD_OBJECT_KEY', `object key ${JSON.stringify(key)} uses a reserved name`, key);
    }
    const dir = path.dirname(target);
    const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      // copied by the kernel in chunks; fsync before rename as put does
      await copyFile(file, temp);
      const fh = await open(temp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new ObjectStoreError('STORE_UNAVAILABLE', `cannot write ${key}: ${(err as Error).message}`, key, err);
    }
  }

  async get(key: string): Promise<StoredObject> {
    const file = this.pathOf(key);
    try {
      const body = await readFile(file);
      return { body, contentType: contentTypeOf(key) };
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR') || isErrno(err, 'ENOTDIR')) {
        throw new ObjectStoreError('OBJECT_NOT_FOUND', `no object ${key}`, key);
      }
      throw new ObjectStoreError('STORE_UNAVAILABLE', `cannot read ${key}: ${(err as Error).message}`, key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    // Only walk the deepest folder the prefix names completely.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    if (dirKey !== '') checkObjectKey(dirKey);
    const start = dirKey === '' ? this.root : path.join(this.root, ...dirKey.split('/'));
    const walk = async (dir: string, keyBase: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
        throw new ObjectStoreError('STORE_UNAVAILABLE', `cannot list ${prefix}: ${(err as Error).message}`, prefix, err);
      }
      for (const entry of entries) {
        const key = keyBase === '' ? entry.name : `${keyBase}/${entry.name}`;
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(key + '/')) await walk(path.join(dir, entry.name), key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          if (entry.name.startsWith(TEMP_PREFIX)) continue;
          try {
            const st = await stat(path.join(dir, entry.name));
            out.push({ key, size: st.size, lastModified: st.mtime });
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err; // deleted while listing
          }
        }
      }
    };
    await walk(start, dirKey);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await rm(file, { force: true });
    } catch (err) {
      throw new ObjectStoreError('STORE_UNAVAILABLE', `cannot delete ${key}: ${(err as Error).message}`, key, err);
    }
  }
}
