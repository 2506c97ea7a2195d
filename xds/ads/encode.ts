// Encodes ADS responses once and shares the bytes across streams. A change reaches every
// proxy with (mostly) the same response; encoding it per stream was the largest cost of a
// fan-out. Protobuf merges concatenated encodings of one message (repeated fields append,
// a scalar's last value wins), so a response is built from pre-encoded parts:
//   - SotW: the whole response but its nonce, once per (type set, subscription), plus the
//     stream's own `nonce` field appended; the body is itself assembled from each resource's
//     `resources` entry (its packed Any), encoded once per resource whatever set or
//     subscription it is served in;
//   - delta: one `resources` entry per (resource, version), plus the stream's own small
//     header (version, type, removed names, nonce).
// The bytes go to grpc-js as they are: the server's ADS method serializer passes a Buffer
// through (see xds/server.ts, `adsServiceDefinition`).
import { encode, lookupType, type PackedAny, type XdsTypeUrl } from '../../proto/envoy.ts';
import type { TypeSnapshot } from '../cache.ts';
import type { XdsResource } from '../translate.ts';

const SOTW = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export interface SotwParts {
  url: XdsTypeUrl;
  type: TypeSnapshot;
  /** the stream's subscription as a stable key (streams with equal keys get equal bytes) */
  subscriptionKey: string;
  /** which of the type's resources the subscription takes */
  selects: (r: XdsResource) => boolean;
  /**
   * When only these names can be selected (a set built from the one the client holds):
   * checked instead of every resource of the type. Same selection either way.
   */
  candidates?: readonly string[];
}

export interface DeltaHeader {
  url: XdsTypeUrl;
  systemVersion: string;
  removed: readonly string[];
  nonce: string;
}

/**
 * DiscoveryResponse.nonce (field 5, length-delimited) written by hand: the stream's nonce is
 * a short decimal counter (ads/core.ts), so its tag, length and ASCII bytes are all there is.
 */
function nonceField(nonce: string): Buffer {
  const len = Buffer.byteLength(nonce);
  if (len > 127) return asBuffer(lookupType(SOTW).encode({ nonce }).finish());
  const b = Buffer.allocUnsafe(2 + len);
  b[0] = (5 << 3) | 2;
  b[1] = len;
  b.write(nonce, 2, 'utf8');
  return b;
}

/** `body` with the stream's nonce field appended, in one allocation (once per stream and push). */
function withNonce(body: Buffer, nonce: string): Buffer {
  const len = nonce.length;
  // a decimal counter: ASCII, one byte per char, its length one byte
  if (len > 127 || !/^[0-9]+$/.test(nonce)) return Buffer.concat([body, nonceField(nonce)]);
  const out = Buffer.allocUnsafe(body.length + 2 + len);
  body.copy(out, 0);
  let p = body.length;
  out[p++] = (5 << 3) | 2;
  out[p++] = len;
  out.write(nonce, p, 'latin1');
  return out;
}

export class ResponseEncoder {
  /** per type set (dropped with it), per subscription: the response less its nonce */
  private readonly sotwBodies = new WeakMap<TypeSnapshot, Map<string, { bytes: Buffer; count: number }>>();
  /** per resource (dropped with it): its `resources` entry of a delta response */
  private readonly deltaEntries = new WeakMap<XdsResource, Buffer>();
  /** per resource (dropped with it): its `resources` entry (the packed Any) of a SotW response */
  private readonly sotwEntries = new WeakMap<XdsResource, Buffer>();
  /**
   * encodings done and reused, for the benchmark and tests: responses (SotW bodies, delta
   * entries) and, within SotW bodies, resources
   */
  readonly stats = { encoded: 0, reused: 0, resourcesEncoded: 0, resourcesReused: 0 };

  constructor(private readonly controlPlaneId: string) {}

  /** A whole SotW DiscoveryResponse for one stream; `count` is how many resources it carries. */
  sotw(parts: SotwParts, nonce: string): { bytes: Buffer; count: number } {
    let bySubscription = this.sotwBodies.get(parts.type);
    if (!bySubscription) {
      bySubscription = new Map();
      this.sotwBodies.set(parts.type, bySubscription);
    }
    let body = bySubscription.get(parts.subscriptionKey);
    if (body) {
      this.stats.reused += 1;
    } else {
      // fields in number order, as protobufjs writes them: version_info (1), resources (2),
      // type_url (4), control_plane (6); the stream's nonce (5) comes after, in `sotw`
      const chunks: Buffer[] = [asBuffer(encode(SOTW, { version_info: parts.type.version }))];
      if (parts.candidates) {
        // in name order, as the full walk gives them
        for (const name of [...parts.candidates].sort()) {
          const r = parts.type.resources.get(name);
          if (r && parts.selects(r)) chunks.push(this.sotwEntry(r));
        }
      } else {
        for (const r of parts.type.resources.values()) if (parts.selects(r)) chunks.push(this.sotwEntry(r));
      }
      chunks.push(asBuffer(encode(SOTW, { type_url: parts.url, control_plane: { identifier: this.controlPlaneId } })));
      body = { bytes: Buffer.concat(chunks), count: chunks.length - 2 };
      bySubscription.set(parts.subscriptionKey, body);
      this.stats.encoded += 1;
    }
    return { bytes: withNonce(body.bytes, nonce), count: body.count };
  }

  /** A whole DeltaDiscoveryResponse: the header's fields and one entry per changed resource. */
  delta(header: DeltaHeader, changed: readonly { name: string; resource: XdsResource }[]): Buffer {
    const parts: Buffer[] = [
      asBuffer(
        encode(DELTA, {
          system_version_info: header.systemVersion,
          type_url: header.url,
          removed_resources: header.removed,
          nonce: header.nonce,
          control_plane: { identifier: this.controlPlaneId },
        }),
      ),
    ];
    for (const c of changed) parts.push(this.deltaEntry(c.name, c.resource));
    return Buffer.concat(parts);
  }

  /** The resource's `resources` entry of a SotW response: encoded once, shared by every body. */
  private sotwEntry(r: XdsResource): Buffer {
    const hit = this.sotwEntries.get(r);
    if (hit) {
      this.stats.resourcesReused += 1;
      return hit;
    }
    const bytes = asBuffer(encode(SOTW, { resources: [r.resource] satisfies PackedAny[] }));
    this.sotwEntries.set(r, bytes);
    this.stats.resourcesEncoded += 1;
    return bytes;
  }

  private deltaEntry(name: string, r: XdsResource): Buffer {
    const hit = this.deltaEntries.get(r);
    // a resource is served under its own name; the check keeps a reused object honest
    if (hit && r.name === name) {
      this.stats.reused += 1;
      return hit;
    }
    const bytes = asBuffer(encode(DELTA, { resources: [{ name, version: r.hash, resource: r.resource }] }));
    if (r.name === name) this.deltaEntries.set(r, bytes);
    this.stats.encoded += 1;
    return bytes;
  }
}
