// `POST /models/upload` streams the body to disk (never whole in memory), enforces the size
// limit while streaming (a chunked body without a length too), and leaves nothing behind when
// the body is over the limit or the client goes away midway. The object store's putFile is
// atomic: a failed copy leaves no object and no temp file.
import { createServer, request, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleModelUpload } from '../../control/http/model-upload.ts';
import type { GraphQLContext } from '../../control/graphql/context.ts';
import type { ModelRegistry, RegisterInput } from '../../control/registry/service.ts';
import { FsObjectStore } from '../../platform/objectstore/fs.ts';
import { isObjectStoreError } from '../../platform/objectstore/port.ts';

const LIMIT = 256 * 1024;

describe('model upload: streamed, limited while streaming, nothing left behind', () => {
  let scratchDir: string;
  let server: Server;
  let port = 0;
  const registered: { input: RegisterInput; bytes: Buffer }[] = [];

  beforeAll(async () => {
    scratchDir = mkdtempSync(join(tmpdir(), 'sluice-upload-test-'));
    // the registry sees a file path, reads it as it would validate it
    const registry = {
      register: async (_actor: unknown, input: RegisterInput) => {
        registered.push({ input, bytes: readFileSync(input.file!) });
        return { name: input.name, version: input.version };
      },
    } as unknown as ModelRegistry;
    const ctx = { actor: { userId: 'u1', username: 'dev', role: 'DEVELOPER' }, registry } as unknown as GraphQLContext;
    server = createServer((req, res) => {
      void handleModelUpload(req, res, async () => ctx, { limitBytes: LIMIT, scratchDir });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(scratchDir, { recursive: true, force: true });
  });

  /** Sends `chunks` chunked (no content-length), pausing between them; `abortAfter` cuts the socket. */
  function send(chunks: Buffer[], abortAfter?: number): Promise<{ status: number; body: string } | 'aborted' | 'reset'> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/models/upload?name=m&version=1', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', () => resolve(abortAfter === undefined ? 'reset' : 'aborted'));
      let i = 0;
      const next = () => {
        if (abortAfter !== undefined && i === abortAfter) {
          req.destroy();
          return;
        }
        if (i === chunks.length) return void req.end();
        if (req.destroyed) return;
        req.write(chunks[i++], () => setTimeout(next, 5));
      };
      next();
    });
  }

  const scratchLeft = () => readdirSync(scratchDir);
  const waitEmpty = async () => {
    for (let i = 0; i < 100 && scratchLeft().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    return scratchLeft();
  };

  it('a chunked body within the limit reaches the registry intact as a file, and the scratch copy is removed after', async () => {
    const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const r = await send(chunks);
    expect(r).toMatchObject({ status: 201 });
    expect(registered).toHaveLength(1);
    expect(registered[0]!.bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(registered[0]!.input.bytes).toBeUndefined();
    expect(await waitEmpty()).toEqual([]);
  });

  it('a chunked body over the limit (no content-length) is refused 413 PAYLOAD_TOO_LARGE while streaming; nothing kept', async () => {
    const before = registered.length;
    // 64 chunks of 16 KiB = 1 MiB, four times the limit: refused after the limit, not at the end
    const r = await send(Array.from({ length: 64 }, () => Buffer.alloc(16 * 1024, 1)));
    console.log('[upload oversize]', typeof r === 'object' ? r.status : r);
    if (typeof r === 'object') {
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body)).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: `the model file is over ${LIMIT} bytes` } });
    } else {
      // the server may close the connection before the client reads the 413 (connection: close)
      expect(r).toBe('reset');
    }
    expect(registered.length).toBe(before);
    expect(await waitEmpty()).toEqual([]);
  });

  it('a client that goes away midway leaves no scratch file and registers nothing', async () => {
    const before = registered.length;
    const r = await send(Array.from({ length: 8 }, () => Buffer.alloc(16 * 1024, 2)), 4);
    expect(r).toBe('aborted');
    expect(await waitEmpty()).toEqual([]);
    expect(registered.length).toBe(before);
  });

  it('putFile: the object appears whole, and a failed copy leaves no object or temp file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-store-'));
    try {
      const store = new FsObjectStore(root);
      const src = join(root, '..', `${root.split('/').pop()}-src.onnx`);
      writeFileSync(src, Buffer.alloc(100_000, 7));
      await store.putFile('models/m/1/model.onnx', src);
      expect((await store.get('models/m/1/model.onnx')).body.equals(Buffer.alloc(100_000, 7))).toBe(true);
      rmSync(src);
      const failed = await store.putFile('models/m/2/model.onnx', src).catch((e: unknown) => e);
      expect(isObjectStoreError(failed, 'STORE_UNAVAILABLE')).toBe(true);
      expect(existsSync(join(root, 'models/m/2/model.onnx'))).toBe(false);
      expect(readdirSync(join(root, 'models/m/2'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
