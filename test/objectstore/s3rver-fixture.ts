// Starts a real S3 API server (s3rver) on a loopback port for tests, with stop/restart on
// the same port and folder so outage tests see the same bucket come back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { S3ObjectStore } from '../../platform/objectstore/s3.ts';

export interface S3Fixture {
  endpoint: string;
  port: number;
  bucket: string;
  store(prefix?: string): S3ObjectStore;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startS3rver(bucket = 'sluice-test'): Promise<S3Fixture> {
  const directory = mkdtempSync(path.join(tmpdir(), 'sluice-s3rver-'));
  let server: S3rver | undefined;
  let port = 0;
  const stores: S3ObjectStore[] = [];
  const start = async () => {
    server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket }] });
    const addr = await server.run();
    port = addr.port;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s?.httpServer) return;
    // The SDK keeps sockets alive; close them or close() waits for them forever.
    s.httpServer.closeAllConnections();
    await s.close();
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    store(prefix?: string) {
      const st = new S3ObjectStore({
        bucket,
        prefix,
        client: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
      });
      stores.push(st);
      return st;
    },
    stop,
    start,
    async dispose() {
      for (const st of stores) st.close();
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
