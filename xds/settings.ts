// The xDS settings (ports, where Envoy finds Sluice, the listener port) for `npm start`, the
// bootstrap CLI and tests alike: the variables are read by platform/settings.ts (the one
// loader); this module only shapes them for the xDS server and the bootstrap.
import { loadSettings, type Settings } from '../platform/settings.ts';
import type { DataPlaneJwtIssuer, DataPlaneSettings } from './model.ts';

export const GATEWAY_CLUSTER = 'sluice_gateway';
export const XDS_CLUSTER = 'sluice_xds';

export interface XdsSettings {
  /** port the ADS server listens on (SLUICE_XDS_PORT, default 18000) */
  xdsPort: number;
  /** host Envoy dials to reach the ADS server (SLUICE_XDS_HOST, default 127.0.0.1) */
  xdsHost: string;
  /** SLUICE_GRPC_TOKEN: Envoy presents it to the xDS server (bootstrap initial_metadata) */
  grpcToken: string | null;
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

/** The external issuer as Envoy's jwt_authn needs it (null when SLUICE_JWT_JWKS_URL is unset). */
function dataPlaneJwt(settings: Settings): DataPlaneJwtIssuer | null {
  const jwt = settings.auth.jwt;
  if (!jwt) return null;
  return { jwksUrl: jwt.jwksUrl, issuers: jwt.issuer, audiences: jwt.audience, groupsClaim: jwt.groupsClaim ?? 'sluice_groups' };
}

/** A bad variable: the one settings loader's error (platform/settings.ts). */
export { ConfigError as XdsSettingsError } from '../platform/settings.ts';

/** The xDS part of the settings: read and validated by the one loader, shaped for xds/. */
export function xdsSettingsFromEnv(env: Record<string, string | undefined> = process.env): XdsSettings {
  return xdsSettingsOf(loadSettings(env));
}

export function xdsSettingsOf(settings: Settings): XdsSettings {
  const d = settings.dataPlane;
  return {
    xdsPort: settings.ports.xds,
    xdsHost: d.xdsHost,
    grpcToken: settings.grpc.token,
    dataPlane: {
      listenerPort: d.listenerPort,
      gatewayCluster: GATEWAY_CLUSTER,
      gatewayHost: d.gatewayHost,
      gatewayPort: settings.ports.gateway,
      stickyHeader: d.stickyHeader,
      gatewayToken: settings.grpc.token,
      rateLimit: { mode: d.envoyRateLimit, proxies: 1 },
      jwt: dataPlaneJwt(settings),
    },
    envoy: d.envoy,
  };
}
