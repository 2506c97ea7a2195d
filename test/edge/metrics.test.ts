// The edge's series are counted in a tally and handed to prom-client at scrape time
// (gateway/edge/metrics.ts): the exposition must be what prom-client's own metrics would
// have written for the same requests.
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS, bucketOf, createEdgeMetrics } from '../../gateway/edge/metrics.ts';

/** The lines of one metric family in an exposition. */
const family = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(name))
    // values compared to 9 digits (a sum may add up in another order), series in any order
    .map((l) => l.replace(/ ([0-9.e+-]+)$/, (_, v: string) => ` ${Number(v).toPrecision(9)}`))
    .sort();

describe('edge metrics tally', () => {
  it('files a latency in the bucket prom-client files it in, bounds included', () => {
    const probes = [0, 1e-6, ...LATENCY_BUCKETS, ...LATENCY_BUCKETS.map((b) => b * 1.0001), ...LATENCY_BUCKETS.map((b) => b * 0.9999), 31, 1e9];
    for (const v of probes) {
      const expected = LATENCY_BUCKETS.findIndex((b) => v <= b);
      expect(bucketOf(v)).toBe(expected);
    }
  });

  it('writes the same histogram and counters as prom-client observing each request', async () => {
    const registry = new Registry();
    const edge = createEdgeMetrics(registry);
    const reference = new Registry();
    const refDuration = new Histogram({ name: 'sluice_request_duration_seconds', help: 'x', labelNames: ['group', 'version'], buckets: LATENCY_BUCKETS, registers: [reference] });
    const refRequests = new Counter({ name: 'sluice_requests_total', help: 'x', labelNames: ['group', 'version', 'code'], registers: [reference] });
    const refBytes = new Counter({ name: 'sluice_request_bytes_total', help: 'x', labelNames: ['group', 'version'], registers: [reference] });
    const seen: [string, string, number, number, number][] = [];
    for (let i = 0; i < 500; i++) seen.push(['wine', i % 3 === 0 ? 'v2' : 'v1', i % 7 === 0 ? 503 : 200, 0.0001 * 1.05 ** (i % 200), i % 5 === 0 ? 0 : 100 + i]);
    seen.push(['', '', 404, 0.0004, 0]);
    for (const [group, version, code, seconds, bytes] of seen) {
      edge.tally.series(group, version).answered(code, seconds, bytes, 10);
      refDuration.observe({ group, version }, seconds);
      refRequests.inc({ group, version, code: String(code) });
      if (bytes > 0) refBytes.inc({ group, version }, bytes);
    }
    const ours = await registry.metrics();
    const theirs = await reference.metrics();
    for (const name of ['sluice_request_duration_seconds_', 'sluice_requests_total{', 'sluice_request_bytes_total{']) {
      const a = family(ours, name);
      expect(a.length).toBeGreaterThan(0);
      expect(a).toEqual(family(theirs, name));
    }
    // a second edge on the same registry counts into the same series
    expect(createEdgeMetrics(registry).tally).toBe(edge.tally);
  });

  it('shows in-flight requests per version from the first one on', async () => {
    const registry = new Registry();
    const edge = createEdgeMetrics(registry);
    const s = edge.tally.series('wine', 'v1');
    s.enter();
    s.enter();
    s.leave();
    expect(await registry.metrics()).toContain('sluice_inflight_requests{group="wine",version="v1"} 1');
  });
});
