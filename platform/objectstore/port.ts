// The object-store port: the one interface every stage that keeps files in "the bucket"
// (inference logs, model artifacts, exports) talks to, whether the bucket is a folder on
// disk or an S3 API store. Keys are '/'-separated relative paths, never absolute.

export type ObjectStoreErrorCode = 'OBJECT_NOT_FOUND' | 'STORE_UNAVAILABLE' | 'BAD_OBJECT_KEY';

export class ObjectStoreError extends Error {
  readonly code: ObjectStoreErrorCode;
  readonly key: string | undefined;

  constructor(code: ObjectStoreErrorCode, message: string, key?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ObjectStoreError';
    this.code = code;
    this.key = key;
  }
}

export const isObjectStoreError = (err: unknown, code?: ObjectStoreErrorCode): err is ObjectStoreError =>
  err instanceof ObjectStoreError && (code === undefined || err.code === code);

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface StoredObject {
  body: Buffer;
  contentType: string | undefined;
}

export interface ObjectStore {
  /** Replaces the object atomically: readers see the old or the new body, never a part.
   *  The fs store derives the content type from the key's extension instead of storing it. */
  put(key: string, body: Buffer, contentType?: string): Promise<void>;
  /** As put, streaming the body from a local file (never whole in memory); atomic the same way:
   *  a failed or cut copy leaves no object behind. */
  putFile(key: string, file: string, contentType?: string): Promise<void>;
  /** Throws ObjectStoreError OBJECT_NOT_FOUND when absent. */
  get(key: string): Promise<StoredObject>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deleting an absent key is not an error (as in S3). */
  delete(key: string): Promise<void>;
  /** Where the store lives, without credentials, for logs and the README. */
  readonly description: string;
  /** The object's file on this machine, for readers that open files themselves (DuckDB);
   *  only a store that keeps objects as local files has it. */
  localPath?(key: string): string;
}

/** Rejects keys that could escape the bucket root or that S3 and a file system would read differently. */
export function checkObjectKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new ObjectStoreError('BAD_OBJECT_KEY', 'object key must be 1..1024 characters', key);
  }
  if (key.startsWith('/') || key.includes('\\') || key.includes('\0')) {
    throw new ObjectStoreError('BAD_OBJECT_KEY', `object key ${JSON.stringify(key)} is not a relative path`, key);
  }
  for (const part of key.split('/')) {
    if (part === '' || part === '.' || part === '..') {
      throw new ObjectStoreError('BAD_OBJECT_KEY', `object key ${JSON.stringify(key)} has an empty or relative segment`, key);
    }
  }
  return key;
}
