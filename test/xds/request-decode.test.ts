// The SotW request decoder's fast path (xds/ads/request.ts) gives exactly what the full
// decoder (the ADS method's own requestDeserialize) gives, or hands the bytes over to it.
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { TYPE_URL, envoyServices, lookupType } from '../../proto/envoy.ts';
import { decodePlainRequest } from '../../xds/ads/request.ts';
import { adsServiceDefinition } from '../../xds/server.ts';

const REQ = 'envoy.service.discovery.v3.DiscoveryRequest';
const encodeReq = (o: object) => Buffer.from(lookupType(REQ).encode(lookupType(REQ).fromObject(o)).finish());
const full = (b: Buffer) => envoyServices().ads.StreamAggregatedResources.requestDeserialize(b);
const served = (b: Buffer) => (adsServiceDefinition().StreamAggregatedResources!.requestDeserialize as (x: Buffer) => unknown)(b);

const outcome = (fn: () => unknown) => {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

describe('SotW request decoding', () => {
  it('reads a plain ACK off the wire as the full decoder does', () => {
    const cases = [
      { type_url: TYPE_URL.route, version_info: 'abc123', response_nonce: '17', resource_names: ['sluice-edge/a', 'sluice-edge/b'] },
      { type_url: TYPE_URL.cluster, version_info: '', response_nonce: '' },
      { type_url: TYPE_URL.listener },
      { resource_names: ['x'.repeat(300), '*'] },
      {},
    ];
    for (const c of cases) {
      const bytes = encodeReq(c);
      const fast = decodePlainRequest(bytes);
      expect(fast).not.toBeNull();
      expect(fast).toEqual(full(bytes));
      expect(served(bytes)).toEqual(full(bytes));
    }
    // empty strings written explicitly (another client's encoder) are present, as protobufjs has them
    const explicit = Buffer.from(new protobuf.Writer().uint32((1 << 3) | 2).string('').uint32((5 << 3) | 2).string('').finish());
    expect(decodePlainRequest(explicit)).toEqual(full(explicit));
    // repeated scalars: the last one wins
    const twice = Buffer.concat([encodeReq({ response_nonce: '1' }), encodeReq({ response_nonce: '2' })]);
    expect(decodePlainRequest(twice)).toEqual(full(twice));
  });

  it('leaves anything else to the full decoder: a node, a NACK, other fields, non-ASCII, malformed bytes', () => {
    const others = [
      encodeReq({ node: { id: 'n1', cluster: 'c' }, type_url: TYPE_URL.cluster }),
      encodeReq({ type_url: TYPE_URL.route, response_nonce: '3', error_detail: { code: 3, message: 'bad route' } }),
      encodeReq({ type_url: TYPE_URL.route, resource_locators: [{ name: 'r' }] }),
      encodeReq({ type_url: TYPE_URL.route, resource_names: ['wéin'] }),
    ];
    for (const bytes of others) {
      expect(decodePlainRequest(bytes)).toBeNull();
      expect(served(bytes)).toEqual(full(bytes));
    }
    // truncated: a length past the end, a length varint cut off
    expect(decodePlainRequest(Buffer.from([(4 << 3) | 2, 10, 0x61]))).toBeNull();
    expect(decodePlainRequest(Buffer.from([(4 << 3) | 2, 0x80]))).toBeNull();
    for (const bytes of [Buffer.from([(4 << 3) | 2, 10, 0x61]), Buffer.from([(4 << 3) | 2, 0x80])]) {
      expect(outcome(() => served(bytes))).toEqual(outcome(() => full(bytes)));
    }
  });
});
