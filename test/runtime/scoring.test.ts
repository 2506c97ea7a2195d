// parseScoringRequest (platform/scoring/mlflow.ts behind runtime/scoring.ts): every MLflow
// body shape, reordering by name, MLflow's casts, and the error for each way a body can
// fail to fit the signature (code, status, and the column/row it names). The HTTP-level
// cases, run against the runtime and the edge alike, are in test/protocols/mlflow-cases.ts.
import { describe, expect, it } from 'vitest';
import type { ModelSignature } from '../../platform/model-signature.ts';
import { mlflowErrorBody } from '../../platform/scoring/errors.ts';
import { ScoringError } from '../../runtime/errors.ts';
import { parseScoringRequest } from '../../runtime/scoring.ts';

const signature: ModelSignature = {
  inputs: [
    { name: 'a', type: 'double' },
    { name: 'b', type: 'long' },
    { name: 'c', type: 'string' },
  ],
  outputs: [{ name: 'y', type: 'double' }],
};
const rows = [
  [1.5, 2, 'x'],
  [-3, 4, 'y'],
];

function failure(body: unknown, maxRows = 1000): ScoringError {
  try {
    parseScoringRequest(body, signature, { maxRows });
  } catch (err) {
    if (err instanceof ScoringError) return err;
    throw err;
  }
  throw new Error('expected a ScoringError');
}

describe('parseScoringRequest: accepted shapes', () => {
  it('dataframe_split in signature order keeps the rows', () => {
    const out = parseScoringRequest({ dataframe_split: { columns: ['a', 'b', 'c'], data: rows } }, signature);
    expect(out.format).toBe('dataframe_split');
    expect(out.rows).toEqual(rows);
  });

  it('dataframe_split in another order is reordered by name; index and other top-level keys ride along', () => {
    const out = parseScoringRequest(
      { client_request_id: 'r-1', anything: true, dataframe_split: { columns: ['c', 'a', 'b'], index: [0, 1], data: [['x', 1.5, 2], ['y', -3, 4]] } },
      signature,
    );
    expect(out.rows).toEqual(rows);
  });

  it('dataframe_records, keys in any order, extra keys dropped', () => {
    const out = parseScoringRequest({ dataframe_records: [{ c: 'x', b: 2, a: 1.5, zzz: 1 }, { a: -3, b: 4, c: 'y' }] }, signature);
    expect(out.rows).toEqual(rows);
  });

  it('inputs as records, as columns, as one row, and instances', () => {
    expect(parseScoringRequest({ inputs: [{ a: 1.5, b: 2, c: 'x' }, { a: -3, b: 4, c: 'y' }] }, signature).rows).toEqual(rows);
    expect(parseScoringRequest({ inputs: { b: [2, 4], a: [1.5, -3], c: ['x', 'y'] } }, signature).rows).toEqual(rows);
    expect(parseScoringRequest({ inputs: { a: 1.5, b: 2, c: 'x' } }, signature).rows).toEqual([rows[0]]);
    expect(parseScoringRequest({ instances: [{ a: 1.5, b: 2, c: 'x' }], params: { k: 1 } }, signature)).toMatchObject({ format: 'instances', rows: [rows[0]], params: { k: 1 } });
  });

  it('casts as MLflow does: numeric strings to numbers, numbers to strings, "true"/"false" to booleans', () => {
    expect(parseScoringRequest({ dataframe_split: { columns: ['a', 'b', 'c'], data: [['1.5', ' 2 ', 7]] } }, signature).rows).toEqual([[1.5, 2, '7']]);
    const flag: ModelSignature = { inputs: [{ name: 'f', type: 'boolean' }], outputs: [] };
    expect(parseScoringRequest({ inputs: ['True', false] }, flag).rows).toEqual([[true], [false]]);
  });

  it('a one-column model takes a flat list, one value per row', () => {
    const one: ModelSignature = { inputs: [{ name: 'v', type: 'double' }], outputs: [] };
    expect(parseScoringRequest({ inputs: [1, 2, 3] }, one).rows).toEqual([[1], [2], [3]]);
  });
});

