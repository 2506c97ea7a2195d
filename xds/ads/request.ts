// The ADS request decoder for state-of-the-world streams. Nearly every request on a busy
// stream is an ACK: version_info, resource_names, type_url and response_nonce, all ASCII
// strings. Those are read here straight off the wire, without protobufjs's decode and
// toObject (a fan-out receives one per proxy per change); anything else (a node, an
// error_detail, another field, non-ASCII text, a malformed message) goes to the full
// decoder, so the result is always what it would give.
import type { DiscoveryRequest__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';

const VERSION_INFO = 1;
const RESOURCE_NAMES = 3;
const TYPE_URL = 4;
const RESPONSE_NONCE = 5;

/**
 * `bytes` decoded when they hold only the plain-ACK fields (ASCII strings); null when the
 * full decoder must read them.
 */
export function decodePlainRequest(bytes: Uint8Array): DiscoveryRequest__Output | null {
  const out: DiscoveryRequest__Output = {};
  const end = bytes.length;
  let pos = 0;
  while (pos < end) {
    // tag: the four fields all fit one byte
    const tag = bytes[pos++]!;
    if ((tag & 7) !== 2) return null;
    const field = tag >>> 3;
    if (field !== VERSION_INFO && field !== RESOURCE_NAMES && field !== TYPE_URL && field !== RESPONSE_NONCE) return null;
    // length: a varint of up to 4 bytes (strings under 256 MiB)
    let len = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end || shift > 21) return null;
      const b = bytes[pos++]!;
      len |= (b & 127) << shift;
      if (b < 128) break;
      shift += 7;
    }
    if (len > end - pos) return null;
    for (let i = pos; i < pos + len; i++) if (bytes[i]! >= 128) return null;
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + pos, len).toString('latin1');
    pos += len;
    if (field === RESOURCE_NAMES) (out.resource_names ??= []).push(s);
    else if (field === VERSION_INFO) out.version_info = s;
    else if (field === TYPE_URL) out.type_url = s;
    else out.response_nonce = s;
  }
  return out;
}
