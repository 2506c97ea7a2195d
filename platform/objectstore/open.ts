// Turns SLUICE_OBJECT_STORE (`file://…` or `s3://bucket/prefix`) into an ObjectStore.
import { FsObjectStore } from './fs.ts';
import { ObjectStoreError, type ObjectStore } from './port.ts';
import { S3ObjectStore } from './s3.ts';

export interface OpenObjectStoreOptions {
  /** S3 endpoint; defaults to S3_ENDPOINT from the environment (unset = AWS itself). */
  s3Endpoint?: string;
  /** Environment to read S3_ENDPOINT from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

export function openObjectStore(url: string, options: OpenObjectStoreOptions = {}): ObjectStore {
  // `file://./.sluice/objects` (the default built from a relative SLUICE_DATA_DIR) is no
  // valid file URL, so file paths are taken literally rather than URL-parsed.
  if (url.startsWith('file://')) {
    const p = url.slice('file://'.length);
    if (p === '') throw new ObjectStoreError('BAD_OBJECT_KEY', 'file:// object store URL names no folder');
    return new FsObjectStore(p);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ObjectStoreError('BAD_OBJECT_KEY', `object store URL ${JSON.stringify(url)} is not a URL (want file:///path or s3://bucket/prefix)`);
  }
  if (parsed.protocol === 's3:') {
    const bucket = parsed.hostname;
    if (!bucket) throw new ObjectStoreError('BAD_OBJECT_KEY', `object store URL ${JSON.stringify(url)} names no bucket`);
    const env = options.env ?? process.env;
    const endpoint = options.s3Endpoint ?? env.S3_ENDPOINT;
    return new S3ObjectStore({
      bucket,
      prefix: decodeURIComponent(parsed.pathname),
      client: endpoint ? { endpoint } : {},
    });
  }
  throw new ObjectStoreError('BAD_OBJECT_KEY', `object store URL scheme ${parsed.protocol} is not supported (want file: or s3:)`);
}

export * from './port.ts';
export { FsObjectStore } from './fs.ts';
export { S3ObjectStore } from './s3.ts';
