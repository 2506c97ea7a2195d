// The data-plane model: what the control plane knows that the data plane needs, in one
// plain value. control/ builds it from the database (running groups, versions, traffic
// shares, ready instances); xds/translate.ts turns it into Envoy resources. It is the
// only input of translation, so the same model always yields the same resources.

export interface DataPlaneEndpoint {
  /** instance name, used for stable ordering and as the endpoint's hostname */
  instance: string;
  host: string;
  port: number;
  healthy: boolean;
}

export interface DataPlaneVersion {
  versionId: string;
  name: string; // DNS-1123 label
  /** relative weight; the running versions of a group sum to 100 */
  weight: number;
  authEnabled: boolean;
  /**
   * With authEnabled: only JWTs of the external issuer are accepted (no API keys), so Envoy
   * verifies them natively (jwt_authn + an RBAC check of the groups claim) instead of
   * calling ext_authz. Absent = false.
   */
  authJwtOnly?: boolean;
  qpsLimit: number | null;
  inferenceTable: { enabled: boolean; sampleRate: number; maxBodyBytes: number };
  endpoints: DataPlaneEndpoint[];
  /** autoscaled with min 0 replicas: with no endpoint, a request waits for the first replica */
  scaleToZero?: boolean;
  /** requests in flight at most (the version's throttle); null/absent = no cap */
  maxConcurrency?: number | null;
  /** QUEUE throttle mode: requests that may wait for a slot; null/absent = REJECT mode */
  queueDepth?: number | null;
}

export interface DataPlaneGroup {
  groupId: string;
  name: string; // DNS-1123 label; the route is /services/{name}/predict
  versions: DataPlaneVersion[]; // running versions only
  /** shadow traffic: a copy of `percent` % of requests to this running version (answered by nobody) */
  mirror?: DataPlaneMirror | null;
}

export interface DataPlaneMirror {
  version: string;
  /** 1..100 */
  percent: number;
}

export interface DataPlaneModel {
  groups: DataPlaneGroup[];
}

/** Where Envoy finds Sluice's gRPC plugins and how the listener is exposed. */
export interface DataPlaneSettings {
  listenerPort: number; // the Envoy listener for /services/{group}/predict
  gatewayCluster: string; // cluster name for ext_authz / rate limit / ext_proc / ALS
  gatewayHost: string;
  gatewayPort: number;
  /** optional header for sticky A/B (hash policy); null = none */
  stickyHeader: string | null;
  /** SLUICE_GRPC_TOKEN: Envoy sends it to the gateway on every plugin call; absent = none */
  gatewayToken?: string | null;
  /**
   * How Envoy enforces versions' QPS limits. Unset or 'global': the rate limit filter asks
   * the gateway's RateLimitService (exact across proxies with Redis, per-key limits too).
   * 'local': Envoy's own local_ratelimit filter, each proxy holding a token bucket of
   * ceil(qps / proxies) per version — no callout; the xDS server fills `proxies` with the
   * Envoy proxies connected and re-pushes when one comes or goes.
   */
  rateLimit?: EnvoyRateLimitSettings;
  /**
   * The external JWT issuer (SLUICE_JWT_*), for versions that accept only JWTs
   * (authJwtOnly): Envoy verifies their tokens with jwt_authn against the issuer's JWKS
   * (a remote source) and checks the groups claim with RBAC. Absent/null: no issuer, and
   * such versions stay behind ext_authz (which then refuses every credential).
   */
  jwt?: DataPlaneJwtIssuer | null;
}

export interface DataPlaneJwtIssuer {
  /** http(s) URL of the issuer's JWKS */
  jwksUrl: string;
  /** accepted `iss` values (one jwt_authn provider each) */
  issuers: string[];
  /** accepted `aud` values */
  audiences: string[];
  /** claim listing the groups a token may call ('*' = all) */
  groupsClaim: string;
}

export interface EnvoyRateLimitSettings {
  mode: 'local' | 'global';
  /** connected Envoy proxies sharing each version's QPS (≥ 1) */
  proxies: number;
}

