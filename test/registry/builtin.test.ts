// The built-in registry on a fresh, migrated database of each provider (SQLite and
// PostgreSQL): registering validates the artifact, resolving returns what the runtime
// needs, the demo seed is idempotent, and the seeded artifacts really predict.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../runtime/errors.ts';
import { loadModel } from '../../runtime/model.ts';
import {
  listModelVersions,
  readOnnxSignature,
  registerModelVersion,
  resolveModelVersion,
  toSluiceError,
} from '../../control/registry/builtin.ts';
import { seedDemoModels } from '../../control/registry/demo.ts';
import { freshDatabase, providers, type TestDatabase } from '../fixtures/db.ts';
import { DEMO_DIR, type Heldout } from '../runtime/spawn-runtime.ts';

const FIXTURES = new URL('../runtime/fixtures/', import.meta.url).pathname;
const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const wineSignature = JSON.parse(readFileSync(`${DEMO_DIR}/wine-classifier/1/signature.json`, 'utf8')) as unknown;

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error & { code?: string };
}

describe('readOnnxSignature', () => {
  it('derives a per-column graph, asks for a signature for a matrix graph, rejects a non-model', async () => {
    expect(await readOnnxSignature(`${FIXTURES}per-column.onnx`)).toEqual({
      inputs: [
        { name: 'x', type: 'double' },
        { name: 'n', type: 'long' },
      ],
      outputs: [{ name: 'y', type: 'double' }],
    });
    const matrix = await rejection(readOnnxSignature(`${DEMO_DIR}/wine-classifier/1/model.onnx`));
    expect(matrix).toBeInstanceOf(ModelError);
    expect(matrix.code).toBe('SIGNATURE_REQUIRED');
    expect(matrix.message).toContain('input [N, 13]');
    expect((await rejection(readOnnxSignature(`${DEMO_DIR}/heldout.json`))).code).toBe('INVALID_ARTIFACT');
  });
});

