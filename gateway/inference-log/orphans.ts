// Hands the spool of an edge process that is gone to a live one. Each `npm run edge` process
// spools into `spool/edge-<pid>` of its own (two live edges never share a batch file), so a
// record fsync'd by an edge that was killed, or stopped while the object store was down,
// sits in a folder no later process would open: its new pid names another one. On start, an
// edge moves the batch files of every such folder whose process is dead into its own spool
// before opening it; its writer then seals what was open and uploads it under the batch's
// own name. A rename moves a file exactly once, so two edges starting together cannot both
// take (and upload) the same batch.
import { open, readdir, rename, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { SEALED_SUFFIX } from './spool.ts';

const EDGE_SPOOL = /^edge-(\d+)$/;

/** The spool folder name of an edge process. */
export function edgeSpoolName(pid: number): string {
  return `edge-${pid}`;
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface AdoptOptions {
  /** `${SLUICE_DATA_DIR}/spool` */
  parent: string;
  /** this process's spool folder, inside `parent`; must exist */
  own: string;
  /** injectable for tests */
  isAlive?: (pid: number) => boolean;
}

export interface AdoptResult {
  /** pids whose spools were taken over */
  from: number[];
  /** batch files moved */
  files: number;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const isCode = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException).code ?? '');

export async function adoptOrphanSpools(o: AdoptOptions): Promise<AdoptResult> {
  const isAlive = o.isAlive ?? processAlive;
  const own = path.resolve(o.own);
  const result: AdoptResult = { from: [], files: 0 };
  let names: string[];
  try {
    names = await readdir(o.parent);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return result;
    throw err;
  }
  for (const name of names) {
    const m = EDGE_SPOOL.exec(name);
    const dir = path.resolve(o.parent, name);
    if (!m || dir === own || isAlive(Number(m[1]))) continue;
    let files: string[];
    try {
      files = await readdir(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) continue;
      throw err;
    }
    let moved = 0;
    // `.open.ndjson` ends in `.ndjson` too: open and sealed batches both move, names unchanged.
    for (const file of files.filter((f) => f.endsWith(SEALED_SUFFIX))) {
      try {
        await rename(path.join(dir, file), path.join(own, file));
        moved++;
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err; // another edge took it first
      }
    }
    if (moved > 0) {
      // The move is made durable before the writer uploads and deletes the batch here.
      // (Were it undone by a crash, the batch would be adopted again and uploaded under
      // the same object names: overwritten, never a second copy.)
      await fsyncDir(own);
      await fsyncDir(dir);
      result.from.push(Number(m[1]));
      result.files += moved;
    }
    await rmdir(dir).catch(() => {}); // not empty (foreign files) or gone: leave it
  }
  return result;
}
