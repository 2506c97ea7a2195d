// Who may call /predict: the Authorizer decides from the group/version and the Authorization
// header (a Sluice API key or a JWT from the configured issuer); createAuthorizationService
// is the thin Envoy ext_authz (envoy.service.auth.v3.Authorization/Check) adapter around it.
// The local edge calls Authorizer.check in-process.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { API_KEY_PREFIX, hashApiKey, isApiKeyFormat } from '../platform/api-keys.ts';
import { IDENTITY_HEADER, KEY_ID_HEADER, PIN_HEADER } from '../xds/contract.ts';
import type * as grpc from '@grpc/grpc-js';
import { isAuthError, type AuthFailureReason } from '../platform/auth-errors.ts';
import { createJwtVerifier, type JwtVerifier, type JwtVerifierConfig } from '../platform/jwt.ts';
import type { AuthorizationHandlers } from '../proto/generated/envoy/service/auth/v3/Authorization.ts';
import type { CheckRequest__Output } from '../proto/generated/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse } from '../proto/generated/envoy/service/auth/v3/CheckResponse.ts';
import type { HeaderValueOption } from '../proto/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { StatusCode } from '../proto/generated/envoy/type/v3/StatusCode.ts';
import { headerValueOf } from './envoy-headers.ts';
import { errorBody, type ApiKeyRecord, type PolicySource } from './policy/port.ts';

// One definition of what an API key looks like and how it is hashed, shared with the
// control plane that issues them.
export { API_KEY_PREFIX, generateApiKey, hashApiKey } from '../platform/api-keys.ts';

/**
 * The issuer whose JWTs /predict accepts (the same settings as the GraphQL API:
 * platform/settings.ts reads SLUICE_JWT_*), verified by the one verifier in platform/jwt.ts.
 */
export interface JwtSettings extends JwtVerifierConfig {
  /** Claim listing the groups the token may call ('*' = all). Default `sluice_groups`. */
  groupsClaim?: string | undefined;
}

export interface AuthorizerOptions {
  policies: PolicySource;
  jwt?: JwtSettings;
  /** How long an API key lookup (found or not) is reused; bounds how late a revocation bites. */
  keyCacheTtlMs?: number;
  keyCacheMaxEntries?: number;
  now?: () => number;
}

export interface AuthzInput {
  group: string;
  /** Unknown before routing unless the client pinned one. */
  version?: string | undefined;
  /** The raw Authorization header value. */
  authorization?: string | undefined;
}

export type AuthzAllow = {
  allowed: true;
  kind: 'api-key' | 'jwt' | 'anonymous';
  /** Stable, non-secret: `key:<id>`, `jwt:<iss>#<sub>` or `anonymous`. */
  identity: string;
  keyId: string | null;
};
export type AuthzDeny = {
  allowed: false;
  status: 401 | 403 | 404 | 503;
  code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'AUTH_UNAVAILABLE';
  message: string;
};
export type AuthzDecision = AuthzAllow | AuthzDeny;

const deny = (status: AuthzDeny['status'], code: AuthzDeny['code'], message: string): AuthzDeny => ({ allowed: false, status, code, message });
const ANONYMOUS: AuthzAllow = { allowed: true, kind: 'anonymous', identity: 'anonymous', keyId: null };

/** The credential part of an Authorization header: bare, or after a `Bearer` scheme. */
export function credentialOf(header: string | undefined): string {
  if (!header) return '';
  const trimmed = header.trim();
  const m = /^bearer(?:\s+|$)(.*)$/i.exec(trimmed);
  return (m ? (m[1] ?? '') : trimmed).trim();
}

/**
 * One key lookup, shared by every request presenting the key until `expires`. `settled` is
 * filled in once the lookup has answered: a request finding it decides synchronously (no
 * promise, no await), with exactly the answer the promise gave — same record, same expiry.
 */
