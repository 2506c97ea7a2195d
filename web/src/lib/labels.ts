// Turns labels pasted into the dashboard (CSV with a header row, or JSON lines) into the
// LabelInput list submitLabelBatch takes. The columns are the ones importLabels reads from a
// file: client_request_id, label and optionally row_index. Every bad line is reported with
// its number, and nothing is sent while one is bad.
import type { LabelInput } from './types.ts';

export type LabelFormat = 'CSV' | 'JSONL';

export interface ParsedLabels {
  labels: LabelInput[];
  errors: string[];
}

/** One CSV line into fields (RFC 4180 quotes: "a,b" and "" inside quotes). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

/** A CSV cell as a label: a number when it reads as one (as the server's import does), else the text. */
const cellLabel = (text: string): unknown => (text !== '' && Number.isFinite(Number(text)) ? Number(text) : text);

function rowIndexOf(raw: unknown, line: number, errors: string[]): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    errors.push(`line ${line}: row_index must be a non-negative integer, not ${JSON.stringify(raw)}`);
    return undefined;
  }
  return n;
}

function parseCsv(lines: { n: number; text: string }[], errors: string[]): LabelInput[] {
  const [head, ...rows] = lines;
  if (!head) return [];
  const cols = csvFields(head.text).map((c) => c.toLowerCase());
  const id = cols.indexOf('client_request_id');
  const label = cols.indexOf('label');
  const row = cols.indexOf('row_index');
  if (id < 0 || label < 0) {
    errors.push(`line ${head.n}: the header must name client_request_id and label (and optionally row_index), not ${cols.join(', ')}`);
    return [];
  }
  const out: LabelInput[] = [];
  for (const { n, text } of rows) {
    const f = csvFields(text);
    const clientRequestId = f[id] ?? '';
    const value = f[label] ?? '';
    if (clientRequestId === '' || value === '') {
      errors.push(`line ${n}: client_request_id and label are required`);
      continue;
    }
    const rowIndex = row >= 0 ? rowIndexOf(f[row], n, errors) : undefined;
    out.push({ clientRequestId, label: cellLabel(value), ...(rowIndex === undefined ? {} : { rowIndex }) });
  }
  return out;
}

function parseJsonLines(lines: { n: number; text: string }[], errors: string[]): LabelInput[] {
  const out: LabelInput[] = [];
  for (const { n, text } of lines) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      errors.push(`line ${n}: not JSON`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      errors.push(`line ${n}: expected an object like {"client_request_id": "r-1", "label": 1}`);
      continue;
    }
    const o = value as Record<string, unknown>;
    const clientRequestId = o.client_request_id ?? o.clientRequestId;
    const label = o.label;
    if (typeof clientRequestId !== 'string' || clientRequestId === '' || label === undefined || label === null) {
      errors.push(`line ${n}: client_request_id (a string) and label are required`);
      continue;
    }
    const rowIndex = rowIndexOf(o.row_index ?? o.rowIndex, n, errors);
    out.push({ clientRequestId, label, ...(rowIndex === undefined ? {} : { rowIndex }) });
  }
  return out;
}

export function parseLabels(text: string, format: LabelFormat): ParsedLabels {
  const errors: string[] = [];
  const lines = text
    .split(/\r?\n/)
    .map((t, i) => ({ n: i + 1, text: t.trim() }))
    .filter((l) => l.text !== '');
  const labels = format === 'CSV' ? parseCsv(lines, errors) : parseJsonLines(lines, errors);
  if (errors.length === 0 && labels.length === 0) errors.push(format === 'CSV' ? 'no label rows under the header' : 'no labels');
  return { labels: errors.length ? [] : labels, errors };
}
