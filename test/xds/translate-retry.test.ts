// The pushed Envoy config agrees with the local edge when a replica dies: the edge virtual
// host's retry policy (one retry, another host, on connect failure / reset / 503), the
// clusters' outlier detection and health checks, and a version with no healthy replica
// leaving the weighted split (its share goes to the others, as the local edge's pick does).
// Every field is read back from the encoded resources.
import { describe, expect, it } from 'vitest';
import { unpackAny } from '../../proto/envoy.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { translate, type XdsResource } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const decodedAny = (any: { type_url?: string; value?: Uint8Array }): Obj => unpackAny<Obj>(any as never);
const find = (list: XdsResource[], name: string) => {
  const r = list.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};

const model = (v1Healthy: boolean[], v2Healthy: boolean[]): DataPlaneModel => ({
  groups: [{
    groupId: 'g',
    name: 'wine',
    versions: [
      version('v1', 80, 7001, { endpoints: v1Healthy.map((healthy, i) => ({ instance: `v1-${i}`, host: `10.0.1.${i}`, port: 7001, healthy })) }),
      version('v2', 20, 7002, { endpoints: v2Healthy.map((healthy, i) => ({ instance: `v2-${i}`, host: `10.0.2.${i}`, port: 7002, healthy })) }),
    ],
  }],
});

function edgeRoutes(m: DataPlaneModel): Obj {
  return decodedAny(find(translate(m, SETTINGS).routes, 'sluice-edge/wine').resource);
}
const split = (rc: Obj, route = 'wine/default') =>
  (rc.virtual_hosts[0].routes.find((r: Obj) => r.name === route).route.weighted_clusters.clusters as Obj[]).map((c) => [c.name, c.weight.value]);

describe('translate: a replica dies (Envoy agrees with the local edge)', () => {
  it('the edge virtual host retries once on another host when nothing reached a model or it never answered', () => {
    const vh = edgeRoutes(model([true, true], [true])).virtual_hosts[0];
    expect(vh.name).toBe('wine'); // the group's own scope
    expect(vh.retry_policy.retry_on).toBe('connect-failure,refused-stream,reset,retriable-status-codes');
    expect(vh.retry_policy.retriable_status_codes).toEqual([503]);
    expect(vh.retry_policy.num_retries).toEqual({ value: 1 });
    expect(vh.retry_policy.retry_host_predicate).toHaveLength(1);
    const pred = vh.retry_policy.retry_host_predicate[0];
    expect(pred.name).toBe('envoy.retry_host_predicates.previous_hosts');
    expect(pred.typed_config.type_url).toBe('type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate');
    expect(decodedAny(pred.typed_config)).toEqual({});
    expect(String(vh.retry_policy.host_selection_retry_max_attempts)).toBe('3');
    // a timeout is not retried (the local edge answers 504): no 5xx / gateway-error / per-try timeout
    expect(vh.retry_policy.retry_on).not.toMatch(/5xx|gateway-error/);
    expect(vh.retry_policy.per_try_timeout).toBeUndefined();
  });

  it('clusters: active health checks and outlier detection eject a dead replica', () => {
    const c = decodedAny(find(translate(model([true, true], [true]), SETTINGS).clusters, 'sluice/wine/v1').resource);
    expect(c.health_checks[0].http_health_check.path).toBe('/healthz');
    expect(c.health_checks[0].interval).toEqual({ seconds: '5' });
    expect(c.health_checks[0].unhealthy_threshold).toEqual({ value: 2 });
    // connect failures count as 5xx (local-origin errors are not split out)
    expect(c.outlier_detection.split_external_local_origin_errors ?? false).toBe(false);
    expect(c.outlier_detection.consecutive_5xx).toEqual({ value: 5 });
    expect(c.outlier_detection.max_ejection_percent).toEqual({ value: 50 });
  });

  it("a version with no healthy replica leaves the split: the other version takes its share", () => {
    expect(split(edgeRoutes(model([true], [true])))).toEqual([['sluice/wine/v1', 80], ['sluice/wine/v2', 20]]);
    // v1's only replica died (listed unhealthy, or gone)
    expect(split(edgeRoutes(model([false], [true])))).toEqual([['sluice/wine/v2', 20]]);
    expect(split(edgeRoutes(model([], [true])))).toEqual([['sluice/wine/v2', 20]]);
    // the OIP gRPC split and the proxyless one follow the same rule
    expect(split(edgeRoutes(model([], [true])), 'wine/oip-grpc/default')).toEqual([['sluice/wine/v2', 20]]);
    const api = decodedAny(find(translate(model([false], [true]), SETTINGS).routes, 'wine.sluice').resource);
    expect(split(api, 'wine/default')).toEqual([['sluice/wine/v2', 20]]);
    // the pin route to the dead version stays (a pinned caller gets that version's answer)
    expect(edgeRoutes(model([], [true])).virtual_hosts[0].routes.map((r: Obj) => r.name)).toContain('wine/pin/v1');
    // nothing serves: the split stays as configured (each answers for its version)
    expect(split(edgeRoutes(model([false], [])))).toEqual([['sluice/wine/v1', 80], ['sluice/wine/v2', 20]]);
  });
});
