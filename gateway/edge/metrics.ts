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
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
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
