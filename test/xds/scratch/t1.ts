import { translate } from '../../../xds/translate.ts';
import { unpackAny } from '../../../proto/envoy.ts';
const model = { groups: [{ groupId: 'g1', name: 'wine', versions: [
  { versionId: 'a', name: 'v1', weight: 80, authEnabled: true, qpsLimit: 10, inferenceTable: { enabled: true, sampleRate: 1, maxBodyBytes: 1000 }, endpoints: [{ instance: 'i1', host: '127.0.0.1', port: 5001, healthy: true }] },
  { versionId: 'b', name: 'v2', weight: 20, authEnabled: false, qpsLimit: null, inferenceTable: { enabled: false, sampleRate: 1, maxBodyBytes: 1000 }, endpoints: [] },
]}]};
const t0 = performance.now();
const r = translate(model, { listenerPort: 10000, gatewayCluster: 'sluice_gateway', gatewayHost: '127.0.0.1', gatewayPort: 18081, stickyHeader: null });
console.log(performance.now() - t0);
for (const k of ['listeners','routes','clusters','endpoints'] as const) for (const x of r[k]) console.log(k, x.name, x.hash, x.resource.value.length);
console.log(JSON.stringify(unpackAny(r.routes[0]!.resource), null, 1).slice(0, 3000));
