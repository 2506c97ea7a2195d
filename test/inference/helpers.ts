// Fixtures for the inference table tests: a database with the demo group and its two
// versions (the real wine-classifier signatures and training baselines), and log objects
// written exactly as the gateway writes them (buildInferenceRecord → gzipped NDJSON under
// inference-logs/{group}/{version}/dt=/hour=/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildInferenceRecord, partitionPrefix, type InferenceRecord } from '../../gateway/inference-log/record.ts';
import type { ObjectStore } from '../../platform/objectstore/port.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';

const DEMO = join(import.meta.dirname, '..', '..', 'runtime', 'demo');
export const HELDOUT = JSON.parse(readFileSync(join(DEMO, 'heldout.json'), 'utf8')) as {
  columns: string[];
  rows: number[][];
  labels: number[];
  versions: Record<string, { predictions: number[] }>;
};
export const COLUMNS = HELDOUT.columns;

export async function seedGroup(prisma: PrismaClient, name = 'wine-quality'): Promise<{ groupId: string; v1: string; v2: string }> {
  const project = await prisma.project.upsert({ where: { name: 'inference-test' }, create: { name: 'inference-test' }, update: {} });
  for (const version of ['1', '2']) {
    const dir = join(DEMO, 'wine-classifier', version);
    const data = {
      artifactUri: join(dir, 'model.onnx'),
      signature: JSON.parse(readFileSync(join(dir, 'signature.json'), 'utf8')) as object,
      baseline: JSON.parse(readFileSync(join(dir, 'baseline.json'), 'utf8')) as object,
    };
    const model = await prisma.registeredModel.upsert({ where: { name: 'wine-classifier' }, create: { name: 'wine-classifier' }, update: {} });
    await prisma.modelVersion.upsert({ where: { modelId_version: { modelId: model.id, version } }, create: { modelId: model.id, version, ...data }, update: data });
  }
  const group = await prisma.serviceGroup.create({ data: { name, projectId: project.id } });
  const mk = (v: string, mv: string) =>
    prisma.serviceVersion.create({ data: { groupId: group.id, name: v, modelSource: 'REGISTRY', modelName: 'wine-classifier', modelVersion: mv, inferenceTableEnabled: true } });
  const v1 = await mk('v1', '1');
  const v2 = await mk('v2', '2');
  return { groupId: group.id, v1: v1.id, v2: v2.id };
}

export interface RequestSpec {
  version?: string;
  rows: number[][];
  predictions?: number[];
  clientRequestId?: string;
  status?: number;
  at?: Date;
  shadow?: boolean;
  columns?: string[];
}

export function record(group: string, spec: RequestSpec): InferenceRecord {
  const requestId = randomBytes(8).toString('hex');
  const status = spec.status ?? 200;
  const body = { client_request_id: spec.clientRequestId ?? `c-${requestId}`, dataframe_split: { columns: spec.columns ?? COLUMNS, data: spec.rows } };
  const response = status === 200 ? { client_request_id: body.client_request_id, request_id: requestId, version: spec.version ?? 'v1', predictions: spec.predictions ?? spec.rows.map(() => 0) } : { error_code: 'THROTTLED', message: 'slow down', request_id: requestId };
  const rec = buildInferenceRecord(
    { requestId, group, version: spec.version ?? 'v1', startedAt: spec.at ?? new Date(), latencyMs: 3.5, statusCode: status, requestBody: JSON.stringify(body), responseBody: JSON.stringify(response) },
    { enabled: true, sampleRate: 1, maxBodyBytes: 1 << 20 },
    1,
  );
  return spec.shadow ? ({ ...rec, shadow: true } as InferenceRecord) : rec;
}

let objectSeq = 0;
/** Stores the records as one log object per partition, as the writer does. Returns the keys. */
export async function putLogObject(store: ObjectStore, records: InferenceRecord[]): Promise<string[]> {
  const parts = new Map<string, InferenceRecord[]>();
  for (const r of records) {
    const p = partitionPrefix(r);
    parts.set(p, [...(parts.get(p) ?? []), r]);
  }
  const keys: string[] = [];
  const batch = `${Date.now()}-${process.pid}-${objectSeq++}-${randomBytes(3).toString('hex')}`;
  for (const [prefix, recs] of parts) {
    const key = `${prefix}${batch}.ndjson.gz`;
    await store.put(key, gzipSync(Buffer.from(recs.map((r) => JSON.stringify(r)).join('\n') + '\n')));
    keys.push(key);
  }
  return keys;
}
