import { translate } from '../../../xds/translate.ts';
import { SETTINGS, version } from '../fixtures/model.ts';
const m = { groups: Array.from({ length: 5000 }, (_, i) => ({ groupId: `g${i}`, name: `svc-${i}`, versions: [version('v1', 80, 7001, { authEnabled: true, qpsLimit: 5 }), version('v2', 20, 7002)] })) };
translate({ groups: m.groups.slice(0, 10) }, SETTINGS);
for (const n of [100, 1000, 5000]) {
  const t = performance.now();
  translate({ groups: m.groups.slice(0, n) }, SETTINGS);
  console.log(n, performance.now() - t);
}
