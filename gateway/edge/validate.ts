// What the edge checks in a /predict body before it spends a backend call on it: a JSON
// object in one of MLflow's scoring formats, and for `dataframe_split` (the format the
// contract shows) a well-formed frame: named, unique columns and non-empty, rectangular
// rows of scalars. Whether the columns and cell types fit the model is the runtime's call
// (it knows the signature) and comes back as 422.
import { EdgeError } from './errors.ts';

const FORMATS = ['dataframe_split', 'dataframe_records', 'inputs', 'instances'] as const;
const MAX_CLIENT_REQUEST_ID = 256;

export interface PredictBody {
  clientRequestId: string | null;
  format: (typeof FORMATS)[number];
  /** rows in the request, when the format makes that cheap to know (dataframe_split) */
  rows: number | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';

const badBody = (message: string) => new EdgeError('BAD_REQUEST', message);

/** Parses the raw body (already known to be JSON by content type). Throws EdgeError 400. */
export function parsePredictBody(raw: Buffer): { value: Record<string, unknown>; body: PredictBody; text: string } {
  if (raw.length === 0) throw badBody('the body is empty; send a JSON object with dataframe_split');
  let value: unknown;
  const text = raw.toString('utf8');
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badBody(`the body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw badBody(`the body must be a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  return { value, body: checkPredictBody(value), text };
}

export function checkPredictBody(body: Record<string, unknown>): PredictBody {
  const present: PredictBody['format'][] = [];
  for (const f of FORMATS) if (body[f] !== undefined) present.push(f);
  if (present.length === 0) throw badBody('the body has no input: send {"dataframe_split": {"columns": [...], "data": [[...]]}}');
  if (present.length > 1) throw badBody(`the body has more than one input format: ${present.join(', ')}`);
  const format = present[0] as PredictBody['format'];

  let clientRequestId: string | null = null;
  const crid = body.client_request_id;
  if (crid !== undefined && crid !== null) {
    if (typeof crid !== 'string' && typeof crid !== 'number') throw badBody('client_request_id must be a string');
    clientRequestId = String(crid);
    if (clientRequestId.length > MAX_CLIENT_REQUEST_ID) throw badBody(`client_request_id is longer than ${MAX_CLIENT_REQUEST_ID} characters`);
  }

  let rows: number | null = null;
  if (format === 'dataframe_split') rows = checkSplit(body.dataframe_split);
  else if (format === 'dataframe_records') {
    const recs = body.dataframe_records;
    if (!Array.isArray(recs) || recs.length === 0) throw badBody('dataframe_records must be a non-empty list of row objects');
    if (!recs.every(isObject)) throw badBody('every entry of dataframe_records must be an object');
    rows = recs.length;
  }
  return { clientRequestId, format, rows };
}

function checkSplit(split: unknown): number {
  if (!isObject(split)) throw badBody('dataframe_split must be an object with columns and data');
  const { columns, data } = split;
  if (!Array.isArray(columns) || columns.length === 0) throw badBody('dataframe_split.columns must be a non-empty list of column names');
  // A few columns are compared pairwise: cheaper than building a Set on every request.
  const seen = columns.length > 16 ? new Set<string>() : null;
  for (let i = 0; i < columns.length; i++) {
    const c: unknown = columns[i];
    if (typeof c !== 'string' || c === '') throw badBody(`dataframe_split.columns[${i}] must be a non-empty string`);
    if (seen ? seen.has(c) : columns.indexOf(c) < i) throw badBody(`dataframe_split.columns names "${c}" twice`);
    seen?.add(c);
  }
  if (!Array.isArray(data)) throw badBody('dataframe_split.data must be a list of rows');
  if (data.length === 0) throw badBody('dataframe_split.data has no rows to score');
  const width = columns.length;
  for (let r = 0; r < data.length; r++) {
    const row: unknown = data[r];
    if (!Array.isArray(row)) throw badBody(`dataframe_split.data[${r}] must be a list of ${width} values`);
    if (row.length !== width) throw badBody(`dataframe_split.data[${r}] has ${row.length} values for ${width} columns (ragged data)`);
    for (let c = 0; c < width; c++) {
      if (!isScalar(row[c])) throw badBody(`dataframe_split.data[${r}][${c}] (column "${String(columns[c])}") must be a number, string, boolean or null`);
    }
  }
  const index = split.index;
  if (index !== undefined && (!Array.isArray(index) || index.length !== data.length)) {
    throw badBody('dataframe_split.index must list one label per row');
  }
  return data.length;
}

/** `application/json` or any `application/*+json`, parameters allowed. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const semi = header.indexOf(';');
  const media = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}
