// The 200 answer always carries exactly the runtime's predictions, whichever way it is built.
import { describe, expect, it } from 'vitest';
import { envelope } from '../../gateway/edge/envelope.ts';

const answer = (text: string) => JSON.parse(envelope('c-1', 'r-1', 'v1', text, JSON.parse(text) as Record<string, unknown>)) as Record<string, unknown>;

describe('the /predict answer envelope', () => {
  it('carries the runtime predictions for every shape a runtime may write', () => {
    const bodies = [
      '{"predictions":[0,1,2]}',
      '{"predictions":[{"label":"a \\"quoted\\" \\\\ thing"}]}',
      '{ "predictions" : [ 1.0, 2 ] }',
      '{"predictions":[1],"predictions":[2]}',
      '{"predictions":[1],"extra":"dropped"}',
      '{"predictions":["\\"predictions\\""]}',
      '{"predictions":[{"predictions":[3]}]}',
    ];
    for (const text of bodies) {
      const expected = (JSON.parse(text) as { predictions: unknown }).predictions;
      expect(answer(text), text).toEqual({ client_request_id: 'c-1', request_id: 'r-1', version: 'v1', predictions: expected });
    }
  });

  it('writes the same bytes as serialising the parsed answer, for what the runtime writes', () => {
    const text = JSON.stringify({ predictions: [0, 2, 1, 1.5, -3e-7] });
    const obj = JSON.parse(text) as Record<string, unknown>;
    expect(envelope(null, 'r', 'v2', text, obj)).toBe(JSON.stringify({ client_request_id: null, request_id: 'r', version: 'v2', predictions: obj.predictions }));
  });
});
