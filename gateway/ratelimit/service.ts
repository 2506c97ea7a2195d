// The Envoy rate-limit service adapter (envoy.service.ratelimit.v3.RateLimitService/
// ShouldRateLimit) around RateLimiter. Each descriptor names `group`, `version` and
// optionally `key` (the API key id the ext_authz check put in x-sluice-key-id); descriptors
// without group and version are not Sluice's and pass. Envoy sends the body of a 429 from
// raw_body and the Retry-After header from response_headers_to_add.
import { DESCRIPTOR, parseClusterName } from '../../xds/contract.ts';
import type * as grpc from '@grpc/grpc-js';
import type { RateLimitServiceHandlers } from '../../proto/generated/envoy/service/ratelimit/v3/RateLimitService.ts';
import type { RateLimitRequest__Output } from '../../proto/generated/envoy/service/ratelimit/v3/RateLimitRequest.ts';
import type {
  RateLimitResponse,
  _envoy_service_ratelimit_v3_RateLimitResponse_DescriptorStatus as DescriptorStatus,
} from '../../proto/generated/envoy/service/ratelimit/v3/RateLimitResponse.ts';
import { errorBody } from '../policy/port.ts';
import type { RateDecision, RateLimiter } from './limiter.ts';

function toStatus(d: RateDecision): DescriptorStatus {
  return {
    code: d.allowed ? 'OK' : 'OVER_LIMIT',
    current_limit: d.limit === null ? null : { requests_per_unit: d.limit, unit: 'SECOND' },
    limit_remaining: d.remaining,
    duration_until_reset: d.allowed ? null : { seconds: String(d.retryAfterSeconds), nanos: 0 },
  };
}

/**
 * Envoy's hits_addend, bounded: one call may count for at most MAX_HITS_ADDEND requests, so a
 * caller cannot spend a version's whole budget (everyone else's share) in one call.
 */
export const MAX_HITS_ADDEND = 100;
export function boundedHits(hits: number | string | null | undefined): number {
  const n = Number(hits ?? 0);
  if (!Number.isFinite(n) || n < 1) return 1;
  return Math.min(Math.floor(n), MAX_HITS_ADDEND);
}

export async function shouldRateLimit(limiter: RateLimiter, req: RateLimitRequest__Output): Promise<RateLimitResponse> {
  // Descriptors naming the same group/version are decided by ONE check, so a route that sends
  // both a version descriptor and a key descriptor does not spend two version tokens.
  const targets = (req.descriptors ?? []).map((descriptor) => {
    const entries = new Map((descriptor.entries ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    // pin routes name the version; the default weighted route can only send the cluster
    // Envoy picked (`destination_cluster` = sluice/{group}/{version})
    const picked = parseClusterName(entries.get(DESCRIPTOR.cluster) ?? '');
    const group = entries.get(DESCRIPTOR.group) ?? picked?.group;
    const version = entries.get(DESCRIPTOR.version) ?? picked?.version;
    return group && version ? { id: `${group}\n${version}`, group, version, key: entries.get('key') || null } : null;
  });
  const decisions = new Map<string, RateDecision>();
  for (const t of targets) {
    if (!t || decisions.has(t.id)) continue;
    const keyId = targets.find((o) => o?.id === t.id && o.key)?.key ?? null;
    decisions.set(t.id, await limiter.check({ group: t.group, version: t.version, keyId, cost: boundedHits(req.hits_addend) }));
  }
  const statuses: DescriptorStatus[] = targets.map((t) => {
    const d = t ? decisions.get(t.id) : undefined;
    return d ? toStatus(d) : { code: 'OK' };
  });
  let worst: RateDecision | undefined;
  for (const d of decisions.values()) if (!d.allowed && (!worst || d.retryAfterSeconds > worst.retryAfterSeconds)) worst = d;
  if (!worst) return { overall_code: 'OK', statuses };
  const message = `rate limit of ${worst.limit} requests per second ${worst.scope === 'key' ? 'for this API key ' : ''}exceeded`;
  return {
    overall_code: 'OVER_LIMIT',
    statuses,
    response_headers_to_add: [
      { key: 'retry-after', value: String(worst.retryAfterSeconds) },
      { key: 'content-type', value: 'application/json' },
    ],
    // Envoy adds x-request-id itself; the rate-limit service never sees it, hence "".
    raw_body: Buffer.from(errorBody('THROTTLED', message, '')),
  };
}

export function createRateLimitService(limiter: RateLimiter): RateLimitServiceHandlers {
  return {
    ShouldRateLimit(call: grpc.ServerUnaryCall<RateLimitRequest__Output, RateLimitResponse>, callback: grpc.sendUnaryData<RateLimitResponse>) {
      shouldRateLimit(limiter, call.request).then(
        (res) => callback(null, res),
        (err: unknown) => callback({ code: 13, details: `rate limit check failed: ${(err as Error).message}` }),
      );
    },
  };
}
