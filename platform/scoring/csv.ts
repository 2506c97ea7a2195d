// CSV bodies for MLflow's `text/csv` scoring input: a header row of column names, then one
// line per row, as pandas' `DataFrame.to_csv(index=False)` writes it (RFC 4180 quoting,
// CRLF or LF, blank lines skipped). Cells stay strings; the signature casts them later.
import { protocolError } from './errors.ts';

export interface CsvTable {
  columns: string[];
  rows: string[][];
}

/** Splits CSV text into records of fields. Throws BAD_REQUEST on an unterminated quote. */
function records(text: string): string[][] {
  const out: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  const endRecord = () => {
    record.push(field);
    // a blank line (one empty, unquoted field) is skipped as pandas does
    if (!(record.length === 1 && record[0] === '' && !fieldStarted)) out.push(record);
    record = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
      continue;
    }
    if (ch === '"') {
      quoted = true;
      fieldStarted = true;
    } else if (ch === ',') {
      record.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
    } else field += ch;
  }
  if (quoted) throw protocolError('BAD_REQUEST', 'Failed to parse input as CSV: a quoted field is not closed');
  if (field !== '' || record.length > 0 || fieldStarted) endRecord();
  return out;
}

export function parseCsv(text: string): CsvTable {
  const all = records(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  const header = all[0];
  if (!header) throw protocolError('BAD_REQUEST', 'Failed to parse input as CSV: no columns to parse (the body is empty)');
  const rows = all.slice(1);
  for (let r = 0; r < rows.length; r++) {
    const n = (rows[r] as string[]).length;
    if (n !== header.length) {
      throw protocolError('BAD_REQUEST', `Failed to parse input as CSV: line ${r + 2} has ${n} fields; the header has ${header.length}`, { row: r });
    }
  }
  return { columns: header, rows };
}
