// Scale to zero at the edge: a request for a version that scales to zero and has no replica
// right now waits here — the edge counts it as a cold start, which the autoscaler reads as
// demand for a first replica — until the routing table gives the version an endpoint, or
// the cold-start time runs out (then the caller answers 503 with Retry-After).
import type { EdgeGroup, EdgeVersion } from './routing.ts';
import type { RoutingSource } from './xds-client.ts';

export interface Woken {
  group: EdgeGroup;
  version: EdgeVersion;
}

/** Resolves with the version's fresh entry once it has an endpoint; null on timeout or when it leaves the table. */
export function waitForEndpoint(routing: RoutingSource, group: string, version: string, timeoutMs: number): Promise<Woken | null> {
  const find = (): Woken | null | undefined => {
    const g = routing.current().groups.get(group);
    if (!g) return null;
    const v = g.pins.get(version) ?? g.weighted.find((w) => w.version.name === version)?.version;
    if (!v) return null;
    return v.endpoints.length > 0 ? { group: g, version: v } : undefined;
  };
  const now = find();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve) => {
    const done = (r: Woken | null) => {
      clearTimeout(timer);
      unwatch();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    const unwatch = routing.onChange(() => {
      const r = find();
      if (r !== undefined) done(r);
    });
  });
}
