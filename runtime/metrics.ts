// The runtime's Prometheus metrics, on a registry of its own so that several runtimes in
// one process (tests, the benchmark) never collide. Scraped at GET /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RuntimeMetrics {
  readonly registry: Registry;
  /** One scoring request answered with `status`, after `seconds`, having predicted `rows` rows. */
  observe(status: number, seconds: number, rows: number): void;
  setReady(ready: boolean): void;
}

export function createRuntimeMetrics(labels: { model: string; version: string }, options: { processMetrics?: boolean } = {}): RuntimeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'sluice_runtime_' });

  const requests = new Counter({
    name: 'sluice_runtime_requests_total',
    help: 'Scoring requests (POST /invocations) by HTTP status',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'sluice_runtime_request_duration_seconds',
    help: 'Time from the first byte of a scoring request to its answer',
    labelNames: ['status'] as const,
    // the model itself takes microseconds: resolution is needed at the low end
    buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const rows = new Counter({
    name: 'sluice_runtime_rows_predicted_total',
    help: 'Rows scored by the model',
    registers: [registry],
  });
  const ready = new Gauge({
    name: 'sluice_runtime_ready',
    help: '1 once the model is loaded and requests are served',
    registers: [registry],
  });
  ready.set(0);

  // Status labels are few (200, 4xx, 5xx); keep the child handles instead of a lookup per call.
  const children = new Map<number, { count: Counter.Internal; time: Histogram.Internal<'status'> }>();
  return {
    registry,
    observe(status, seconds, predicted) {
      let child = children.get(status);
      if (!child) {
        const label = { status: String(status) };
        child = { count: requests.labels(label), time: latency.labels(label) };
        children.set(status, child);
      }
      child.count.inc();
      child.time.observe(seconds);
      if (predicted > 0) rows.inc(predicted);
    },
    setReady(value) {
      ready.set(value ? 1 : 0);
    },
  };
}
