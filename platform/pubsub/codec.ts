// Payloads cross the pub/sub as JSON in both implementations, so a payload that works
// in-process also works through Redis (a Date arrives as a string in both, a function or a
// cycle fails in both).

import { PubSubError } from './errors.ts';

export function encodePayload(payload: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (err) {
    throw new PubSubError('NOT_SERIALIZABLE', `payload is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (json === undefined) throw new PubSubError('NOT_SERIALIZABLE', 'payload is not JSON-serialisable (undefined or a function)');
  return json;
}

export function decodePayload(json: string): unknown {
  return JSON.parse(json) as unknown;
}
