// The `sluice.capture` Lua filter's script, checked as text (no Lua interpreter here): what it
// reads (the per-route filter_context translate pushes), how it reads the bodies (streamed
// past, never buffered), and what it leaves in dynamic metadata (exactly what the gateway's
// access-log handler parses). Its pushed resources are decoded field by field in
// translate.test.ts and pass the PGV checker in pgv.test.ts.
import { describe, expect, it } from 'vitest';
import { unpackAny } from '../../proto/envoy.ts';
import { CAPTURE_CONTEXT, CAPTURE_KEY, CAPTURE_METADATA_NAMESPACE, FILTER, captureScript } from '../../xds/contract.ts';
import { translate } from '../../xds/translate.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { SETTINGS, version } from './fixtures/model.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const script = captureScript();
const lines = script.split('\n');
const code = lines.filter((l) => !l.trim().startsWith('--')).join('\n');

describe('the capture script', () => {
  it('defines both entry points and closes every block it opens', () => {
    expect(code).toMatch(/^function envoy_on_request\(h\)$/m);
    expect(code).toMatch(/^function envoy_on_response\(h\)$/m);
    // block openers (function, if … then, for … do) against `end`s: a crude balance check
    const words = code.replace(/"[^"]*"/g, '""').match(/\b(function|if|for|while|end)\b/g) ?? [];
    const opened = words.filter((w) => w !== 'end').length;
    expect(words.filter((w) => w === 'end').length).toBe(opened);
  });

  it('streams the bodies past with bodyChunks and copies at most max_bytes: Envoy buffers nothing for it', () => {
    expect(code).toContain(':bodyChunks()');
    expect(code).not.toMatch(/:body\(/);
    // each chunk is cut to what is left of the budget before it is copied
    expect(code).toContain('if n > max - size then n = max - size end');
    expect(code).toContain('chunk:getBytes(0, n)');
    // the budget is the route's max_bytes (maxBodyBytes + 1: the extra byte says "truncated")
    expect(code).toContain(`tonumber(ctx.${CAPTURE_CONTEXT.maxBytes}) or 0`);
  });

  it('draws the sample at the route\'s rate once, on the request, and copies nothing for an unsampled one', () => {
    expect(code).toContain(`tonumber(ctx.${CAPTURE_CONTEXT.sampleRate}) or 0`);
    expect(code).toContain('local sampled = rate >= 1 or math.random() < rate');
    expect(code.match(/math\.random/g)).toHaveLength(1);
    expect(code).toContain('if not sampled then return end');
    // the response side follows the request's draw
    expect(code).toContain(`if mine == nil or mine.${CAPTURE_KEY.sampled} ~= true then return end`);
  });

  it('writes, base64, exactly the namespace and keys the access-log handler reads', () => {
    expect(code).toContain(`local NS = "${CAPTURE_METADATA_NAMESPACE}"`);
    const set = [...code.matchAll(/md:set\(NS, "([a-z_]+)"/g)].map((m) => m[1]);
    expect(new Set(set)).toEqual(new Set(Object.values(CAPTURE_KEY)));
    expect(code).toContain(`md:set(NS, "${CAPTURE_KEY.request}", h:base64Escape(body))`);
    expect(code).toContain(`md:set(NS, "${CAPTURE_KEY.response}", h:base64Escape(body))`);
    expect(code).toContain('h:streamInfo():dynamicMetadata()');
  });

  it('reads every key of the filter_context translate pushes, and only those', () => {
    const model: DataPlaneModel = {
      groups: [{ groupId: 'gid-wine', name: 'wine', versions: [version('v1', 1, 9001, { inferenceTable: { enabled: true, sampleRate: 0.5, maxBodyBytes: 100 } })] }],
    };
    const res = translate(model, SETTINGS);
    const rc = unpackAny<Obj>(res.routes.find((r) => r.name === 'sluice-edge/wine')!.resource as never);
    const pin = (rc.virtual_hosts[0].routes as Obj[]).find((r) => r.name === 'wine/pin/v1')!;
    const ctx = unpackAny<Obj>(pin.typed_per_filter_config[FILTER.capture]).filter_context.fields as Obj;
    expect(Object.keys(ctx).sort()).toEqual(Object.values(CAPTURE_CONTEXT).sort());
    expect(ctx[CAPTURE_CONTEXT.maxBytes].numberValue).toBe(101);
    expect(ctx[CAPTURE_CONTEXT.sampleRate].numberValue).toBe(0.5);
    const read = new Set([...code.matchAll(/ctx\.([a-z_]+)/g)].map((m) => m[1]));
    expect(read).toEqual(new Set(Object.values(CAPTURE_CONTEXT)));
  });
});
