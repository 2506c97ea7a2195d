// Encodes ADS responses once and shares the bytes across streams. A change reaches every
// proxy with (mostly) the same response; encoding it per stream was the largest cost of a
// fan-out. Protobuf merges concatenated encodings of one message (repeated fields append,
// a scalar's last value wins), so a response is built from pre-encoded parts:
//   - SotW: the whole response but its nonce, once per (type set, subscription), plus a
//     `nonce` field appended; the body is itself assembled from each resource's `resources`
//     entry (its packed Any), encoded once per resource whatever set or subscription it is
//     served in. The nonced response is shared too: nonces come from one counter here, a
//     stream's always increase, so a nonce minted after a stream's last one is new to that
//     stream — the streams a change reaches at once take the same bytes, where appending a
//     nonce per stream was an allocation and a copy of the whole response per proxy;
//   - delta: one `resources` entry per (resource, version), plus the stream's own small
//     header (version, type, removed names, nonce).
// The bytes go to grpc-js as they are: the server's ADS method serializer passes a Buffer
// through (see xds/server.ts, `adsServiceDefinition`).
import { encode, type PackedAny, type XdsTypeUrl } from '../../proto/envoy.ts';
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
 * `body` with DiscoveryResponse.nonce (field 5, length-delimited) appended, in one
 * allocation. A nonce is a decimal counter (`ResponseEncoder.mintNonce`): its tag, a
 * one-byte length and its ASCII digits are all there is.
 */
function withNonce(body: Buffer, nonce: number): Buffer {
  const digits = String(nonce);
  const out = Buffer.allocUnsafe(body.length + 2 + digits.length);
  body.copy(out, 0);
  let p = body.length;
  out[p++] = (5 << 3) | 2;
  out[p++] = digits.length;
  out.write(digits, p, 'latin1');
  return out;
}

/** A SotW response less its nonce, and the last nonced copy made of it. */
interface SotwBody {
  bytes: Buffer;
  count: number;
  stamped?: { nonce: number; bytes: Buffer };
}

export class ResponseEncoder {
  /** per type set (dropped with it), per subscription: the response less its nonce */
  private readonly sotwBodies = new WeakMap<TypeSnapshot, Map<string, SotwBody>>();
  /** the last nonce handed out, to any stream */
  private lastNonce = 0;
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

  /** A nonce no stream has been sent yet (and greater than every nonce handed out before). */
  mintNonce(): number {
    this.lastNonce += 1;
    return this.lastNonce;
  }

  /**
   * A whole SotW DiscoveryResponse for a stream whose last nonce was `after` (0: none yet),
   * with a nonce greater than that; `count` is how many resources it carries.
   */
  sotw(parts: SotwParts, after: number): { bytes: Buffer; count: number; nonce: number } {
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
    if (!body.stamped || body.stamped.nonce <= after) {
      const nonce = this.mintNonce();
      body.stamped = { nonce, bytes: withNonce(body.bytes, nonce) };
    }
    return { bytes: body.stamped.bytes, count: body.count, nonce: body.stamped.nonce };
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
