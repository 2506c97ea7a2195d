// Translation: every resource decoded through the protos and checked field by field;
// determinism; weight edits replace (never append); bad models refused with a reason.
import { describe, expect, it } from 'vitest';
import { ENVOY_TYPES, TYPE_URL, encode, unpackAny } from '../../proto/envoy.ts';
import { makeSnapshot } from '../../xds/cache.ts';
import { apiListenerName, CAPTURE_SCRIPT_NAME, captureScript, DESCRIPTOR, FILTER, IDENTITY_HEADER, KEY_ID_HEADER, parseClusterName, RATE_LIMIT_DOMAIN } from '../../xds/contract.ts';
import type { DataPlaneModel } from '../../xds/model.ts';
import { XdsTranslateError, createTranslator, translate, type EnvoyResources, type XdsResource } from '../../xds/translate.ts';
import { SETTINGS, version } from './fixtures/model.ts';

// Decoded shapes are walked as plain data: the protos' __Output types are too loose
// (everything optional) to add safety in a test that checks each field anyway.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const decodedAny = (any: { type_url?: string; value?: Uint8Array }): Obj => unpackAny<Obj>(any as never);

/** A decoded google.protobuf.Struct as plain data; also checks its keys arrived sorted (stable bytes). */
function plain(struct: Obj): Obj {
  const keys = Object.keys(struct.fields ?? {});
  expect(keys).toEqual([...keys].sort());
  const out: Obj = {};
  for (const k of keys) {
    const v = struct.fields[k];
    expect(Object.keys(v).filter((x) => x !== 'kind')).toEqual([v.kind]);
    out[k] = v.kind === 'structValue' ? plain(v.structValue) : v[v.kind];
  }
  return out;
}
/** `metadata.filter_metadata.sluice` of a decoded route or cluster, as plain data. */
const sluiceMeta = (r: Obj): Obj => {
  expect(Object.keys(r.metadata.filter_metadata)).toEqual(['sluice']);
  return plain(r.metadata.filter_metadata.sluice);
};

function model(): DataPlaneModel {
  return {
    groups: [
      {
        groupId: 'g-wine',
        name: 'wine',
        versions: [
          version('v1', 80, 7001, {
            authEnabled: true,
            qpsLimit: 50,
            inferenceTable: { enabled: true, sampleRate: 0.25, maxBodyBytes: 2 * 1024 * 1024 },
            endpoints: [
              { instance: 'v1-1', host: '10.0.0.2', port: 7001, healthy: true },
              { instance: 'v1-0', host: '10.0.0.1', port: 7001, healthy: true },
              { instance: 'v1-2', host: '10.0.0.3', port: 7001, healthy: false },
            ],
          }),
          version('v2', 20, 7002),
        ],
      },
      { groupId: 'g-empty', name: 'empty', versions: [] },
    ],
  };
}

const find = (list: XdsResource[], name: string) => {
  const r = list.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};
/** A group's edge route configuration (its scope), decoded; `routes` of its one virtual host. */
const edgeRc = (res: EnvoyResources, group: string): Obj => decodedAny(find(res.routes, `sluice-edge/${group}`).resource);
const edgeRoutesOf = (res: EnvoyResources, group: string): Obj[] => edgeRc(res, group).virtual_hosts[0].routes as Obj[];