describe('parseScoringRequest: errors', () => {
  it('a body in no known format is BAD_REQUEST (400)', () => {
    for (const body of [null, [], 'text', {}, { data: [] }, { dataframe_split: {}, inputs: [] }]) {
      const err = failure(body);
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.status).toBe(400);
    }
    expect(failure({ dataframe_split: { columns: 'a', data: [] } }).code).toBe('BAD_REQUEST');
    expect(failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [1, 2, 3] } }).code).toBe('BAD_REQUEST');
  });

  it('no rows is BAD_REQUEST', () => {
    expect(failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [] } }).message).toMatch(/no rows/);
    expect(failure({ inputs: [] }).code).toBe('BAD_REQUEST');
    expect(failure({ dataframe_records: [] }).code).toBe('BAD_REQUEST');
  });

  it('missing columns are INVALID_PARAMETER_VALUE (422) naming them, as MLflow words it', () => {
    const missing = failure({ dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } });
    expect(missing).toMatchObject({ code: 'INVALID_PARAMETER_VALUE', status: 422 });
    expect(missing.message).toBe('Model is missing inputs ["c"].');
    const both = failure({ dataframe_records: [{ a: 1, b: 2, z: 'x' }] });
    expect(both.message).toBe('Model is missing inputs ["c"]. Note that there were extra inputs: ["z"].');
    expect(failure({ inputs: { a: [1], b: [2] } }).details).toMatchObject({ missing: ['c'] });
    // rows without names cannot be matched to several columns
    expect(failure({ inputs: rows }).message).toContain('Model is missing inputs ["a","b","c"]');
  });

  it('a value that cannot be cast names the column and the row', () => {
    const err = failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [rows[0], ['twelve', 4, 'y']] } });
    expect(err).toMatchObject({ code: 'INVALID_PARAMETER_VALUE', status: 422, details: { column: 'a', row: 1 } });
    expect(err.message).toBe('column "a" row 1: expected a number (double), got string "twelve"');
    // reordered columns still report the signature's column name
    expect(failure({ dataframe_split: { columns: ['c', 'b', 'a'], data: [['x', 2, null]] } }).details).toEqual({ column: 'a', row: 0 });
    expect(failure({ dataframe_records: [{ a: 1, b: 2.5, c: 'x' }] }).message).toContain('column "b" row 0: expected an integer (long)');
    expect(failure({ dataframe_records: [{ a: true, b: 2, c: 'x' }] }).details).toEqual({ column: 'a', row: 0 });
    expect(failure({ dataframe_records: [{ a: 1, b: 2, c: { no: 1 } }] }).details).toEqual({ column: 'c', row: 0 });
  });

  it('ragged rows and columns are BAD_REQUEST (not a dataframe)', () => {
    expect(failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [rows[0], [1, 2]] } })).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
    expect(failure({ inputs: { a: [1, 2], b: [2], c: ['x', 'y'] } }).message).toContain('The length of values for each input/column name are not the same');
  });

  it('more rows than the limit is RESOURCE_LIMIT_EXCEEDED (413) before any cell is read', () => {
    const data = new Array(1001).fill([null, null, null]);
    const err = failure({ dataframe_split: { columns: ['a', 'b', 'c'], data } }, 1000);
    expect(err).toMatchObject({ code: 'RESOURCE_LIMIT_EXCEEDED', status: 413, details: { rows: 1001, maxRows: 1000 } });
  });

  it('errors are written as {"error_code", "message"}', () => {
    const err = failure({ inputs: { a: [1], b: [2] } });
    expect(JSON.parse(mlflowErrorBody(err.code, err.message))).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Model is missing inputs ["c"].' });
  });
});
