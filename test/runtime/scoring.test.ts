// parseScoringRequest: every MLflow body shape, reordering by name, and the error for each
// way a body can fail to fit the signature (code, status, and the column/row it names).
import { describe, expect, it } from 'vitest';
import type { ModelSignature } from '../../platform/model-signature.ts';
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

  it('dataframe_split in another order is reordered by name', () => {
    const out = parseScoringRequest(
      { client_request_id: 'r-1', dataframe_split: { columns: ['c', 'a', 'b'], index: [0, 1], data: [['x', 1.5, 2], ['y', -3, 4]] } },
      signature,
    );
    expect(out.rows).toEqual(rows);
    expect(out.clientRequestId).toBe('r-1');
  });

  it('dataframe_records, keys in any order', () => {
    const out = parseScoringRequest({ dataframe_records: [{ c: 'x', b: 2, a: 1.5 }, { a: -3, b: 4, c: 'y' }] }, signature);
    expect(out.rows).toEqual(rows);
  });

  it('inputs as rows, as records, as columns, and instances', () => {
    expect(parseScoringRequest({ inputs: rows }, signature).rows).toEqual(rows);
    expect(parseScoringRequest({ inputs: [{ a: 1.5, b: 2, c: 'x' }, { a: -3, b: 4, c: 'y' }] }, signature).rows).toEqual(rows);
    expect(parseScoringRequest({ inputs: { b: [2, 4], a: [1.5, -3], c: ['x', 'y'] } }, signature).rows).toEqual(rows);
    expect(parseScoringRequest({ inputs: { a: 1.5, b: 2, c: 'x' } }, signature).rows).toEqual([rows[0]]);
    expect(parseScoringRequest({ instances: rows, params: { k: 1 } }, signature)).toMatchObject({ format: 'instances', rows, params: { k: 1 } });
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
    expect(failure({ inputs: rows, extra: 1 }).message).toContain('"extra"');
    expect(failure({ inputs: rows, client_request_id: 5 }).message).toContain('client_request_id');
    expect(failure({ dataframe_split: { columns: 'a', data: [] } }).code).toBe('BAD_REQUEST');
    expect(failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [1, 2, 3] } }).code).toBe('BAD_REQUEST');
  });

  it('no rows is BAD_REQUEST', () => {
    expect(failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [] } }).message).toMatch(/no rows/);
    expect(failure({ inputs: [] }).code).toBe('BAD_REQUEST');
    expect(failure({ dataframe_records: [] }).code).toBe('BAD_REQUEST');
  });

  it('missing, unknown and repeated columns are SCHEMA_MISMATCH (422) naming them', () => {
    const missing = failure({ dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } });
    expect(missing).toMatchObject({ code: 'SCHEMA_MISMATCH', status: 422 });
    expect(missing.message).toContain('missing column "c"');
    const unknown = failure({ dataframe_split: { columns: ['a', 'b', 'c', 'd'], data: [[1, 2, 'x', 0]] } });
    expect(unknown.message).toContain('unknown column "d"');
    expect(failure({ dataframe_split: { columns: ['a', 'b', 'a'], data: [[1, 2, 1]] } }).message).toContain('"a" is given twice');
    const record = failure({ dataframe_records: [{ a: 1, b: 2, c: 'x' }, { a: 1, b: 2, z: 'x' }] });
    expect(record.message).toMatch(/row 1: missing column "c"; unknown column "z"/);
    expect(record.details).toMatchObject({ row: 1 });
    expect(failure({ inputs: { a: [1], b: [2] } }).message).toContain('missing column "c"');
  });

  it('a string where a number belongs names the column and the row', () => {
    const err = failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [rows[0], ['12.5', 4, 'y']] } });
    expect(err).toMatchObject({ code: 'SCHEMA_MISMATCH', status: 422, details: { column: 'a', row: 1 } });
    expect(err.message).toBe('column "a" row 1: expected a number (double), got string "12.5"');
    // reordered columns still report the signature's column name
    expect(failure({ dataframe_split: { columns: ['c', 'b', 'a'], data: [['x', 2, null]] } }).details).toEqual({ column: 'a', row: 0 });
    expect(failure({ inputs: [[1, 2.5, 'x']] }).message).toContain('column "b" row 0: expected an integer (long)');
    expect(failure({ inputs: [[1, 2, 7]] }).details).toEqual({ column: 'c', row: 0 });
    expect(failure({ inputs: [[true, 2, 'x']] }).details).toEqual({ column: 'a', row: 0 });
  });

  it('ragged rows and columns are SCHEMA_MISMATCH', () => {
    const err = failure({ dataframe_split: { columns: ['a', 'b', 'c'], data: [rows[0], [1, 2]] } });
    expect(err).toMatchObject({ code: 'SCHEMA_MISMATCH', details: { row: 1, values: 2, expected: 3 } });
    expect(failure({ inputs: { a: [1, 2], b: [2], c: ['x', 'y'] } }).message).toContain('column "b" has 1 values');
  });

  it('more rows than the limit is PAYLOAD_TOO_LARGE (413) before any row is read', () => {
    const data = new Array(1001).fill(null);
    const err = failure({ dataframe_split: { columns: ['a', 'b', 'c'], data } }, 1000);
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413, details: { rows: 1001, maxRows: 1000 } });
  });

  it('errors serialise as {"error": {code, message}}', () => {
    const json = JSON.parse(JSON.stringify(failure({ inputs: [[1, 2]] })));
    expect(json.error.code).toBe('SCHEMA_MISMATCH');
    expect(typeof json.error.message).toBe('string');
  });
});
