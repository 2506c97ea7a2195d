// The edge's Prometheus series, registered on the registry the owner passes in (so `npm
// start` exposes them next to the control plane's). A series another module already
// registered under the same name (the rate limiter's sluice_throttled_total) is reused.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

type Labels = 'group' | 'version';

export interface EdgeMetrics {
  requests: Counter<'group' | 'version' | 'code'>;
  /** null when the rate limiter already counts throttles on this registry */
  throttled: Counter<Labels> | null;
  duration: Histogram<Labels>;
  inflight: Gauge<Labels>;
  requestBytes: Counter<Labels>;
  responseBytes: Counter<Labels>;
}

/**
 * Latency buckets 10 % apart from 0.25 ms to 30 s: quantiles interpolated inside a bucket
 * (the control plane's rollups, Prometheus' histogram_quantile) stay within a few percent of
 * the true figure, which coarse 1-2.5-5 buckets cannot promise.
 */
export const LATENCY_BUCKETS: number[] = (() => {
  // anchored on 5 ms so the familiar bound stays one of them
  const out: number[] = [];
  for (let k = -32; 0.005 * 1.1 ** k <= 30; k++) out.push(Number((0.005 * 1.1 ** k).toPrecision(3)));
  return out;
})();

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createEdgeMetrics(registry: Registry): EdgeMetrics {
  const registers = [registry];
  const labelNames = ['group', 'version'] as const;
  const throttledExisting = registry.getSingleMetric('sluice_throttled_total');
  return {
    requests: getOrCreate(registry, 'sluice_requests_total', () =>
      new Counter({ name: 'sluice_requests_total', help: '/predict requests answered by the edge, by status code', labelNames: ['group', 'version', 'code'], registers }),
    ),
    throttled: throttledExisting
      ? null
      : new Counter({ name: 'sluice_throttled_total', help: 'Requests refused with 429 by the rate limiter', labelNames, registers }),
    duration: getOrCreate(registry, 'sluice_request_duration_seconds', () =>
      new Histogram({
        name: 'sluice_request_duration_seconds',
        help: 'Time from request arrival to the last byte of the answer, at the edge',
        labelNames,
        buckets: LATENCY_BUCKETS,
        registers,
      }),
    ),
    inflight: getOrCreate(registry, 'sluice_inflight_requests', () =>
      new Gauge({ name: 'sluice_inflight_requests', help: '/predict requests in progress at the edge', labelNames, registers }),
    ),
    requestBytes: getOrCreate(registry, 'sluice_request_bytes_total', () =>
      new Counter({ name: 'sluice_request_bytes_total', help: 'Request body bytes received on /predict', labelNames, registers }),
    ),
    responseBytes: getOrCreate(registry, 'sluice_response_bytes_total', () =>
      new Counter({ name: 'sluice_response_bytes_total', help: 'Response body bytes sent on /predict', labelNames, registers }),
    ),
  };
}
