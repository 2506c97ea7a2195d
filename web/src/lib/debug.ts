// The online debugger's pure parts: an example request built from a model's signature, and the
// equivalent curl command (key masked unless asked).
export interface SignatureColumn { name: string; type: string }
export interface Signature { inputs: SignatureColumn[]; outputs?: SignatureColumn[] }

/** A signature as the registry stores it, or null when the JSON is not one. */
export function asSignature(value: unknown): Signature | null {
  if (!value || typeof value !== 'object') return null;
  const inputs = (value as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs)) return null;
  const cols = inputs.filter((c): c is SignatureColumn => !!c && typeof c === 'object' && typeof (c as SignatureColumn).name === 'string' && typeof (c as SignatureColumn).type === 'string');
  return cols.length === inputs.length ? { inputs: cols } : null;
}

const exampleValue = (type: string): unknown => (type === 'string' ? 'text' : type === 'boolean' ? true : type === 'int' || type === 'long' ? 1 : 0.5);

/** One valid row in the /predict body shape (CONTRACT.md, "/predict"). */
export function exampleBody(signature: Signature | null): string {
  const columns = signature?.inputs.map((c) => c.name) ?? ['x'];
  const row = signature?.inputs.map((c) => exampleValue(c.type)) ?? [0];
  return JSON.stringify({ dataframe_split: { columns, data: [row] } }, null, 2);
}

/** The curl command for the same request; the key shows as <API key> unless `reveal`. */
export function curlCommand(url: string, body: string, opts: { key?: string; reveal?: boolean; version?: string }): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = [`curl -sS -X POST ${quote(url)}`, `-H 'content-type: application/json'`];
  if (opts.key) parts.push(`-H ${quote(`Authorization: Bearer ${opts.reveal ? opts.key : '<API key>'}`)}`);
  if (opts.version) parts.push(`-H ${quote(`x-sluice-version: ${opts.version}`)}`);
  let compact = body;
  try {
    compact = JSON.stringify(JSON.parse(body));
  } catch {
    // keep the text as typed: the curl shows what would be sent
  }
  parts.push(`-d ${quote(compact)}`);
  return parts.join(' \\\n  ');
}
