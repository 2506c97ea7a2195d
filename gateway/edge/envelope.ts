// The /predict 200 answer built around the runtime's `{"predictions": …}`.
//
// The runtime's own answer (exactly that one key, as JSON.stringify writes it) has its
// predictions text spliced in as is: it has just been parsed, so it is valid JSON, and
// re-serialising it would give the same bytes at the cost of a second pass. Any other shape
// is serialised from the parsed value. With no backslash in the text a key can only be
// spelt literally, so one `"predictions"` means one member (a duplicated key, which
// JSON.parse folds into one, falls back too).

const PREDICTIONS_PREFIX = '{"predictions":';

function onlyKey(obj: Record<string, unknown>, key: string): boolean {
  let n = 0;
  for (const k in obj) if (k !== key || ++n > 1) return false;
  return n === 1;
}

export function envelope(clientRequestId: string | null, requestId: string, version: string, text: string, obj: Record<string, unknown>): string {
  const head = `{"client_request_id":${JSON.stringify(clientRequestId)},"request_id":${JSON.stringify(requestId)},"version":${JSON.stringify(version)},"predictions":`;
  if (
    text.startsWith(PREDICTIONS_PREFIX) &&
    text.endsWith('}') &&
    onlyKey(obj, 'predictions') &&
    !text.includes('\\') &&
    !text.includes('"predictions"', PREDICTIONS_PREFIX.length)
  ) {
    return head + text.slice(PREDICTIONS_PREFIX.length, -1) + '}';
  }
  return head + JSON.stringify(obj.predictions) + '}';
}
