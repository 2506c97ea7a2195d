// The policy port: everything the edge policies (auth, rate limit, inference capture) need to
// know about groups, versions and API keys, without knowing where it is stored. The control
// plane implements PolicySource over the database; tests and the benchmark use
// StaticPolicySource. Also the JSON error body every policy denial answers with (CONTRACT).

import { mlflowErrorBody, wireCode } from '../../platform/scoring/errors.ts';

export interface InferenceTableSettings {
  enabled: boolean;
  /** Fraction of requests recorded, 0..1 (1 = every request). */
  sampleRate: number;
  /** Request and response bodies above this many bytes are cut and flagged as truncated. */
  maxBodyBytes: number;
}

export interface VersionPolicy {
  group: string;
  version: string;
  /** When false the version accepts requests without any credential. */
  authEnabled: boolean;
  /** With authEnabled: only JWTs of the external issuer are accepted, API keys are refused. */
  authJwtOnly?: boolean;
  /** Requests per second for the whole version; null = unlimited. */
  qpsLimit: number | null;
  /** Requests per second for each API key calling this version; null = no per-key limit. */
  keyQpsLimit: number | null;
  inference: InferenceTableSettings;
  /** At the QPS limit: REJECT (429 at once, the default) or QUEUE (wait in a bounded queue, then 429). */
  throttleMode?: 'REJECT' | 'QUEUE';
  /** QUEUE: requests waiting at most, and the longest wait. */
  queueDepth?: number | null;
  queueMaxWaitMs?: number | null;
  /** Requests in flight at most for the version (either mode); null = no limit. */
  maxConcurrency?: number | null;
}

export interface ApiKeyRecord {
  keyId: string;
  /** SHA-256 hex of the full key, as stored. */
  hash: string;
  groupName: string;
  /** null = valid for every version of the group. */
  versionName: string | null;
}

export interface PolicySource {
  /** The policies of a group's versions (empty if no such group). Synchronous: served from a cache the owner keeps fresh. */
  versionPolicies(group: string): readonly VersionPolicy[];
  /** An API key by SHA-256 hex hash; undefined for an unknown or revoked key. */
  findApiKey(hash: string): Promise<ApiKeyRecord | undefined>;
  /** Called on every successful use; the owner batches the last-used update. */
  markKeyUsed(keyId: string): void;
}

export const versionPolicy = (source: PolicySource, group: string, version: string): VersionPolicy | undefined =>
  source.versionPolicies(group).find((p) => p.version === version);

export const DEFAULT_INFERENCE_SETTINGS: InferenceTableSettings = { enabled: false, sampleRate: 1, maxBodyBytes: 64 * 1024 };

/** An in-memory PolicySource: for tests, benchmarks and single-file demos. */
export class StaticPolicySource implements PolicySource {
  private readonly groups = new Map<string, VersionPolicy[]>();
  private readonly keys = new Map<string, ApiKeyRecord>();
  /** key ids of the latest successful uses, oldest first (at least the last 1,000) */
  readonly used: string[] = [];

  setVersion(policy: VersionPolicy): void {
    const list = (this.groups.get(policy.group) ?? []).filter((p) => p.version !== policy.version);
    list.push(policy);
    this.groups.set(policy.group, list);
  }
  removeGroup(group: string): void {
    this.groups.delete(group);
  }
  addKey(record: ApiKeyRecord): void {
    this.keys.set(record.hash, record);
  }
  revokeKey(keyId: string): void {
    for (const [hash, rec] of this.keys) if (rec.keyId === keyId) this.keys.delete(hash);
  }
  versionPolicies(group: string): readonly VersionPolicy[] {
    return this.groups.get(group) ?? [];
  }
  async findApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.get(hash);
  }
  markKeyUsed(keyId: string): void {
    this.used.push(keyId);
    // (at least) the last 1,000 uses, trimmed in batches: a trim per call moved the whole list
    if (this.used.length > 2000) this.used.splice(0, this.used.length - 1000);
  }
}

export type PolicyErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'THROTTLED';

/**
 * The CONTRACT error body: `{"error_code","message","request_id"}`, MLflow's and Databricks'
 * shape, with the policy's code turned into theirs (FORBIDDEN → PERMISSION_DENIED, ...).
 */
export function errorBody(code: string, message: string, requestId: string): string {
  return mlflowErrorBody(wireCode(code), message, requestId);
}
