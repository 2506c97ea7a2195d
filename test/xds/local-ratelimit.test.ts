// Envoy's own local_ratelimit instead of a RateLimitService callout per request
// (settings.rateLimit.mode 'local'): the filter in the edge listener, each limited version's
// token bucket of this proxy's share (ceil(qps / proxies)) on its pin route and on its
// weighted-cluster entry, decoded field by field; and the xDS server re-pushing every
// proxy's share as Envoy proxies connect and leave (simulated Envoys over real ADS).
import { afterAll, describe, expect, it } from 'vitest';
import { ENVOY_TYPES, TYPE_URL, unpackAny } from '../../proto/envoy.ts';
import { FILTER } from '../../xds/contract.ts';
import type { DataPlaneModel, DataPlaneSettings } from '../../xds/model.ts';
import { createXdsControl, type XdsControl } from '../../xds/publisher.ts';
import { localShare, translate, type XdsResource } from '../../xds/translate.ts';
import { adsClient, SotwStream } from './fixtures/ads-client.ts';
import { SETTINGS, version } from './fixtures/model.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const decodedAny = (any: { type_url?: string; value?: Uint8Array }): Obj => unpackAny<Obj>(any as never);
const find = (list: XdsResource[], name: string) => list.find((x) => x.name === name)!;

const model: DataPlaneModel = {
  groups: [{ groupId: 'g', name: 'wine', versions: [version('v1', 80, 7001, { qpsLimit: 10 }), version('v2', 20, 7002)] }],
};
const local = (proxies: number): DataPlaneSettings => ({ ...SETTINGS, rateLimit: { mode: 'local', proxies } });

function edgeFilters(settings: DataPlaneSettings): Obj[] {
  const l = decodedAny(find(translate(model, settings).listeners, 'sluice-edge').resource);
  return decodedAny(l.filter_chains[0].filters[0].typed_config).http_filters as Obj[];
}
function edgeRoutes(res: { routes: XdsResource[] }): Obj[] {
  return decodedAny(find(res.routes, 'sluice-edge/wine').resource).virtual_hosts[0].routes as Obj[];
}
/** The local limit override on a route's (or a weighted cluster's) per-filter config, decoded. */
const localLimit = (perFilter: Obj | undefined): Obj | undefined => {
  const any = perFilter?.[FILTER.localRateLimit];
  if (!any) return undefined;
  expect(any.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.localRateLimit}`);
  return decodedAny(any);
};

describe('local rate limiting: the pushed resources', () => {
  it('shares a version’s QPS so the proxies together never allow less than the limit', () => {
    expect([localShare(10, 1), localShare(10, 3), localShare(10, 4), localShare(10, 20), localShare(1, 0)]).toEqual([10, 4, 3, 1, 1]);
  });

  it('puts local_ratelimit (no bucket of its own) where the ratelimit callout was, and keeps the rest', () => {
    const filters = edgeFilters(local(2));
    expect(filters.map((f) => f.name)).toEqual([FILTER.lua, FILTER.extAuthz, FILTER.localRateLimit, FILTER.capture, FILTER.router]);
    const cfg = decodedAny(filters[2]!.typed_config);
    expect(filters[2]!.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.localRateLimit}`);
    expect(cfg.stat_prefix).toBe('sluice_local_rate_limit');
    expect(cfg.token_bucket).toBeFalsy();
    // global (the default without settings): the RateLimitService callout, no local filter
    expect(edgeFilters(SETTINGS).map((f) => f.name)).toEqual([FILTER.lua, FILTER.extAuthz, FILTER.rateLimit, FILTER.capture, FILTER.router]);
  });

  it('gives a limited version a token bucket of its share on its pin route and its weighted entry', () => {
    const routes = edgeRoutes(translate(model, local(3)));
    const pin = (v: string) => routes.find((r) => r.name === `wine/pin/${v}`)!;
    const bucket = localLimit(pin('v1').typed_per_filter_config);
    expect(bucket).toEqual({
      // a prefix per version: Envoy's Prometheus output labels the throttled count with it
      stat_prefix: 'sluice_wine_v1',
      token_bucket: { max_tokens: 4, tokens_per_fill: { value: 4 }, fill_interval: { seconds: '1' } },
      filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
      filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
      response_headers_to_add: [{ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    });
    expect(localLimit(pin('v2').typed_per_filter_config)).toBeUndefined(); // no QPS limit
    const split = routes.find((r) => r.name === 'wine/default')!.route.weighted_clusters.clusters as Obj[];
    expect(localLimit(split.find((c) => c.name === 'sluice/wine/v1')!.typed_per_filter_config)).toEqual(bucket);
    expect(localLimit(split.find((c) => c.name === 'sluice/wine/v2')!.typed_per_filter_config)).toBeUndefined();
    // the per-route override is what switches the filter on: global mode pushes none
    expect(edgeRoutes(translate(model, SETTINGS)).some((r) => localLimit(r.typed_per_filter_config))).toBe(false);
  });
});