type CacheEntry = { expires: number; record: Promise<ApiKeyRecord | undefined>; settled: SettledLookup | null };
type SettledLookup = {
  record: ApiKeyRecord | undefined;
  /** the record's stored hash as bytes; null when it is not a SHA-256 hex string */
  stored: Buffer | null;
  /** the allow decision for the record (frozen: handed to every request the entry serves) */
  allow: AuthzAllow | null;
};

/** Drops the oldest tenth of a Map (insertion order) once it is over `max`: one sweep per many inserts. */
function trimOldest<K, V>(map: Map<K, V>, max: number): void {
  if (map.size <= max) return;
  let drop = Math.ceil(max / 10);
  for (const k of map.keys()) {
    if (drop-- <= 0) break;
    map.delete(k);
  }
}

const MALFORMED_KEY = Object.freeze(deny(403, 'FORBIDDEN', 'malformed API key'));
const UNKNOWN_KEY = Object.freeze(deny(403, 'FORBIDDEN', 'unknown or revoked API key'));
const STORE_DOWN = Object.freeze(deny(503, 'AUTH_UNAVAILABLE', 'API key store unavailable; try again'));
const WRONG_GROUP = Object.freeze(deny(403, 'FORBIDDEN', 'API key is not valid for this service group'));
const WRONG_VERSION = Object.freeze(deny(403, 'FORBIDDEN', 'API key is not valid for this service version'));

export class Authorizer {
  private readonly policies: PolicySource;
  private readonly jwt: { verifier: JwtVerifier; groupsClaim: string } | undefined;
  private readonly ttl: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();
  // Stored hashes as bytes, per record object (a cached lookup returns the same object).
  private readonly storedBytes = new WeakMap<ApiKeyRecord, Buffer | null>();

  constructor(options: AuthorizerOptions) {
    this.policies = options.policies;
    this.ttl = options.keyCacheTtlMs ?? 1000;
    this.maxEntries = options.keyCacheMaxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    if (options.jwt) {
      this.jwt = { verifier: createJwtVerifier(options.jwt), groupsClaim: options.jwt.groupsClaim ?? 'sluice_groups' };
    }
  }

  async check(input: AuthzInput): Promise<AuthzDecision> {
    return this.decide(input);
  }

  /**
   * check()'s decision, given synchronously when nothing has to be waited for (no credential
   * needed, a malformed one, or an API key whose lookup is cached and answered); a promise
   * when a key lookup is in flight or a JWT is verified. The local edge calls this per
   * request so the usual case costs no promise and no turn of the microtask queue.
   */
  decide(input: AuthzInput): AuthzDecision | Promise<AuthzDecision> {
    const versions = this.policies.versionPolicies(input.group);
    if (versions.length === 0) return deny(404, 'NOT_FOUND', `no service group ${JSON.stringify(input.group)}`);
    let authRequired: boolean;
    let jwtOnly: boolean;
    if (input.version) {
      const v = versions.find((p) => p.version === input.version);
      if (!v) return deny(404, 'NOT_FOUND', `service group ${JSON.stringify(input.group)} has no version ${JSON.stringify(input.version)}`);
      authRequired = v.authEnabled;
      jwtOnly = v.authJwtOnly === true;
    } else {
      // Before routing the version is unknown: ask for a credential if any version would,
      // and refuse API keys when every version asking for one accepts only JWTs.
      authRequired = versions.some((p) => p.authEnabled);
      jwtOnly = authRequired && versions.every((p) => !p.authEnabled || p.authJwtOnly === true);
    }
    if (!authRequired) return ANONYMOUS;

    const credential = credentialOf(input.authorization);
    if (credential === '') return deny(401, 'UNAUTHENTICATED', 'missing credential: send an API key or JWT in the Authorization header');
    if (credential.startsWith(API_KEY_PREFIX)) {
      // as Envoy's jwt_authn answers for such a version: a credential it cannot accept
      if (jwtOnly) return deny(401, 'UNAUTHENTICATED', 'this service version accepts only JWTs from the configured issuer, not API keys');
      return this.checkApiKey(credential, input);
    }
    if (credential.split('.').length === 3) return this.checkJwt(credential, input);
    return deny(403, 'FORBIDDEN', 'credential is neither a Sluice API key nor a JWT');
  }

