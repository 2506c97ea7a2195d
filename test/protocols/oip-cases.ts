// Open Inference Protocol REST requests shared by the runtime and edge tests: the demo wine
// classifier's held-out rows as OIP tensors, and the bad inputs every OIP server must refuse
// with the protocol's error body (`{"error": "..."}`, here with `error_code` beside it).
import { readFileSync } from 'node:fs';
import { DEMO_DIR, type Heldout } from '../runtime/spawn-runtime.ts';

export const heldout = JSON.parse(readFileSync(`${DEMO_DIR}/heldout.json`, 'utf8')) as Heldout;
const width = heldout.columns.length;

/** One [N, 13] FP64 matrix of the first n held-out rows. */
export const matrix = (n: number, name = 'input-0') => ({ name, datatype: 'FP64', shape: [n, width], data: heldout.rows.slice(0, n).flat() });
/** One [N] FP64 tensor per column, named as the column. */
export const perColumn = (n: number) => heldout.columns.map((c, j) => ({ name: c, datatype: 'FP64', shape: [n], data: heldout.rows.slice(0, n).map((r) => r[j]) }));

export interface OipBadCase {
  name: string;
  body: unknown;
  status: number;
  code: string;
  message: string;
}

export const OIP_BAD_INPUTS: OipBadCase[] = [
  { name: 'not JSON', body: '{"inputs": [', status: 400, code: 'BAD_REQUEST', message: 'not valid JSON' },
  { name: 'no inputs', body: { outputs: [] }, status: 400, code: 'BAD_REQUEST', message: '"inputs" must be a list' },
  { name: 'an unknown datatype', body: { inputs: [{ ...matrix(1), datatype: 'FLOAT' }] }, status: 400, code: 'BAD_REQUEST', message: 'unknown datatype "FLOAT"' },
  { name: 'data not of the declared datatype', body: { inputs: [{ ...matrix(1), data: [...matrix(1).data.slice(1), 'x'] }] }, status: 400, code: 'BAD_REQUEST', message: 'element 12 is string "x", not FP64' },
  { name: 'a datatype the column cannot take (BYTES for a double)', body: { inputs: perColumn(1).map((t, j) => (j === 0 ? { ...t, datatype: 'BYTES', data: ['12.9'] } : t)) }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: 'input "alcohol" is BYTES' },
  { name: 'a shape that does not match the data length', body: { inputs: [{ ...matrix(2), shape: [3, width] }] }, status: 400, code: 'BAD_REQUEST', message: `shape [3, ${width}] holds ${3 * width} values but data has ${2 * width}` },
  { name: 'a matrix of the wrong width', body: { inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 2], data: [1, 2] }] }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: `the model takes one [N, ${width}] tensor` },
  { name: 'an unknown input name', body: { inputs: [...perColumn(1), { name: 'vintage', datatype: 'FP64', shape: [1], data: [1999] }] }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: 'unknown input "vintage"' },
  { name: 'a missing input', body: { inputs: perColumn(1).slice(1) }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: 'missing input "alcohol"' },
  { name: 'inputs of different lengths', body: { inputs: perColumn(2).map((t, j) => (j === 1 ? { ...t, shape: [1], data: [t.data[0]] } : t)) }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: 'has 1 rows; the other inputs have 2' },
  { name: 'an input given twice', body: { inputs: [matrix(1), matrix(1)] }, status: 400, code: 'BAD_REQUEST', message: 'given twice' },
  { name: 'an unknown requested output', body: { inputs: [matrix(1)], outputs: [{ name: 'confidence' }] }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: 'unknown output "confidence"' },
  { name: 'the binary data extension', body: { inputs: [{ ...matrix(1), parameters: { binary_data_size: 104 } }] }, status: 400, code: 'BAD_REQUEST', message: 'binary tensor data extension' },
];

/** A JSON body of about 20 MB: one tensor of 2.5 million FP64 values. */
export function twentyMegabytes(): string {
  const n = 2_500_000;
  return JSON.stringify({ inputs: [{ name: 'input-0', datatype: 'FP64', shape: [n / width | 0, width], data: new Array(n).fill(1234.5678) }] });
}
