// Simulated Envoy proxies for the xDS benchmark, in their own process so the server's
// timings and memory are its own: N ADS streams, each on its own connection, each
// subscribing like Envoy (wildcard CDS and LDS, EDS for its clusters, RDS for the route
// configurations the edge listener names: one per group scope) and ACKing every response at once.
// argv: <port> <count> <node prefix>
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL, envoyServices, unpackAny } from '../../proto/envoy.ts';
import type { DiscoveryRequest } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryRequest.ts';
import type { DiscoveryResponse__Output } from '../../proto/generated/envoy/service/discovery/v3/DiscoveryResponse.ts';
import type { Listener__Output } from '../../proto/generated/envoy/config/listener/v3/Listener.ts';
import { parseListener } from '../../gateway/edge/routing.ts';
import { answerSwarmControl } from './_swarm-control.ts';

const [portArg, countArg, prefix = 'swarm'] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const { AdsClient } = envoyServices();
const clients: grpc.Client[] = [];
const calls: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>[] = [];

function open(i: number) {
  const client = new AdsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': -1,
  });
  clients.push(client);
  const call = client.StreamAggregatedResources();
  calls.push(call);
  let edsNames: string[] = [];
  let rdsNames: string[] = [];
  call.on('data', (r: DiscoveryResponse__Output) => {
    const url = r.type_url ?? '';
    let names: string[] = [];
    if (url === TYPE_URL.endpoint) names = edsNames;
    if (url === TYPE_URL.route) names = rdsNames;
    call.write({ type_url: url, version_info: r.version_info ?? '', response_nonce: r.nonce ?? '', resource_names: names });
    if (url === TYPE_URL.cluster) {
      const next = (r.resources ?? []).map((a) => unpackAny<{ name: string }>(a).name).sort();
      if (next.join() !== edsNames.join()) {
        edsNames = next;
        call.write({ type_url: TYPE_URL.endpoint, resource_names: edsNames });
      }
    }
    if (url === TYPE_URL.listener) {
      const edge = (r.resources ?? []).map((a) => unpackAny<Listener__Output>(a)).find((l) => l.name === 'sluice-edge');
      const next = edge ? [...parseListener(edge).routeConfigNames] : [];
      if (next.join() !== rdsNames.join()) {
        rdsNames = next;
        call.write({ type_url: TYPE_URL.route, resource_names: rdsNames });
      }
    }
  });
  call.on('error', () => {});
  call.write({ node: { id: `${prefix}-${i}`, cluster: 'bench' }, type_url: TYPE_URL.cluster });
  call.write({ type_url: TYPE_URL.listener });
}

for (let i = 0; i < count; i++) open(i);
process.send?.({ opened: count });
answerSwarmControl(() => {
  for (const c of calls) c.cancel();
  for (const c of clients) c.close();
});