  /** The cache entry for a key hash: the live one, or a new lookup (failed lookups are not remembered). */
  private lookup(hash: string): CacheEntry {
    const now = this.now();
    const hit = this.cache.get(hash);
    if (hit && hit.expires > now) return hit;
    if (hit) this.cache.delete(hash);
    let record: Promise<ApiKeyRecord | undefined>;
    try {
      // (a native promise whatever the source returns: decide() tells waiting by instanceof Promise)
      record = Promise.resolve(this.policies.findApiKey(hash));
    } catch (err) {
      // a source that throws instead of rejecting fails the same way (503)
      record = Promise.reject(err as Error);
    }
    const entry: CacheEntry = { expires: now + this.ttl, record, settled: null };
    record.then(
      (found) => {
        entry.settled = this.settle(found);
      },
      () => {
        // A failed lookup must not be remembered.
        if (this.cache.get(hash) === entry) this.cache.delete(hash);
      },
    );
    this.cache.set(hash, entry);
    trimOldest(this.cache, this.maxEntries);
    return entry;
  }

  private settle(record: ApiKeyRecord | undefined): SettledLookup {
    const stored = record ? this.storedHashOf(record) : null;
    const allow: AuthzAllow | null =
      record && stored ? Object.freeze({ allowed: true as const, kind: 'api-key' as const, identity: `key:${record.keyId}`, keyId: record.keyId }) : null;
    return { record, stored, allow };
  }

  /** The record's stored hash as bytes; null when it is not a SHA-256 hex string. */
  private storedHashOf(record: ApiKeyRecord): Buffer | null {
    let b = this.storedBytes.get(record);
    if (b === undefined) {
      b = /^[0-9a-f]{64}$/.test(record.hash) ? Buffer.from(record.hash, 'hex') : null;
      this.storedBytes.set(record, b);
    }
    return b;
  }

  // Raw keys are never kept (not even in a cache): each request's key is hashed (SHA-256,
  // well under a microsecond) and its digest is what is looked up and compared.
  private checkApiKey(key: string, input: AuthzInput): AuthzDecision | Promise<AuthzDecision> {
    if (!isApiKeyFormat(key)) return MALFORMED_KEY;
    const hex = hashApiKey(key);
    const entry = this.lookup(hex);
    if (entry.settled !== null) return this.keyDecision(entry.settled, hex, input);
    return entry.record.then(
      (found) => this.keyDecision(entry.settled ?? this.settle(found), hex, input),
      () => STORE_DOWN,
    );
  }

  private keyDecision(found: SettledLookup, hex: string, input: AuthzInput): AuthzDecision {
    const { record, stored, allow } = found;
    if (!record || !stored || !allow) return UNKNOWN_KEY;
    // Still compared in constant time on every request, cached lookup or not.
    if (!timingSafeEqual(stored, Buffer.from(hex, 'hex'))) return UNKNOWN_KEY;
    if (record.groupName !== input.group) return WRONG_GROUP;
    if (record.versionName !== null && input.version && record.versionName !== input.version) return WRONG_VERSION;
    this.policies.markKeyUsed(record.keyId);
    return allow;
  }

  private async checkJwt(token: string, input: AuthzInput): Promise<AuthzDecision> {
    const jwt = this.jwt;
    if (!jwt) return deny(403, 'FORBIDDEN', 'JWTs are not accepted: no issuer is configured');
    let payload;
    try {
      payload = await jwt.verifier.verify(token);
    } catch (err) {
      return deny(403, 'FORBIDDEN', `invalid JWT: ${jwtReason(err)}`);
    }
    const claim = payload[jwt.groupsClaim];
    const groups = Array.isArray(claim) ? claim.filter((g): g is string => typeof g === 'string') : [];
    if (!groups.includes(input.group) && !groups.includes('*')) {
      return deny(403, 'FORBIDDEN', 'JWT does not grant this service group');
    }
    return { allowed: true, kind: 'jwt', identity: `jwt:${payload.iss ?? ''}#${payload.sub ?? ''}`, keyId: null };
  }
}

