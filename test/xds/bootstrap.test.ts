// The Envoy bootstrap: complete, checked against the Bootstrap proto, ports from the
// environment, and the shipped deploy/envoy.yaml in step with the generator.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { bootstrapJson, bootstrapYaml, buildBootstrap, checkBootstrap } from '../../xds/bootstrap.ts';
import { XdsSettingsError, xdsSettingsFromEnv } from '../../xds/settings.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Envoy bootstrap', () => {
  it('has ADS for LDS+CDS, loopback admin, and HTTP/2 clusters for xDS and the gateway', () => {
    const b = buildBootstrap(xdsSettingsFromEnv({ SLUICE_XDS_PORT: '19000', SLUICE_GATEWAY_PORT: '19081', ENVOY_NODE_ID: 'edge-7' })) as Obj;
    expect(b.node).toEqual({ id: 'edge-7', cluster: 'sluice-edge' });
    expect(b.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9901 });
    expect(b.dynamic_resources.ads_config).toMatchObject({
      api_type: 'GRPC',
      transport_api_version: 'V3',
      grpc_services: [{ envoy_grpc: { cluster_name: 'sluice_xds' } }],
    });
    expect(b.dynamic_resources.lds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    expect(b.dynamic_resources.cds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
    const clusters = b.static_resources.clusters as Obj[];
    expect(clusters.map((c) => c.name)).toEqual(['sluice_xds', 'sluice_gateway']);
    const port = (c: Obj) => c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value;
    expect(port(clusters[0]!)).toBe(19000);
    expect(port(clusters[1]!)).toBe(19081);
    for (const c of clusters) {
      const opts = c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
      expect(opts['@type']).toBe('type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
      expect(opts.explicit_http_config).toEqual({ http2_protocol_options: {} });
    }
  });

  it('YAML and JSON say the same thing', () => {
    const s = xdsSettingsFromEnv({});
    expect(load(bootstrapYaml(s))).toEqual(JSON.parse(bootstrapJson(s)));
  });

  it('the strict check catches a field Envoy would reject', () => {
    const b = buildBootstrap(xdsSettingsFromEnv({})) as Obj;
    expect(() => checkBootstrap({ ...b, admin: { ...b.admin, adress: 1 } })).toThrow(/no field adress/);
    const clusters = b.static_resources.clusters as Obj[];
    const opts = clusters[0]!.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    opts.explicit_http_config = { http3: {} };
    expect(() => checkBootstrap(b)).toThrow(/no field http3/);
  });

  it('bad ports in the environment are refused by name', () => {
    expect(() => xdsSettingsFromEnv({ SLUICE_XDS_PORT: 'abc' })).toThrow(XdsSettingsError);
    expect(() => xdsSettingsFromEnv({ SLUICE_GATEWAY_PORT: '70000' })).toThrow(/SLUICE_GATEWAY_PORT/);
  });

  it('deploy/envoy.yaml is what `npm run envoy:bootstrap` prints for the defaults', () => {
    const shipped = readFileSync(new URL('../../deploy/envoy.yaml', import.meta.url), 'utf8');
    expect(shipped).toBe(bootstrapYaml(xdsSettingsFromEnv({})));
  });

  it('the CLI prints JSON with --json and fails cleanly on bad settings', () => {
    const root = new URL('../../', import.meta.url).pathname;
    const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_XDS_PORT: '18555' };
    for (const k of ['SLUICE_GATEWAY_PORT', 'SLUICE_XDS_HOST', 'SLUICE_GATEWAY_HOST', 'ENVOY_NODE_ID', 'ENVOY_ADMIN_PORT']) delete env[k];
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'xds/bootstrap-cli.ts', '--json'], { cwd: root, env, encoding: 'utf8' });
    expect(JSON.parse(out).static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(18555);
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'xds/bootstrap-cli.ts'], { cwd: root, env: { ...env, SLUICE_XDS_PORT: 'x' }, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
      stderr = String((e as { stderr: string }).stderr);
    }
    expect(status).toBe(1);
    expect(stderr).toMatch(/SLUICE_XDS_PORT: is not a port/);
  });
});
