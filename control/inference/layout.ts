// Where the inference table lives in the object store (documented in the README, read by
// Spark/Trino/DuckDB elsewhere): Hive-partitioned Parquet under inference-table/, with the
// underscore folders (labels, quarantine) that partition discovery skips.
//   inference-table/group={g}/version={v}/dt={YYYY-MM-DD}/part-{batch}-{n}.parquet
//   inference-table/_labels/group={g}/labels-{time}-{id}.parquet
//   inference-table/_quarantine/group={g}/{batch}/{object key with / as ~}
export const TABLE_ROOT = 'inference-table';

export const logPrefix = (group: string): string => `inference-logs/${group}/`;
export const groupTablePrefix = (group: string): string => `${TABLE_ROOT}/group=${group}/`;
export const dataFileKey = (group: string, version: string, dt: string, batchId: string, part: number | string): string =>
  `${TABLE_ROOT}/group=${group}/version=${version}/dt=${dt}/part-${batchId}-${part}.parquet`;
export const labelsPrefix = (group: string): string => `${TABLE_ROOT}/_labels/group=${group}/`;
export const quarantinePrefix = (group: string): string => `${TABLE_ROOT}/_quarantine/group=${group}/`;
export const quarantineKey = (group: string, batchId: string, objectKey: string, suffix = ''): string =>
  `${quarantinePrefix(group)}${batchId}/${objectKey.replace(/\//g, '~')}${suffix}`;

/** The Hive glob a reader points at, relative to the store root. */
export const tableGlob = (group: string): string => `${TABLE_ROOT}/group=${group}/version=*/dt=*/*.parquet`;