describe('local rate limiting: shares follow the connected proxies', () => {
  let xds: XdsControl;
  const streams: SotwStream[] = [];
  afterAll(async () => {
    for (const s of streams) s.close();
    await xds?.close();
  });

  /** An Envoy (user agent "envoy") that subscribes to the edge routes and ACKs every push. */
  async function envoy(id: string, port: number) {
    const client = adsClient(port);
    const s = new SotwStream(client);
    streams.push(s);
    let share = 0;
    let updates = 0;
    const pump = async () => {
      for (;;) {
        const rds = await s.next(TYPE_URL.route, 60_000).catch(() => null);
        if (!rds) return;
        s.ack(rds, ['sluice-edge/wine']);
        const routes = edgeRoutes({ routes: (rds.resources ?? []).map((r) => ({ name: 'sluice-edge/wine', resource: r }) as unknown as XdsResource) });
        share = localLimit(routes.find((r) => r.name === 'wine/pin/v1')?.typed_per_filter_config)?.token_bucket.max_tokens ?? 0;
        updates++;
      }
    };
    s.send({ node: { id, cluster: 'edge', user_agent_name: 'envoy' }, type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] });
    void pump();
    return { stream: s, client, share: () => share, updates: () => updates };
  }
  async function until(what: string, cond: () => boolean, ms = 1000) {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('re-pushes each proxy its share within 1 s when an Envoy joins and when one leaves', async () => {
    xds = createXdsControl({ loadModel: async () => model, settings: local(1), debounceMs: 10 });
    const port = await xds.start(0, '127.0.0.1');
    const a = await envoy('envoy-a', port);
    await until('first proxy alone: the whole limit', () => a.share() === 10, 5000);

    // a proxyless client (not an Envoy) does not take a share
    const other = new SotwStream(adsClient(port));
    streams.push(other);
    other.send({ node: { id: 'grpc-client', cluster: 'x', user_agent_name: 'grpc-node-js' }, type_url: TYPE_URL.route, resource_names: ['sluice-edge/wine'] });
    await other.next(TYPE_URL.route);
    const b = await envoy('envoy-b', port);
    let t0 = Date.now();
    await until('two Envoys: 5 each', () => a.share() === 5 && b.share() === 5);
    const joinMs = Date.now() - t0;

    const c = await envoy('envoy-c', port);
    await until('three Envoys: 4 each (12 ≥ 10)', () => a.share() === 4 && b.share() === 4 && c.share() === 4);

    t0 = Date.now();
    c.stream.close();
    b.stream.close();
    await until('one Envoy left: the whole limit again', () => a.share() === 10);
    const leaveMs = Date.now() - t0;
    console.log(`[local rate limit] share re-pushed ${joinMs} ms after a join, ${leaveMs} ms after two left`);
  });
});
