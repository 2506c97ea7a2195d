// The table job as its own process: `npm run inference:job -- --group <name|id>` runs one
// run for a group against the configured database and object store (DATABASE_URL,
// SLUICE_OBJECT_STORE, S3_ENDPOINT and AWS_* as the control plane reads them), prints the
// run as one JSON line and exits 0 (1 on failure, with the error). A run killed part-way is
// finished by the next one, exactly once (see job.ts).
//   --batch-objects N     objects per checkpointed batch (default 256)
//   --pause-before-commit MS   (testing) wait between storing a batch's files and its commit,
//   --pause-at-batch N         from the N-th batch of this process on (default 1)
//   --pause-before-claim MS    (testing) wait after the check for a running run, before claiming the lease
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSettings } from '../../platform/settings.ts';
import { createDatabase } from '../../platform/db/client.ts';
import { openObjectStore } from '../../platform/objectstore/open.ts';
import { recordEvent } from '../domain/events.ts';
import { InferenceTableJob } from './job.ts';
import { configureDuck } from './duck.ts';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { group: { type: 'string' }, 'batch-objects': { type: 'string' }, 'pause-before-commit': { type: 'string' }, 'lease-ms': { type: 'string' }, 'pause-at-batch': { type: 'string' }, 'pause-before-claim': { type: 'string' } },
  });
  if (!values.group) {
    process.stderr.write('usage: inference-job --group <name or id> [--batch-objects N]\n');
    return 2;
  }
  const settings = loadSettings(process.env);
  // The job streams log objects into Parquet. DuckDB's JSON functions hold a whole vector of
  // records (2,048 requests of up to 64 rows) per thread: one thread and 192 MB keep the
  // process under 512 MiB at peak; two threads need more than twice that memory and are
  // barely faster on the 2-core machines this runs on.
  configureDuck({ memoryLimit: settings.inferenceTable.duckdbMemory ?? '192MB', threads: 1 });
  const db = await createDatabase(settings.databaseUrl);
  try {
    const group = await db.prisma.serviceGroup.findFirst({ where: { OR: [{ id: values.group }, { name: values.group }] }, select: { id: true } });
    if (!group) {
      process.stderr.write(`no service group ${values.group}\n`);
      return 1;
    }
    const pause = Number(values['pause-before-commit'] ?? 0);
    const pauseAt = Number(values['pause-at-batch'] ?? 1);
    let batches = 0;
    const job = new InferenceTableJob({
      prisma: db.prisma,
      store: openObjectStore(settings.objectStoreUrl),
      workDir: join(settings.dataDir, 'inference-work', `cli-${process.pid}`),
      event: (input) => recordEvent(db.prisma, input, new Date()),
      ...(values['batch-objects'] ? { maxObjectsPerBatch: Number(values['batch-objects']) } : {}),
      ...(values['lease-ms'] ? { leaseMs: Number(values['lease-ms']) } : {}),
      ...(values['pause-before-claim'] ? { beforeClaim: () => new Promise<void>((r) => setTimeout(r, Number(values['pause-before-claim']))) } : {}),
      ...(pause > 0 ? { beforeCommit: (batchId: string) => {
      process.stdout.write(`${JSON.stringify({ stored: batchId })}\n`);
      return ++batches >= pauseAt ? new Promise<void>((r) => setTimeout(r, pause)) : Promise.resolve();
    } } : {}),
    });
    const started = performance.now();
    const result = await job.run(group.id, 'CLI');
    // the run's wall time and the process's peak RSS, for `npm run bench -- table`
    process.stdout.write(`${JSON.stringify({ ...result, ms: Math.round(performance.now() - started), maxRssKiB: process.resourceUsage().maxRSS })}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`inference table run failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
