// Simulated Envoy proxies over plain HTTP/2 (gRPC framing by hand), for the xDS benchmark's
// large fleets: the same behaviour as _xds-swarm.ts (one connection per proxy; wildcard CDS
// and LDS, EDS for the clusters it holds, RDS for the route configurations its edge
// listener names; each response decoded and ACKed at once), without grpc-js's per-call
// machinery, whose CPU on the shared cores otherwise dominates what the benchmark times
// (a real Envoy's xDS client is C++ on its own machine).
// argv: <port> <count> <node prefix>
import http2 from 'node:http2';
import { TYPE_URL, decode, encode, unpackAny } from '../../proto/envoy.ts';
import type { DiscoveryResponse__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryResponse.ts';
import type { Listener__Output } from '../../proto/generated/envoy/config/listener/v3/Listener.ts';
import { parseListener } from '../../gateway/edge/routing.ts';
import { answerSwarmControl } from './_swarm-control.ts';

const [portArg, countArg, prefix = 'swarm'] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const REQ = 'envoy.service.discovery.v3.DiscoveryRequest';
const RES = 'envoy.service.discovery.v3.DiscoveryResponse';
const PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const sessions: http2.ClientHttp2Session[] = [];

/** One gRPC message: uncompressed flag, big-endian length, the bytes. */
function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

/**
 * Opens proxy `i`; resolves once its connection is up. A connection refused or dropped
 * before it is up (the server's accept queue overflows when thousands connect at once on
 * a loaded machine) is tried again shortly, as Envoy reconnects: otherwise a few proxies of
 * a large fleet were silently never there, and the benchmark waited for their ACKs.
 */
function open(i: number): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(session);
  const up = new Promise<void>((resolve) => {
    let connected = false;
    session.once('connect', () => {
      connected = true;
      resolve();
    });
    session.on('error', () => {
      if (connected) return;
      session.destroy();
      setTimeout(() => void open(i).then(resolve), 200);
    });
  });
  const stream = session.request({
    ':method': 'POST',
    ':path': PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  const send = (req: object) => stream.write(frame(encode(REQ, req)));
  let edsNames: string[] = [];
  let rdsNames: string[] = [];
  const onResponse = (r: DiscoveryResponse__Output) => {
    const url = r.type_url ?? '';
    let names: string[] = [];
    if (url === TYPE_URL.endpoint) names = edsNames;
    if (url === TYPE_URL.route) names = rdsNames;
    send({ version_info: r.version_info ?? '', resource_names: names, type_url: url, response_nonce: r.nonce ?? '' });
    if (url === TYPE_URL.cluster) {
      const next = (r.resources ?? []).map((a) => unpackAny<{ name: string }>(a).name).sort();
      if (next.join() !== edsNames.join()) {
        edsNames = next;
        send({ resource_names: edsNames, type_url: TYPE_URL.endpoint });
      }
    }
    if (url === TYPE_URL.listener) {
      const edge = (r.resources ?? []).map((a) => unpackAny<Listener__Output>(a)).find((l) => l.name === 'sluice-edge');
      const next = edge ? [...parseListener(edge).routeConfigNames] : [];
      if (next.join() !== rdsNames.join()) {
        rdsNames = next;
        send({ resource_names: rdsNames, type_url: TYPE_URL.route });
      }
    }
  };
  // gRPC messages out of the DATA stream: 5-byte header, then the message; chunks are
  // kept until a whole message is there (joined once, not on every chunk: a response of
  // 10,000 versions arrives in a thousand of them)
  const chunks: Buffer[] = [];
  let buffered = 0;
  let need = 5;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= need) {
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      chunks.length = 0;
      const len = all.readUInt32BE(1);
      if (all.length < 5 + len) {
        // the header is here, the message is not yet
        chunks.push(all);
        need = 5 + len;
        break;
      }
      onResponse(decode<DiscoveryResponse__Output>(RES, all.subarray(5, 5 + len)));
      const rest = all.subarray(5 + len);
      buffered = rest.length;
      need = 5;
      if (rest.length > 0) chunks.push(rest);
    }
  });
  send({ node: { id: `${prefix}-${i}`, cluster: 'bench' }, type_url: TYPE_URL.cluster });
  send({ type_url: TYPE_URL.listener });
  return up;
}

// in waves, each connected before the next starts: the accept queue is not flooded
const WAVE = 250;
for (let i = 0; i < count; i += WAVE) {
  await Promise.all(Array.from({ length: Math.min(WAVE, count - i) }, (_, j) => open(i + j)));
}
process.send?.({ opened: count });
answerSwarmControl(() => {
  for (const s of sessions) s.destroy();
});
