// One table of MLflow scoring cases, run against the runtime's /invocations and the edge's
// /predict alike (mlflow-runtime.test.ts, mlflow-edge.test.ts), so the two can never
// disagree. Written from what MLflow's scoring server (mlflow/pyfunc/scoring_server and
// its tests) accepts and refuses. Statuses are MLflow's except where DESIGN.md fixes
// another: a body whose values do not fit the signature is 422 (MLflow: 400) with
// MLflow's code for it, INVALID_PARAMETER_VALUE; content types MLflow refuses are 415 as
// there, but answered with the JSON error shape instead of MLflow's plain text.
//
// The model (test/protocols/fixtures.ts): per-column.onnx with the signature
// {x: double, n: long} → y = x * n, so an accepted case also checks what reached the model.

export interface MlflowCase {
  name: string;
  /** content-type header; default application/json; null = none sent */
  contentType?: string | null;
  /** sent as is when a string, else as JSON */
  body: unknown;
  status: number;
  /** 200: the predictions; else the error_code and a part of the message */
  predictions?: number[];
  code?: string;
  message?: string;
}

const J = 'application/json';
const split = (columns: unknown, data: unknown, extra: Record<string, unknown> = {}) => ({ dataframe_split: { columns, data, ...extra } });

export const MLFLOW_CASES: MlflowCase[] = [
  // ---- accepted
  { name: 'dataframe_split, columns in signature order', body: split(['x', 'n'], [[1.5, 2], [2, 3]]), status: 200, predictions: [3, 6] },
  { name: 'dataframe_split, columns in another order', body: split(['n', 'x'], [[2, 1.5], [3, 2]]), status: 200, predictions: [3, 6] },
  { name: 'dataframe_split with an index (pandas orient=split)', body: split(['x', 'n'], [[1.5, 2], [2, 3]], { index: [10, 11] }), status: 200, predictions: [3, 6] },
  { name: 'dataframe_split, an extra column is dropped', body: split(['x', 'extra', 'n'], [[1.5, 'zzz', 2]]), status: 200, predictions: [3] },
  { name: 'dataframe_split, a number sent as a string is cast (double)', body: split(['x', 'n'], [['1.5', 2]]), status: 200, predictions: [3] },
  { name: 'dataframe_split, an integer sent as a string is cast (long)', body: split(['x', 'n'], [[1.5, '4']]), status: 200, predictions: [6] },
  { name: 'dataframe_split, an integral number is a long', body: split(['x', 'n'], [[2, 5.0]]), status: 200, predictions: [10] },
  { name: 'dataframe_records', body: { dataframe_records: [{ x: 1.5, n: 2 }, { n: 3, x: 2 }] }, status: 200, predictions: [3, 6] },
  { name: 'dataframe_records, an extra key is dropped', body: { dataframe_records: [{ x: 1.5, n: 2, note: 'hi' }] }, status: 200, predictions: [3] },
  { name: 'inputs as {column: [values]}', body: { inputs: { x: [1.5, 2], n: [2, 3] } }, status: 200, predictions: [3, 6] },
  { name: 'inputs as {column: value} (one row)', body: { inputs: { x: 1.5, n: 2 } }, status: 200, predictions: [3] },
  { name: 'inputs as {column: [values]}, a scalar broadcast', body: { inputs: { x: [1, 2], n: 3 } }, status: 200, predictions: [3, 6] },
  { name: 'inputs as a list of records', body: { inputs: [{ x: 1.5, n: 2 }, { x: 2, n: 3 }] }, status: 200, predictions: [3, 6] },
  { name: 'instances as a list of records', body: { instances: [{ x: 1.5, n: 2 }, { x: 2, n: 3 }] }, status: 200, predictions: [3, 6] },
  { name: 'instances as {column: [values]}', body: { instances: { x: [1.5], n: [2] } }, status: 200, predictions: [3] },
  { name: 'params ride along', body: { ...split(['x', 'n'], [[1.5, 2]]), params: { temperature: 0.1 } }, status: 200, predictions: [3] },
  { name: 'an extra top-level key is ignored', body: { ...split(['x', 'n'], [[1.5, 2]]), model_hint: 'x' }, status: 200, predictions: [3] },
  { name: 'params null is no params', body: { ...split(['x', 'n'], [[1.5, 2]]), params: null }, status: 200, predictions: [3] },
  { name: 'content type with charset=UTF-8', contentType: `${J}; charset=UTF-8`, body: split(['x', 'n'], [[1.5, 2]]), status: 200, predictions: [3] },
  { name: 'content type in upper case', contentType: 'Application/JSON', body: split(['x', 'n'], [[1.5, 2]]), status: 200, predictions: [3] },
  { name: 'CSV with a header row', contentType: 'text/csv', body: 'x,n\n1.5,2\n2,3\n', status: 200, predictions: [3, 6] },
  { name: 'CSV, extra column, quoted field, CRLF, no final newline', contentType: 'text/csv; charset=utf-8', body: 'n,"note, quoted",x\r\n2,"a ""b""",1.5\r\n3,c,2', status: 200, predictions: [3, 6] },

  // ---- refused: the body's shape (400)
  { name: 'not JSON', body: 'this is,,,, not valid json', status: 400, code: 'BAD_REQUEST', message: 'Failed to parse input from JSON' },
  { name: 'an empty body', body: '', status: 400, code: 'BAD_REQUEST', message: 'Failed to parse input from JSON' },
  { name: 'a JSON list', body: [[1.5, 2]], status: 400, code: 'BAD_REQUEST', message: 'The input must be a JSON dictionary with exactly one of the input fields' },
  { name: 'a JSON number', body: '1', status: 400, code: 'BAD_REQUEST', message: 'The input must be a JSON dictionary' },
  { name: 'a JSON string', body: '"1"', status: 400, code: 'BAD_REQUEST', message: 'The input must be a JSON dictionary' },
  { name: 'no input field', body: { not: 'a serialized dataframe' }, status: 400, code: 'BAD_REQUEST', message: 'exactly one of the input fields' },
  { name: 'two input fields', body: { dataframe_records: [], dataframe_split: { data: [] } }, status: 400, code: 'BAD_REQUEST', message: 'exactly one of the input fields' },
  { name: 'dataframe_split given as records', body: { dataframe_split: [{ x: 1.5, n: 2 }] }, status: 400, code: 'BAD_REQUEST', message: 'Dataframe split format must be a dictionary. Got list' },
  { name: 'dataframe_records given as split', body: { dataframe_records: { columns: ['x', 'n'], data: [[1.5, 2]] } }, status: 400, code: 'BAD_REQUEST', message: 'Dataframe records format must be a list of records. Got dictionary' },
  { name: 'dataframe_split, index of another length', body: { dataframe_split: { index: [1, 2], data: [[1], [2], [3]] } }, status: 400, code: 'BAD_REQUEST', message: 'not a valid dataframe representation' },
  { name: 'dataframe_split, a ragged row', body: split(['x', 'n'], [[1.5, 2], [3]]), status: 400, code: 'BAD_REQUEST', message: 'not a valid dataframe representation' },
  { name: 'dataframe_split, an unknown field', body: split(['x', 'n'], [[1.5, 2]], { dtype: 'float' }), status: 400, code: 'BAD_REQUEST', message: 'unknown field "dtype"' },
  { name: 'dataframe_split, a column named twice', body: split(['x', 'x'], [[1.5, 2]]), status: 400, code: 'BAD_REQUEST', message: 'named twice' },
  { name: 'dataframe_split with no rows', body: split(['x', 'n'], []), status: 400, code: 'BAD_REQUEST', message: 'no rows' },
  { name: 'dataframe_records, an entry that is not a record', body: { dataframe_records: [{ x: 1, n: 2 }, [1, 2]] }, status: 400, code: 'BAD_REQUEST', message: 'dataframe_records[1]' },
  { name: 'inputs mixing records and rows', body: { inputs: [{ x: 1, n: 2 }, [1, 2]] }, status: 400, code: 'BAD_REQUEST', message: 'mixes records' },
  { name: 'inputs with columns of unequal length', body: { inputs: { x: [1, 2], n: [3] } }, status: 400, code: 'BAD_REQUEST', message: 'The length of values for each input/column name are not the same' },
  { name: 'params that are not a dictionary', body: { ...split(['x', 'n'], [[1.5, 2]]), params: [1] }, status: 400, code: 'INVALID_PARAMETER_VALUE', message: 'Parameters must be a dictionary' },
  { name: 'CSV, empty', contentType: 'text/csv', body: '', status: 400, code: 'BAD_REQUEST', message: 'no columns to parse' },
  { name: 'CSV, a ragged line', contentType: 'text/csv', body: 'x,n\n1.5,2,9\n', status: 400, code: 'BAD_REQUEST', message: 'line 2 has 3 fields' },
  { name: 'CSV, header only', contentType: 'text/csv', body: 'x,n\n', status: 400, code: 'BAD_REQUEST', message: 'no rows' },

  // ---- refused: the content type (415)
  { name: 'text/plain', contentType: 'text/plain', body: split(['x', 'n'], [[1.5, 2]]), status: 415, code: 'BAD_REQUEST', message: "only supports the following content types" },
  { name: 'no content type', contentType: null, body: split(['x', 'n'], [[1.5, 2]]), status: 415, code: 'BAD_REQUEST', message: 'only supports the following content types' },
  { name: 'an application/*+json type', contentType: 'application/vnd.api+json', body: split(['x', 'n'], [[1.5, 2]]), status: 415, code: 'BAD_REQUEST' },
  { name: "MLflow 1.x's format parameter", contentType: `${J}; format=pandas-split`, body: split(['x', 'n'], [[1.5, 2]]), status: 415, code: 'BAD_REQUEST', message: 'Unrecognized content type parameters' },
  { name: 'a charset other than UTF-8', contentType: `${J}; charset=latin-1`, body: split(['x', 'n'], [[1.5, 2]]), status: 415, code: 'BAD_REQUEST', message: 'only supports UTF-8' },

  // ---- refused: the signature (422 INVALID_PARAMETER_VALUE)
  { name: 'a missing column', body: split(['x'], [[1.5]]), status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'Model is missing inputs ["n"]' },
  { name: 'a missing column, with an extra one', body: split(['x', 'm'], [[1.5, 2]]), status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'Note that there were extra inputs: ["m"]' },
  { name: 'a string that is not a number', body: split(['x', 'n'], [['abc', 2]]), status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'column "x" row 0' },
  { name: 'a fraction for a long column', body: split(['x', 'n'], [[1.5, 2], [1.5, 2.5]]), status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'column "n" row 1' },
  { name: 'a missing value (null)', body: split(['x', 'n'], [[null, 2]]), status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'missing value' },
  { name: 'a record without one of the columns', body: { dataframe_records: [{ x: 1, n: 2 }, { x: 2 }] }, status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'column "n" row 1' },
  { name: 'a boolean for a double column', body: { dataframe_records: [{ x: true, n: 2 }] }, status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'column "x"' },
  { name: 'inputs as a list of rows (no column names)', body: { inputs: [[1.5, 2]] }, status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'Model is missing inputs ["x","n"]' },
  { name: 'instances as a list of rows (no column names)', body: { instances: [[1.5, 2]] }, status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'Model is missing inputs' },
  { name: 'dataframe_split without columns', body: { dataframe_split: { data: [[1.5, 2]] } }, status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'Model is missing inputs' },
  { name: 'CSV, a missing column', contentType: 'text/csv', body: 'x\n1.5\n', status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'Model is missing inputs ["n"]' },
  { name: 'CSV, a cell that is not a number', contentType: 'text/csv', body: 'x,n\n1.5,two\n', status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'column "n" row 0' },
  { name: 'CSV, an empty cell', contentType: 'text/csv', body: 'x,n\n,2\n', status: 422, code: 'INVALID_PARAMETER_VALUE', message: 'column "x" row 0' },
];

/** The request init of a case. */
export function caseRequest(c: MlflowCase, extraHeaders: Record<string, string> = {}): RequestInit {
  const headers: Record<string, string> = { ...extraHeaders };
  const type = c.contentType === undefined ? J : c.contentType;
  if (type !== null) headers['content-type'] = type;
  return { method: 'POST', headers, body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) };
}
