// requestFeatures: a recorded request of either protocol back into one {column: value} per
// row, for the inference table; null for a request that cannot be read.
import { describe, expect, it } from 'vitest';
import { requestFeatures } from '../../platform/scoring/records.ts';

describe('requestFeatures', () => {
  it('reads MLflow JSON in every format, and CSV', () => {
    const want = [{ x: 1.5, n: 2 }, { x: 2, n: 3 }];
    expect(requestFeatures(JSON.stringify({ dataframe_split: { columns: ['x', 'n'], data: [[1.5, 2], [2, 3]] } }))).toEqual(want);
    expect(requestFeatures(JSON.stringify({ dataframe_records: want }))).toEqual(want);
    expect(requestFeatures(JSON.stringify({ inputs: { x: [1.5, 2], n: [2, 3] } }))).toEqual(want);
    expect(requestFeatures('x,n\n1.5,2\n', 'mlflow', { contentType: 'csv' })).toEqual([{ x: '1.5', n: '2' }]);
  });

  it('reads OIP tensors: one per column, or a matrix named by the model’s columns', () => {
    const perColumn = { inputs: [{ name: 'x', datatype: 'FP64', shape: [2], data: [1.5, 2] }, { name: 'n', datatype: 'INT64', shape: [2, 1], data: [2, 3] }] };
    expect(requestFeatures(JSON.stringify(perColumn), 'oip')).toEqual([{ x: 1.5, n: 2 }, { x: 2, n: 3 }]);
    const matrix = { inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 2], data: [1.5, 2] }] };
    expect(requestFeatures(JSON.stringify(matrix), 'oip', { columns: ['x', 'n'] })).toEqual([{ x: 1.5, n: 2 }]);
    expect(requestFeatures(JSON.stringify(matrix), 'oip')).toEqual([{ 'input-0[0]': 1.5, 'input-0[1]': 2 }]);
  });

  it('null for what cannot be read', () => {
    expect(requestFeatures('{"dataframe_split": 3}')).toBeNull();
    expect(requestFeatures('{"inputs": [{"name": "x", "dat', 'oip')).toBeNull();
  });
});
