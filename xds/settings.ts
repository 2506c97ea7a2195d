// Environment → the xDS settings (ports, where Envoy finds Sluice, the listener port), in
// one place, for `npm start`, the bootstrap CLI and tests alike.
import type { DataPlaneSettings } from './model.ts';

export const GATEWAY_CLUSTER = 'sluice_gateway';
export const XDS_CLUSTER = 'sluice_xds';

export interface XdsSettings {
  /** port the ADS server listens on (SLUICE_XDS_PORT, default 18000) */
  xdsPort: number;
  /** host Envoy dials to reach the ADS server (SLUICE_XDS_HOST, default 127.0.0.1) */
  xdsHost: string;
  dataPlane: DataPlaneSettings;
  envoy: {
    /** ENVOY_NODE_ID, default sluice-edge-0 */
    nodeId: string;
    /** ENVOY_NODE_CLUSTER, default sluice-edge */
    nodeCluster: string;
    /** ENVOY_ADMIN_PORT, default 9901 (bound to 127.0.0.1 only) */
    adminPort: number;
  };
}

export class XdsSettingsError extends Error {
  readonly code = 'XDS_BAD_SETTINGS' as const;
  constructor(message: string) {
    super(message);
    this.name = 'XdsSettingsError';
  }
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new XdsSettingsError(`${name}=${raw} is not a port`);
  return n;
}

export function xdsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): XdsSettings {
  const sticky = env.SLUICE_STICKY_HEADER?.trim().toLowerCase();
  return {
    xdsPort: port(env, 'SLUICE_XDS_PORT', 18000),
    xdsHost: env.SLUICE_XDS_HOST || '127.0.0.1',
    dataPlane: {
      listenerPort: port(env, 'SLUICE_ENVOY_LISTENER_PORT', 10000),
      gatewayCluster: GATEWAY_CLUSTER,
      gatewayHost: env.SLUICE_GATEWAY_HOST || '127.0.0.1',
      gatewayPort: port(env, 'SLUICE_GATEWAY_PORT', 18081),
      stickyHeader: sticky ? sticky : null,
    },
    envoy: {
      nodeId: env.ENVOY_NODE_ID || 'sluice-edge-0',
      nodeCluster: env.ENVOY_NODE_CLUSTER || 'sluice-edge',
      adminPort: port(env, 'ENVOY_ADMIN_PORT', 9901),
    },
  };
}
