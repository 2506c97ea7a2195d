// The production object store: any S3 API endpoint (AWS, MinIO, Ceph, s3rver in tests),
// path-style addressing so it works with servers that have no per-bucket DNS.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { checkObjectKey, ObjectStoreError, type ObjectInfo, type ObjectStore, type StoredObject } from './port.ts';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/'. */
  prefix?: string;
  /** Passed to the SDK; credentials and region otherwise come from AWS_* as the SDK reads them. */
  client?: S3ClientConfig;
}

const isNotFound = (err: unknown): boolean =>
  err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404);

export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.client = new S3Client({
      forcePathStyle: true,
      region: process.env.AWS_REGION ?? 'us-east-1',
      // One quick attempt: callers (the inference-log spool) own retrying, and a dead
      // endpoint must surface as STORE_UNAVAILABLE in seconds, not minutes.
      maxAttempts: 2,
      // Checksums only where S3 requires them: by default the SDK sends a streamed body (putFile)
      // aws-chunked with a CRC trailer, which S3 API servers that do not speak that encoding
      // (s3rver, older MinIO) store verbatim, framing and all: a corrupt object.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      ...options.client,
    });
    const endpoint = options.client?.endpoint;
    this.description = `s3://${this.bucket}${this.prefix ? '/' + this.prefix : ''}${typeof endpoint === 'string' ? ` at ${endpoint}` : ''}`;
  }

  private full(key: string): string {
    checkObjectKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private unavailable(op: string, key: string, err: unknown): ObjectStoreError {
    return new ObjectStoreError('STORE_UNAVAILABLE', `cannot ${op} ${key} in ${this.description}: ${(err as Error).message ?? String(err)}`, key, err);
  }

  async put(key: string, body: Buffer, contentType?: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: body, ContentType: contentType, ContentLength: body.length }),
      );
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      throw this.unavailable('put', key, err);
    }
  }

  async putFile(key: string, file: string, contentType?: string): Promise<void> {
    try {
      // one PUT with a known length, streamed from the file: S3 stores nothing of a cut upload
      const { size } = await stat(file);
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: createReadStream(file), ContentType: contentType, ContentLength: size }),
      );
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      throw this.unavailable('put', key, err);
    }
  }

  async get(key: string): Promise<StoredObject> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
      return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType: res.ContentType };
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      if (isNotFound(err)) throw new ObjectStoreError('OBJECT_NOT_FOUND', `no object ${key}`, key);
      throw this.unavailable('get', key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const fullPrefix = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: fullPrefix, ContinuationToken: token }),
        );
        for (const obj of res.Contents ?? []) {
          if (!obj.Key) continue;
          out.push({ key: obj.Key.slice(strip), size: obj.Size ?? 0, lastModified: obj.LastModified ?? new Date(0) });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.unavailable('list', prefix, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      if (isNotFound(err)) return;
      throw this.unavailable('delete', key, err);
    }
  }

  /** Releases sockets; the store is unusable afterwards. */
  close(): void {
    this.client.destroy();
  }
}