for (const provider of providers) {
  describe(`built-in registry on ${provider}`, () => {
    let db: TestDatabase;
    const scratch = mkdtempSync(join(tmpdir(), 'sluice-registry-'));
    beforeAll(async () => {
      db = await freshDatabase(provider);
    });
    afterAll(async () => {
      await db?.drop();
      rmSync(scratch, { recursive: true, force: true });
    });

    it('seeds wine-classifier 1 and 2 idempotently, and they predict like sklearn', async () => {
      const first = await seedDemoModels(db.prisma, { demoDir: DEMO_DIR });
      expect(first.map((v) => [v.version, v.created])).toEqual([
        ['1', true],
        ['2', true],
      ]);
      const again = await seedDemoModels(db.prisma, { demoDir: DEMO_DIR });
      expect(again.every((v) => !v.created)).toBe(true);
      expect(await db.prisma.modelVersion.count()).toBe(2);
      expect(await db.prisma.registeredModel.count()).toBe(1);

      for (const version of ['1', '2'] as const) {
        const resolved = await resolveModelVersion(db.prisma, 'wine-classifier', version);
        expect(resolved.artifactUri).toBe(`${DEMO_DIR}/wine-classifier/${version}/model.onnx`);
        expect(resolved.signature.inputs.map((c) => c.name)).toEqual(heldout.columns);
        expect(resolved.description).toContain('held-out accuracy');
        const model = await loadModel(resolved.artifactUri, resolved.signature);
        try {
          expect(await model.predict(heldout.rows)).toEqual(heldout.versions[version].predictions);
        } finally {
          await model.close();
        }
      }
      expect((await resolveModelVersion(db.prisma, 'wine-classifier', 'latest')).version).toBe('2');
    });

    it('re-seeding after the checkout moved points the versions at the new files', async () => {
      const moved = join(scratch, 'demo');
      for (const v of ['1', '2']) {
        const dir = join(moved, 'wine-classifier', v);
        mkdirSync(dir, { recursive: true });
        copyFileSync(`${DEMO_DIR}/wine-classifier/${v}/model.onnx`, join(dir, 'model.onnx'));
        copyFileSync(`${DEMO_DIR}/wine-classifier/${v}/signature.json`, join(dir, 'signature.json'));
      }
      const seeded = await seedDemoModels(db.prisma, { demoDir: moved });
      expect(seeded.map((s) => s.created)).toEqual([false, false]);
      expect((await resolveModelVersion(db.prisma, 'wine-classifier', '1')).artifactUri).toBe(join(moved, 'wine-classifier', '1', 'model.onnx'));
      await seedDemoModels(db.prisma, { demoDir: DEMO_DIR });
    });

    it('registers a version with a derived signature from a file: URL', async () => {
      const registered = await registerModelVersion(db.prisma, {
        name: 'scaler',
        version: '10',
        artifactUri: pathToFileURL(`${FIXTURES}per-column.onnx`).href,
        createdById: 'user-1',
      });
      expect(registered.signature.inputs).toEqual([
        { name: 'x', type: 'double' },
        { name: 'n', type: 'long' },
      ]);
      await registerModelVersion(db.prisma, { name: 'scaler', version: '9', artifactUri: `${FIXTURES}per-column.onnx` });
      expect((await listModelVersions(db.prisma, 'scaler')).map((v) => v.version)).toEqual(['9', '10']);
      expect((await resolveModelVersion(db.prisma, 'scaler', 'latest')).version).toBe('10');
      const stored = await db.prisma.registeredModel.findUnique({ where: { name: 'scaler' } });
      expect(stored?.createdById).toBe('user-1');
    });

    it('an object-store key is registered with the local copy as the thing validated', async () => {
      const registered = await registerModelVersion(db.prisma, {
        name: 'wine-copy',
        version: '1',
        artifactUri: 'models/wine-copy/1/model.onnx',
        localPath: `${DEMO_DIR}/wine-classifier/1/model.onnx`,
        signature: wineSignature,
      });
      expect(registered.artifactUri).toBe('models/wine-copy/1/model.onnx');
      const noLocal = await rejection(registerModelVersion(db.prisma, { name: 'wine-copy', version: '2', artifactUri: 'models/x.onnx', signature: wineSignature }));
      expect(noLocal.code).toBe('BAD_USER_INPUT');
    });

    it('refuses what is not a model, a signature that does not fit, duplicates, and bad names', async () => {
      const notModel = await rejection(
        registerModelVersion(db.prisma, { name: 'junk', version: '1', artifactUri: `${DEMO_DIR}/heldout.json`, signature: wineSignature }),
      );
      expect(notModel).toBeInstanceOf(ModelError);
      expect(notModel.code).toBe('INVALID_ARTIFACT');
      expect((toSluiceError(notModel) as { code: string }).code).toBe('BAD_USER_INPUT');

      const noSignature = await rejection(registerModelVersion(db.prisma, { name: 'junk', version: '1', artifactUri: `${DEMO_DIR}/wine-classifier/1/model.onnx` }));
      expect(noSignature.code).toBe('SIGNATURE_REQUIRED');
      const misfit = await rejection(
        registerModelVersion(db.prisma, {
          name: 'junk',
          version: '1',
          artifactUri: `${DEMO_DIR}/wine-classifier/1/model.onnx`,
          signature: { inputs: [{ name: 'a', type: 'double' }], outputs: [] },
        }),
      );
      expect(misfit.code).toBe('INVALID_SIGNATURE');
      expect((await rejection(registerModelVersion(db.prisma, { name: 'junk', version: '1', artifactUri: '/nope/model.onnx', signature: wineSignature }))).code).toBe(
        'ARTIFACT_NOT_FOUND',
      );
      // nothing half-registered
      expect(await db.prisma.registeredModel.findUnique({ where: { name: 'junk' } })).toBeNull();

      const duplicate = await rejection(
        registerModelVersion(db.prisma, { name: 'wine-classifier', version: '1', artifactUri: `${DEMO_DIR}/wine-classifier/1/model.onnx`, signature: wineSignature }),
      );
      expect(duplicate.code).toBe('CONFLICT');
      expect((await rejection(registerModelVersion(db.prisma, { name: '../x', version: '1', artifactUri: `${FIXTURES}per-column.onnx` }))).code).toBe('BAD_USER_INPUT');
    });

    it('resolving what is not there is NOT_FOUND', async () => {
      expect((await rejection(resolveModelVersion(db.prisma, 'nope', '1'))).code).toBe('NOT_FOUND');
      const missing = await rejection(resolveModelVersion(db.prisma, 'wine-classifier', '3'));
      expect(missing.code).toBe('NOT_FOUND');
      expect(missing.message).toContain('no version "3"');
    });
  });
}