// Reasons a client can act on, without echoing token contents.
const JWT_REASONS: Partial<Record<AuthFailureReason, string>> = {
  expired: 'token expired',
  not_yet_valid: 'token not valid yet',
  claim_invalid: 'claim check failed',
  alg_not_allowed: 'signature algorithm not allowed',
  bad_signature: 'bad signature',
  unknown_key: 'no matching signing key',
  jwks_unavailable: 'cannot verify token',
};
function jwtReason(err: unknown): string {
  if (!isAuthError(err)) return 'malformed token';
  const claim = err.details?.['claim'];
  if (err.reason === 'claim_invalid' && typeof claim === 'string') return `claim ${claim} check failed`;
  return JWT_REASONS[err.reason] ?? 'malformed token';
}

// ---------------------------------------------------------------- Envoy ext_authz adapter

const ENVOY_STATUS: Record<AuthzDeny['status'], StatusCode> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  503: 'ServiceUnavailable',
};
// google.rpc.Code values Envoy reads from CheckResponse.status.
const RPC_CODE: Record<AuthzDeny['status'], number> = { 401: 16, 403: 7, 404: 5, 503: 14 };

const setHeader = (key: string, value: string): HeaderValueOption => ({
  header: { key, value },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

/** Headers of an ext_authz CheckRequest, lower-cased, from `headers` or (raw mode) `header_map`. */
export function checkRequestHeaders(req: CheckRequest__Output): Record<string, string> {
  const http = req.attributes?.request?.http;
  const out: Record<string, string> = {};
  if (!http) return out;
  for (const [k, v] of Object.entries(http.headers ?? {})) out[k.toLowerCase()] = v;
  for (const h of http.header_map?.headers ?? []) {
    const key = (h.key ?? '').toLowerCase();
    if (!(key in out)) out[key] = headerValueOf(h);
  }
  return out;
}

export function toCheckResponse(decision: AuthzDecision, requestId: string): CheckResponse {
  if (decision.allowed) {
    const headers = [setHeader(IDENTITY_HEADER, decision.identity)];
    // Always overwrite, so a client cannot pose as a key by sending the header itself.
    headers.push(setHeader(KEY_ID_HEADER, decision.keyId ?? ''));
    return {
      status: { code: 0, message: '' },
      ok_response: { headers, headers_to_remove: ['authorization'] },
    };
  }
  return {
    status: { code: RPC_CODE[decision.status], message: decision.message },
    denied_response: {
      status: { code: ENVOY_STATUS[decision.status] },
      headers: [setHeader('content-type', 'application/json'), setHeader('x-request-id', requestId)],
      body: errorBody(decision.code, decision.message, requestId),
    },
  };
}

export function createAuthorizationService(authorizer: Authorizer): AuthorizationHandlers {
  return {
    Check(call: grpc.ServerUnaryCall<CheckRequest__Output, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) {
      const req = call.request;
      const ext = req.attributes?.context_extensions ?? {};
      const headers = checkRequestHeaders(req);
      const requestId = headers['x-request-id'] || randomUUID();
      const group = ext.group ?? '';
      // A version is known when the route names it, or the client pinned one.
      const version = ext.version || headers[PIN_HEADER] || undefined;
      const decide: Promise<AuthzDecision> =
        group === ''
          ? Promise.resolve(deny(404, 'NOT_FOUND', 'route carries no service group (context_extensions.group)'))
          : authorizer.check({ group, version, authorization: headers.authorization });
      decide.then(
        (d) => callback(null, toCheckResponse(d, requestId)),
        () => callback(null, toCheckResponse(deny(503, 'AUTH_UNAVAILABLE', 'authorization failed; try again'), requestId)),
      );
    },
  };
}
