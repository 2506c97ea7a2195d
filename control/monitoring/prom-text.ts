// A reader of the Prometheus text exposition format (what /metrics of the edge and of each
// runtime answers): samples with their labels. Comments, HELP/TYPE lines and timestamps are
// skipped; a malformed line is skipped rather than failing the whole scrape.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = NAME.exec(line);
    if (!m) continue;
    const name = m[0];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const end = readLabels(rest, labels);
      if (end < 0) continue;
      rest = rest.slice(end);
    }
    const value = parseValue(rest.trim().split(/\s+/)[0] ?? '');
    if (value === null) continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** Reads `{a="x",b="y"}` into `labels`; returns the index after `}` or -1. */
function readLabels(s: string, labels: Record<string, string>): number {
  let i = 1;
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return i + 1;
    const eq = s.indexOf('=', i);
    if (eq < 0 || s[eq + 1] !== '"') return -1;
    const key = s.slice(i, eq).trim();
    let j = eq + 2;
    let value = '';
    while (j < s.length && s[j] !== '"') {
      if (s[j] === '\\' && j + 1 < s.length) {
        const n = s[j + 1];
        value += n === 'n' ? '\n' : (n as string);
        j += 2;
      } else {
        value += s[j];
        j++;
      }
    }
    if (j >= s.length) return -1;
    labels[key] = value;
    i = j + 1;
  }
  return -1;
}

function parseValue(v: string): number | null {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  const n = Number(v);
  return v !== '' && !Number.isNaN(n) ? n : null;
}
