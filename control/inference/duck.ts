// The embedded DuckDB the inference table is written and queried with: one in-memory
// instance per process (bounded memory, spills to a temp folder), a connection per
// operation, and the quoting rules SQL built from feature names needs.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckOptions {
  /** e.g. '512MB'; the job streams, so this bounds it */
  memoryLimit?: string;
  threads?: number;
  tempDir?: string;
}

let shared: Promise<DuckDBInstance> | undefined;
let defaults: DuckOptions = {};

/** Sets the options the process's instance is created with (before its first use). */
export function configureDuck(options: DuckOptions): void {
  defaults = options;
}

export function duckInstance(options: DuckOptions = defaults): Promise<DuckDBInstance> {
  shared ??= (async () => {
    const temp = options.tempDir ?? join(tmpdir(), 'sluice-duckdb');
    mkdirSync(temp, { recursive: true });
    return DuckDBInstance.create(':memory:', {
      memory_limit: options.memoryLimit ?? '384MB',
      threads: String(options.threads ?? 2),
      // a partitioned COPY buffers this many rows per partition before writing (default 512k):
      // with 25 columns that alone was a few hundred MiB of the job's peak memory
      partitioned_write_flush_threshold: '32768',
      // hand freed memory back to the OS instead of keeping it for later queries
      allocator_flush_threshold: '32MB',
      temp_directory: temp,
      // row order inside a Parquet file carries no meaning here; not keeping it lets COPY stream
      preserve_insertion_order: 'false',
      // no extension may be fetched at run time (offline machines, reproducible behaviour)
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'true',
    });
  })();
  return shared;
}

/** Runs `fn` with a fresh connection, closed afterwards. */
export async function withDuck<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await duckInstance()).connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const str = (s: string): string => `'${s.replace(/'/g, "''")}'`;
export const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'NULL');
export const strList = (items: readonly string[]): string => `[${items.map(str).join(', ')}]`;

/** Rows as plain JSON values (DuckDB's BIGINTs come back as strings; counts are turned back into numbers by the caller). */
export async function query(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJson() as Record<string, unknown>[];
}

export const toNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