describe('translate: decoded field by field', () => {
  const res = translate(model(), SETTINGS);

  it('emits the expected resource names, sorted', () => {
    expect(res.listeners.map((r) => r.name)).toEqual(['empty.sluice', 'sluice-edge', 'wine.sluice']);
    // the edge's routes are one configuration per group (its scope), beside the proxyless one
    expect(res.routes.map((r) => r.name)).toEqual(['empty.sluice', 'sluice-edge/empty', 'sluice-edge/wine', 'wine.sluice']);
    expect(res.clusters.map((r) => r.name)).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    expect(res.endpoints.map((r) => r.name)).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    for (const [list, url] of [
      [res.listeners, TYPE_URL.listener],
      [res.routes, TYPE_URL.route],
      [res.clusters, TYPE_URL.cluster],
      [res.endpoints, TYPE_URL.endpoint],
    ] as const) {
      for (const r of list) expect(r.resource.type_url).toBe(url);
    }
    expect(find(res.listeners, 'wine.sluice').onlyByName).toBe(true);
    expect(find(res.listeners, 'sluice-edge').onlyByName).toBeUndefined();
  });

  it('edge listener: address, HCM with routes scoped per group over ADS, filters in order, gRPC access log', () => {
    const l = decodedAny(find(res.listeners, 'sluice-edge').resource);
    expect(l.name).toBe('sluice-edge');
    expect(l.address.socket_address).toEqual({ address: '0.0.0.0', port_value: 10000, port_specifier: 'port_value' });
    expect(l.per_connection_buffer_limit_bytes).toEqual({ value: 10 * 1024 * 1024 });
    expect(l.filter_chains).toHaveLength(1);
    const f = l.filter_chains[0].filters[0];
    expect(f.name).toBe(FILTER.hcm);
    expect(f.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.httpConnectionManager}`);
    const hcm = decodedAny(f.typed_config);
    expect(hcm.stat_prefix).toBe('sluice_edge');
    expect(hcm.codec_type).toBe('AUTO');
    expect(hcm.rds).toBeUndefined();
    // scoped routes: the key is the scope header as a whole; one scope per group (sorted), each
    // naming that group's route configuration, fetched by RDS over ADS
    expect(hcm.scoped_routes.name).toBe('sluice-edge');
    expect(hcm.scoped_routes.scope_key_builder).toEqual({
      fragments: [{ header_value_extractor: { name: 'x-sluice-scope', index: 0, extract_type: 'index' }, type: 'header_value_extractor' }],
    });
    expect(hcm.scoped_routes.rds_config_source).toEqual({ ads: {}, resource_api_version: 'V3', config_source_specifier: 'ads' });
    expect(hcm.scoped_routes.scoped_route_configurations_list.scoped_route_configurations).toEqual(
      ['empty', 'wine'].map((g) => ({ name: g, route_configuration_name: `sluice-edge/${g}`, key: { fragments: [{ string_key: g, type: 'string_key' }] } })),
    );
    expect(find(res.listeners, 'sluice-edge').references).toEqual(['sluice-edge/empty', 'sluice-edge/wine']);
    expect(hcm.http_filters.map((x: Obj) => x.name)).toEqual([
      FILTER.lua,
      FILTER.extAuthz,
      FILTER.rateLimit,
      FILTER.capture,
      FILTER.router,
    ]);
    const [luaF, authzF, rlF, captureF, routerF] = hcm.http_filters as Obj[];
    // the scope key filter: the group from the /predict path, or from an OIP gRPC call's :authority
    const lua = decodedAny(luaF!.typed_config).default_source_code.inline_string as string;
    expect(lua).toContain('headers:remove("x-sluice-scope")');
    expect(lua).toContain('"^/services/([^/?#]+)/predict$"');
    expect(lua).toContain('"/inference.GRPCInferenceService/"');
    expect(lua).toContain('h:clearRouteCache()');
    const authz = decodedAny(authzF!.typed_config);
    expect(authz.grpc_service.envoy_grpc.cluster_name).toBe('sluice_gateway');
    expect(authz.grpc_service.timeout).toEqual({ seconds: '1' });
    expect(authz.transport_api_version).toBe('V3');
    expect(authz.failure_mode_allow).toBeFalsy();
    expect(authz.status_on_error).toEqual({ code: 'ServiceUnavailable' });
    const rl = decodedAny(rlF!.typed_config);
    expect(rl.domain).toBe(RATE_LIMIT_DOMAIN);
    expect(rl.rate_limit_service.grpc_service.envoy_grpc.cluster_name).toBe('sluice_gateway');
    expect(rl.rate_limit_service.transport_api_version).toBe('V3');
    expect(rl.failure_mode_deny).toBeFalsy();
    expect(rl.enable_x_ratelimit_headers).toBe('DRAFT_VERSION_03');
    // the capture: a Lua filter with one named script and no default one (routes switch it
    // on), nothing sent anywhere by the filter itself; no ext_proc in the chain
    expect(captureF!.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.lua}`);
    const capture = decodedAny(captureF!.typed_config);
    expect(capture.default_source_code).toBeUndefined();
    expect(capture.inline_code).toBeFalsy();
    expect(capture.stat_prefix).toBe('sluice_capture');
    expect(Object.keys(capture.source_codes)).toEqual([CAPTURE_SCRIPT_NAME]);
    expect(capture.source_codes[CAPTURE_SCRIPT_NAME]).toEqual({ inline_string: captureScript(), specifier: 'inline_string' });
    expect(hcm.http_filters.map((x: Obj) => x.typed_config.type_url)).not.toContain(`type.googleapis.com/${ENVOY_TYPES.extProc}`);
    expect(routerF!.typed_config.type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.router}`);
    expect(hcm.access_log).toHaveLength(1);
    expect(hcm.access_log[0].name).toBe(FILTER.grpcAccessLog);
    const als = decodedAny(hcm.access_log[0].typed_config);
    expect(als.common_config.log_name).toBe('sluice-edge');
    expect(als.common_config.grpc_service.envoy_grpc.cluster_name).toBe('sluice_gateway');
    expect(als.common_config.transport_api_version).toBe('V3');
    expect(als.additional_request_headers_to_log).toContain('x-sluice-version');
    expect(als.additional_request_headers_to_log).toContain(IDENTITY_HEADER);
  });

  it('edge routes: pin routes first, unknown pin 404, weighted default with per-version policy', () => {
    const rc = edgeRc(res, 'wine');
    expect(rc.name).toBe('sluice-edge/wine');
    // the scope key stops at Envoy
    expect(rc.request_headers_to_remove).toEqual(['x-sluice-scope']);
    expect(rc.virtual_hosts).toHaveLength(1);
    const vh = rc.virtual_hosts[0];
    expect(vh.name).toBe('wine');
    expect(vh.domains).toEqual(['*']);
    expect(edgeRoutesOf(res, 'empty').map((r) => r.name)).toEqual(['empty/pin/unknown', 'empty/default', 'not-found']);
    expect(find(res.routes, 'sluice-edge/wine').references).toEqual(['sluice/wine/v1', 'sluice/wine/v2']);
    expect(find(res.routes, 'sluice-edge/empty').references).toEqual([]);
    const names = vh.routes.map((r: Obj) => r.name);
    expect(names).toEqual([
      'wine/pin/v1',
      'wine/pin/v2',
      'wine/pin/unknown',
      'wine/default',
      // OIP gRPC by :authority (test/protocols/oip-grpc-xds.test.ts)
      'wine/oip-grpc/pin/v1',
      'wine/oip-grpc/pin/v2',
      'wine/oip-grpc/default',
      'not-found',
    ]);
    const byName = (n: string): Obj => [...vh.routes, ...edgeRoutesOf(res, 'empty')].find((r: Obj) => r.name === n);

    // a group with no running version answers 503 with a JSON error
    const empty = byName('empty/default');
    expect(empty.match.path).toBe('/services/empty/predict');
    expect(empty.direct_response.status).toBe(503);
    expect(empty.route).toBeUndefined();
    expect(JSON.parse(empty.direct_response.body.inline_string)).toEqual({
      error_code: 'TEMPORARILY_UNAVAILABLE',
      message: 'service empty has no running version',
    });
    // routes to no version carry no Sluice metadata
    for (const n of ['empty/pin/unknown', 'empty/default', 'wine/pin/unknown', 'not-found']) expect(byName(n).metadata).toBeUndefined();

    const pin = byName('wine/pin/v1');
    expect(pin.match.path).toBe('/services/wine/predict');
    expect(pin.match.headers).toEqual([
      { name: 'x-sluice-version', string_match: { exact: 'v1', match_pattern: 'exact' }, header_match_specifier: 'string_match' },
    ]);
    expect(pin.route.cluster).toBe('sluice/wine/v1');
    expect(pin.route.timeout).toEqual({ seconds: '60' });
    expect(pin.response_headers_to_add[0].header).toEqual({ key: 'x-sluice-version', value: 'v1' });
    expect(sluiceMeta(pin)).toEqual({ group: 'wine', version: 'v1' });
    // auth on: context extensions group/version; capture on: the capture script, with the
    // version's sample rate and one byte over its body limit (the truncated flag) as its context
    const pinAuthz = decodedAny(pin.typed_per_filter_config[FILTER.extAuthz]);
    expect(pinAuthz).toEqual({
      check_settings: { context_extensions: { group: 'wine', version: 'v1' } },
      override: 'check_settings',
    });
    expect(pin.typed_per_filter_config[FILTER.capture].type_url).toBe(`type.googleapis.com/${ENVOY_TYPES.luaPerRoute}`);
    expect(decodedAny(pin.typed_per_filter_config[FILTER.capture])).toEqual({
      name: CAPTURE_SCRIPT_NAME,
      override: 'name',
      filter_context: {
        fields: {
          group: { stringValue: 'wine', kind: 'stringValue' },
          max_bytes: { numberValue: 2 * 1024 * 1024 + 1, kind: 'numberValue' },
          sample_rate: { numberValue: 0.25, kind: 'numberValue' },
          version: { stringValue: 'v1', kind: 'stringValue' },
        },
      },
    });
    expect(pin.typed_per_filter_config[FILTER.extProc]).toBeUndefined();
    // v1 has a QPS limit: descriptors group, version, API key id
    expect(pin.route.rate_limits).toHaveLength(1);
    expect(pin.route.rate_limits[0].actions).toEqual([
      { generic_key: { descriptor_key: DESCRIPTOR.group, descriptor_value: 'wine' }, action_specifier: 'generic_key' },
      { generic_key: { descriptor_key: DESCRIPTOR.version, descriptor_value: 'v1' }, action_specifier: 'generic_key' },
      {
        request_headers: { header_name: KEY_ID_HEADER, descriptor_key: DESCRIPTOR.key, skip_if_absent: true },
        action_specifier: 'request_headers',
      },
    ]);

    // auth off and capture off for v2
    const pin2 = byName('wine/pin/v2');
    // v2 has no QPS limit of its own; the group does, so the gateway is asked (and says OK)
    expect(pin2.route.rate_limits[0].actions[1].generic_key).toEqual({ descriptor_key: 'version', descriptor_value: 'v2' });
    expect(decodedAny(pin2.typed_per_filter_config[FILTER.extAuthz])).toEqual({ disabled: true, override: 'disabled' });
    expect(decodedAny(pin2.typed_per_filter_config[FILTER.capture])).toEqual({ disabled: true, override: 'disabled' });

    const unknown = byName('wine/pin/unknown');
    expect(unknown.match.headers[0]).toMatchObject({ name: 'x-sluice-version', present_match: true });
    expect(unknown.direct_response.status).toBe(404);

    const def = byName('wine/default');
    expect(def.match).toEqual({ path: '/services/wine/predict', path_specifier: 'path' });
    // the split's version is the router's pick: the route names the group only
    expect(sluiceMeta(def)).toEqual({ group: 'wine' });
    expect(sluiceMeta(byName('wine/pin/v2'))).toEqual({ group: 'wine', version: 'v2' });
    const wc = def.route.weighted_clusters.clusters as Obj[];
    expect(wc.map((c) => [c.name, c.weight.value])).toEqual([
      ['sluice/wine/v1', 80],
      ['sluice/wine/v2', 20],
    ]);
    expect(wc[0]!.request_headers_to_add[0].header).toEqual({ key: 'x-sluice-version', value: 'v1' });
    expect(decodedAny(wc[0]!.typed_per_filter_config[FILTER.extAuthz]).check_settings.context_extensions).toEqual({
      group: 'wine',
      version: 'v1',
    });
    expect(decodedAny(wc[1]!.typed_per_filter_config[FILTER.extAuthz])).toEqual({ disabled: true, override: 'disabled' });
    expect(decodedAny(wc[1]!.typed_per_filter_config[FILTER.capture])).toEqual({ disabled: true, override: 'disabled' });
    // the weighted entry of a captured version carries the same capture context as its pin route
    expect(decodedAny(wc[0]!.typed_per_filter_config[FILTER.capture])).toEqual(decodedAny(pin.typed_per_filter_config[FILTER.capture]));
    // the split learns its version only once the router picks: destination_cluster
    expect(def.route.rate_limits).toHaveLength(1);
    expect(def.route.rate_limits[0].actions.map((a: Obj) => a.action_specifier)).toEqual([
      'generic_key',
      'destination_cluster',
      'request_headers',
    ]);
    expect(def.route.rate_limits[0].actions[2].request_headers.header_name).toBe(KEY_ID_HEADER);
    expect(parseClusterName('sluice/wine/v1')).toEqual({ group: 'wine', version: 'v1' });
    expect(parseClusterName('sluice_gateway')).toBeNull();
    expect(def.route.hash_policy).toBeUndefined();

    const nf = byName('not-found');
    expect(nf.match.prefix).toBe('/');
    expect(nf.direct_response.status).toBe(404);
  });

  it('cluster: EDS over ADS, the downstream protocol, health check, outlier detection', () => {
    const c = decodedAny(find(res.clusters, 'sluice/wine/v1').resource);
    expect(c.name).toBe('sluice/wine/v1');
    expect(c.type).toBe('EDS');
    expect(c.eds_cluster_config).toEqual({
      eds_config: { ads: {}, resource_api_version: 'V3', config_source_specifier: 'ads' },
      service_name: 'sluice/wine/v1',
    });
    expect(c.lb_policy).toBe('ROUND_ROBIN');
    expect(c.connect_timeout).toEqual({ seconds: '2' });
    const opts = decodedAny(c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
    // HTTP/1.1 for /predict, HTTP/2 for OIP gRPC: whatever the client spoke
    expect(opts.use_downstream_protocol_config).toEqual({ http_protocol_options: {}, http2_protocol_options: {} });
    expect(c.health_checks).toHaveLength(1);
    expect(c.health_checks[0].http_health_check.path).toBe('/healthz');
    expect(c.health_checks[0].unhealthy_threshold).toEqual({ value: 2 });
    expect(c.outlier_detection.consecutive_5xx).toEqual({ value: 5 });
    expect(c.outlier_detection.enforcing_success_rate).toEqual({ value: 0 });
    // the cluster names its group and version, and nothing else: per-request policy
    // (auth, QPS, inference table) is read from the database by the plugins, never pushed
    expect(sluiceMeta(c)).toEqual({ group: 'wine', version: 'v1' });
    expect(sluiceMeta(decodedAny(find(res.clusters, 'sluice/wine/v2').resource))).toEqual({ group: 'wine', version: 'v2' });
  });

  it('a policy change leaves every cluster and endpoint byte-identical (no cluster re-warming in Envoy)', () => {
    const m = model();
    const v2 = m.groups[0]!.versions[1]!;
    v2.qpsLimit = 7;
    v2.authEnabled = true;
    v2.inferenceTable = { enabled: true, sampleRate: 0.5, maxBodyBytes: 4096 };
    const after = translate(m, SETTINGS);
    expect(sluiceMeta(decodedAny(find(after.clusters, 'sluice/wine/v2').resource))).toEqual({ group: 'wine', version: 'v2' });
    expect(find(after.clusters, 'sluice/wine/v2').hash).toBe(find(res.clusters, 'sluice/wine/v2').hash);
    expect(find(after.clusters, 'sluice/wine/v1').hash).toBe(find(res.clusters, 'sluice/wine/v1').hash);
    expect(find(after.endpoints, 'sluice/wine/v2').hash).toBe(find(res.endpoints, 'sluice/wine/v2').hash);
  });

  it('endpoints: healthy instances only, sorted, in a weighted locality', () => {
    const e = decodedAny(find(res.endpoints, 'sluice/wine/v1').resource);
    expect(e.cluster_name).toBe('sluice/wine/v1');
    expect(e.endpoints).toHaveLength(1);
    expect(e.endpoints[0].load_balancing_weight).toEqual({ value: 1 });
    expect(
      e.endpoints[0].lb_endpoints.map((x: Obj) => [x.endpoint.hostname, x.endpoint.address.socket_address.address, x.health_status]),
    ).toEqual([
      ['v1-0', '10.0.0.1', 'HEALTHY'],
      ['v1-1', '10.0.0.2', 'HEALTHY'],
    ]);
  });

  it('API listener and its route config for proxyless gRPC', () => {
    const l = decodedAny(find(res.listeners, apiListenerName('wine')).resource);
    expect(l.address).toBeUndefined();
    const hcm = decodedAny(l.api_listener.api_listener);
    expect(hcm.rds.route_config_name).toBe('wine.sluice');
    expect(hcm.rds.config_source.ads).toEqual({});
    expect(hcm.http_filters.map((f: Obj) => f.name)).toEqual([FILTER.router]);
    const rc = decodedAny(find(res.routes, 'wine.sluice').resource);
    const routes = rc.virtual_hosts[0].routes as Obj[];
    expect(routes.map((r) => r.name)).toEqual(['wine/pin/v1', 'wine/pin/v2', 'wine/default']);
    expect(routes.map((r) => sluiceMeta(r))).toEqual([
      { group: 'wine', version: 'v1' },
      { group: 'wine', version: 'v2' },
      { group: 'wine' },
    ]);
    expect(routes[2]!.route.weighted_clusters.clusters.map((c: Obj) => c.weight.value)).toEqual([80, 20]);
    const emptyRc = decodedAny(find(res.routes, 'empty.sluice').resource);
    expect(emptyRc.virtual_hosts[0].routes).toBeUndefined();
  });

  it('a group without any QPS limit makes no rate-limit call on any route', () => {
    const m = model();
    m.groups[0]!.versions[0]!.qpsLimit = null;
    const out = translate(m, SETTINGS);
    for (const g of ['wine', 'empty']) for (const r of edgeRoutesOf(out, g)) expect(r.route?.rate_limits).toBeUndefined();
  });

  it('sticky header: hash policy on routes and ring-hash clusters', () => {
    const sticky = translate(model(), { ...SETTINGS, stickyHeader: 'x-user' });
    const def = edgeRoutesOf(sticky, 'wine').find((r: Obj) => r.name === 'wine/default')!;
    expect(def.route.hash_policy).toEqual([{ header: { header_name: 'x-user' }, policy_specifier: 'header' }]);
    expect(decodedAny(find(sticky.clusters, 'sluice/wine/v1').resource).lb_policy).toBe('RING_HASH');
  });
});

const bytesOf = (r: EnvoyResources) =>
  [...r.listeners, ...r.routes, ...r.clusters, ...r.endpoints].map((x) => [x.name, Buffer.from(x.resource.value).toString('hex')]);

describe('translate: determinism and edits', () => {
  it('same input → byte-identical output, whatever the input order', () => {
    const a = translate(model(), SETTINGS);
    const shuffled = model();
    shuffled.groups.reverse();
    for (const g of shuffled.groups) {
      g.versions.reverse();
      for (const v of g.versions) v.endpoints.reverse();
    }
    const b = translate(shuffled, SETTINGS);
    expect(bytesOf(b)).toEqual(bytesOf(a));
    expect(makeSnapshot(b).types).toEqual(makeSnapshot(a).types);
  });

  it('editing weights N times equals a fresh build (weights replace, never append)', () => {
    const m = model();
    const wine = m.groups.find((g) => g.name === 'wine')!;
    let last = translate(m, SETTINGS);
    for (let i = 0; i <= 20; i++) {
      wine.versions[0]!.weight = 100 - i * 5;
      wine.versions[1]!.weight = i * 5;
      last = translate(m, SETTINGS);
    }
    const fresh = model();
    fresh.groups.find((g) => g.name === 'wine')!.versions[0]!.weight = 0;
    fresh.groups.find((g) => g.name === 'wine')!.versions[1]!.weight = 100;
    expect(bytesOf(last)).toEqual(bytesOf(translate(fresh, SETTINGS)));
    const routes = edgeRoutesOf(last, 'wine');
    const def = routes.find((r: Obj) => r.name === 'wine/default')!;
    // a zero-weight version is not in the split, but stays pinnable
    expect(def.route.weighted_clusters.clusters.map((c: Obj) => [c.name, c.weight.value])).toEqual([
      ['sluice/wine/v2', 100],
    ]);
    expect(routes.some((r: Obj) => r.name === 'wine/pin/v1')).toBe(true);
  });

  it('every route configuration encodes exactly as a one-piece protobufjs encoding of its decoded self', () => {
    for (const rc of translate(model(), SETTINGS).routes) {
      const whole = encode(ENVOY_TYPES.routeConfiguration, decodedAny(rc.resource));
      expect(Buffer.from(whole).equals(Buffer.from(rc.resource.value)), rc.name).toBe(true);
    }
  });

  it('a reusing translator gives what a fresh translate gives, edit after edit', () => {
    const t = createTranslator();
    const m = model();
    m.groups.push({ groupId: 'g3', name: 'iris', versions: [version('v1', 100, 7100)] });
    expect(bytesOf(t(m, SETTINGS))).toEqual(bytesOf(translate(m, SETTINGS)));
    const edits: ((x: DataPlaneModel) => void)[] = [
      (x) => (x.groups[0]!.versions[0]!.weight = 5),
      (x) => x.groups[0]!.versions[1]!.endpoints.push({ instance: 'v2-9', host: '10.1.1.1', port: 7002, healthy: true }),
      (x) => (x.groups[0]!.versions[1]!.authEnabled = true),
      (x) => x.groups.splice(2, 1),
      (x) => x.groups.push({ groupId: 'g4', name: 'mnist', versions: [] }),
    ];
    for (const edit of edits) {
      edit(m);
      expect(bytesOf(t(m, SETTINGS))).toEqual(bytesOf(translate(m, SETTINGS)));
    }
    const sticky = { ...SETTINGS, stickyHeader: 'x-user' };
    expect(bytesOf(t(m, sticky))).toEqual(bytesOf(translate(m, sticky)));
  });

  it('an endpoint-only change changes only the EDS version', () => {
    const a = makeSnapshot(translate(model(), SETTINGS));
    const m = model();
    m.groups[0]!.versions[1]!.endpoints.push({ instance: 'v2-1', host: '127.0.0.1', port: 7003, healthy: true });
    const b = makeSnapshot(translate(m, SETTINGS));
    expect(b.types[TYPE_URL.endpoint].version).not.toBe(a.types[TYPE_URL.endpoint].version);
    for (const url of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster]) {
      expect(b.types[url].version).toBe(a.types[url].version);
    }
    expect(b.types[TYPE_URL.endpoint].resources.get('sluice/wine/v1')!.hash).toBe(
      a.types[TYPE_URL.endpoint].resources.get('sluice/wine/v1')!.hash,
    );
  });

  it('fractional shares keep their proportions', () => {
    const m = model();
    m.groups[0]!.versions[0]!.weight = 33.3;
    m.groups[0]!.versions[1]!.weight = 66.7;
    const rc = decodedAny(find(translate(m, SETTINGS).routes, 'wine.sluice').resource);
    const wc = rc.virtual_hosts[0].routes.at(-1).route.weighted_clusters.clusters;
    expect(wc.map((c: Obj) => c.weight.value)).toEqual([33300, 66700]);
  });
});

describe('translate: bad input', () => {
  const bad = (mut: (m: DataPlaneModel) => void, re: RegExp) => {
    const m = model();
    mut(m);
    expect(() => translate(m, SETTINGS)).toThrow(XdsTranslateError);
    expect(() => translate(m, SETTINGS)).toThrow(re);
  };
  it('refuses models Envoy would refuse, with the reason', () => {
    bad((m) => (m.groups[0]!.name = 'Bad_Name'), /DNS-1123/);
    bad((m) => m.groups.push({ ...m.groups[0]! }), /appears twice/);
    bad((m) => (m.groups[0]!.versions[1]!.name = 'v1'), /appears twice/);
    bad((m) => (m.groups[0]!.versions[0]!.weight = -1), /weight/);
    bad((m) => (m.groups[0]!.versions[0]!.weight = Number.NaN), /weight/);
    bad((m) => (m.groups[0]!.versions[0]!.qpsLimit = 0), /qpsLimit/);
    bad((m) => (m.groups[0]!.versions[0]!.endpoints[0]!.port = 70000), /port/);
    bad((m) => (m.groups[0]!.versions[0]!.weight = 2 ** 33), /2\^32/);
  });
  it('refuses bad settings', () => {
    expect(() => translate(model(), { ...SETTINGS, listenerPort: 0 })).toThrow(/listenerPort/);
    expect(() => translate(model(), { ...SETTINGS, stickyHeader: 'Bad Header' })).toThrow(/stickyHeader/);
  });
});
