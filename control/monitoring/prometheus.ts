// Metrics history from a real Prometheus (SLUICE_PROMETHEUS_URL): each MetricName becomes a
// PromQL expression evaluated with `query_range`, over the names the data plane exports —
// Sluice's own series for the local edge (sluice_requests_total, ...), Envoy's cluster stats
// for the `sluice/{group}/{version}` clusters when Envoy is the data plane. Replica CPU and
// memory come from the runtimes' process metrics, GPU from a DCGM exporter; the scrape
// configuration that attaches sluice_group / sluice_version / sluice_instance labels to
// those targets is what `npm run prometheus:config` prints.
//
// Alignment: a point's `t` is the start of its step, so each expression is a rate or average
// over the step, evaluated at the step's end (t + step) and reported at t.

import { SluiceError } from '../../platform/errors.ts';
import { clusterName, localRateLimitStatPrefix } from '../../xds/contract.ts';
import { stepStarts, type MetricName, type MetricSeries, type MetricsReader, type MetricsRequest, type MetricsTarget } from './reader.ts';

export interface PrometheusReaderOptions {
  baseUrl: string;
  /** which names the data plane exports: the local edge's or Envoy's */
  dataPlane: 'edge' | 'envoy';
  /** with Envoy: who counts throttled requests — its local_ratelimit filter or the global RLS callout */
  envoyRateLimit?: 'local' | 'global';
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const q = (s: string) => JSON.stringify(s); // PromQL string literals accept JSON escaping
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Selectors {
  /** the edge's (or Envoy's cluster) series of the target (group, version) */
  edge: string;
  /** Envoy's local_ratelimit series of the target (their stat prefix is per version) */
  localLimit: string;
  /** the replica targets' series (labels added by the scrape configuration) */
  replica: string;
}

function selectors(t: MetricsTarget, dataPlane: 'edge' | 'envoy'): Selectors {
  const version = t.versionId ? t.versions.find((v) => v.id === t.versionId)?.name ?? '' : null;
  let edge: string;
  if (dataPlane === 'edge') edge = version !== null ? `group=${q(t.groupName)},version=${q(version)}` : `group=${q(t.groupName)}`;
  else edge = version !== null ? `envoy_cluster_name=${q(clusterName(t.groupName, version))}` : `envoy_cluster_name=~${q(`${escapeRegex(clusterName(t.groupName, ''))}.+`)}`;
  // names are DNS-1123 labels (no '_'), so `sluice_{group}_[^_]+` is exactly the group's versions
  const localLimit = `envoy_local_http_ratelimit_prefix${version !== null ? `=${q(localRateLimitStatPrefix(t.groupName, version))}` : `=~${q(`${escapeRegex(localRateLimitStatPrefix(t.groupName, ''))}[^_]+`)}`}`;
  const replica = [`sluice_group=${q(t.groupName)}`, ...(version !== null ? [`sluice_version=${q(version)}`] : []), ...(t.instance ? [`sluice_instance=${q(t.instance)}`] : [])].join(',');
  return { edge, localLimit, replica };
}

/**
 * A count that may have no series yet (nothing throttled, no 5xx so far) reads 0 wherever the
 * target has traffic at all, not "no data".
 */
const orZeroWhere = (expr: string, traffic: string) => `(${expr} or (${traffic} * 0))`;

/** GPU series of a DCGM exporter (labelled with the pod it measured) kept for the target's replicas. */
const dcgm = (metric: string, r: string, w: string) =>
  `avg_over_time(${metric}[${w}]) and on (pod) label_replace(up{${r},sluice_role="replica"}, "pod", "$1", "sluice_instance", "(.+)")`;

/** The PromQL of one metric; `w` is the step as a range (e.g. "60s"). */
export function promql(name: MetricName, t: MetricsTarget, dataPlane: 'edge' | 'envoy', w: string, envoyRateLimit: 'local' | 'global' = 'local'): string {
  const s = selectors(t, dataPlane);
  const e = s.edge;
  const r = s.replica;
  // per-instance traffic comes from the replica's own counters
  const perInstance = t.instance !== null;
  const quantile = (p: number) =>
    perInstance
      ? `histogram_quantile(${p}, sum by (le) (rate(sluice_runtime_request_duration_seconds_bucket{${r}}[${w}]))) * 1000`
      : dataPlane === 'edge'
        ? `histogram_quantile(${p}, sum by (le) (rate(sluice_request_duration_seconds_bucket{${e}}[${w}]))) * 1000`
        : `histogram_quantile(${p}, sum by (le) (rate(envoy_cluster_upstream_rq_time_bucket{${e}}[${w}])))`; // Envoy's are in ms
  if (perInstance) {
    const requests = `sum(rate(sluice_runtime_requests_total{${r}}[${w}]))`;
    switch (name) {
      case 'QPS': return requests;
      case 'ERROR_RATE': return `${orZeroWhere(`sum(rate(sluice_runtime_requests_total{${r},status=~"5.."}[${w}]))`, requests)} / ${requests}`;
      case 'LATENCY_P50': return quantile(0.5);
      case 'LATENCY_P95': return quantile(0.95);
      case 'LATENCY_P99': return quantile(0.99);
      default: break;
    }
  }
  const edge = dataPlane === 'edge';
  // requests that reached the version (Envoy counts the throttled ones elsewhere)
  const upstream = edge ? `sum(rate(sluice_requests_total{${e}}[${w}]))` : `sum(rate(envoy_cluster_upstream_rq_total{${e}}[${w}]))`;
  const throttled = edge
    ? orZeroWhere(`sum(rate(sluice_throttled_total{${e}}[${w}]))`, upstream)
    : envoyRateLimit === 'local'
      ? orZeroWhere(`sum(rate(envoy_http_local_rate_limit_rate_limited{${s.localLimit}}[${w}]))`, upstream)
      : orZeroWhere(`sum(rate(envoy_cluster_ratelimit_over_limit{${e}}[${w}]))`, upstream);
  switch (name) {
    case 'QPS': return edge ? upstream : `${upstream} + ${throttled}`;
    case 'THROTTLED_QPS': return throttled;
    case 'CONCURRENCY': return edge ? `sum(avg_over_time(sluice_inflight_requests{${e}}[${w}]))` : `sum(avg_over_time(envoy_cluster_upstream_rq_active{${e}}[${w}]))`;
    case 'BYTES_IN': return edge ? `sum(rate(sluice_request_bytes_total{${e}}[${w}]))` : `sum(rate(envoy_cluster_upstream_cx_tx_bytes_total{${e}}[${w}]))`;
    case 'BYTES_OUT': return edge ? `sum(rate(sluice_response_bytes_total{${e}}[${w}]))` : `sum(rate(envoy_cluster_upstream_cx_rx_bytes_total{${e}}[${w}]))`;
    case 'LATENCY_P50': return quantile(0.5);
    case 'LATENCY_P95': return quantile(0.95);
    case 'LATENCY_P99': return quantile(0.99);
    case 'ERROR_RATE':
      return edge
        ? `${orZeroWhere(`sum(rate(sluice_requests_total{${e},code=~"5.."}[${w}]))`, upstream)} / ${upstream}`
        : `${orZeroWhere(`sum(rate(envoy_cluster_upstream_rq_xx{${e},envoy_response_code_class="5"}[${w}]))`, upstream)} / ${upstream}`;
    case 'CPU': return `sum(rate(sluice_runtime_process_cpu_seconds_total{${r}}[${w}]))`;
    case 'MEMORY': return `sum(avg_over_time(sluice_runtime_process_resident_memory_bytes{${r}}[${w}]))`;
    case 'GPU_UTILIZATION': return `max(${dcgm('DCGM_FI_DEV_GPU_UTIL', r, w)})`;
    case 'GPU_MEMORY': return `sum(${dcgm('DCGM_FI_DEV_FB_USED', r, w)}) * 1048576`; // DCGM reports MiB
    case 'INSTANCES_RUNNING': return `sum(max_over_time(up{${r},sluice_role="replica"}[${w}]))`;
    case 'INSTANCES_EXPECTED': return `count(max_over_time(up{${r},sluice_role="replica"}[${w}]))`;
  }
}

interface QueryRangeResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
}

export class PrometheusMetricsReader implements MetricsReader {
  readonly kind = 'prometheus' as const;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: PrometheusReaderOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  async query(target: MetricsTarget, req: MetricsRequest): Promise<MetricSeries[]> {
    const starts = stepStarts(req.fromMs, req.toMs, req.stepSec);
    const w = `${req.stepSec}s`;
    return Promise.all(
      req.names.map(async (name) => {
        const values = await this.range(promql(name, target, this.options.dataPlane, w, this.options.envoyRateLimit), (starts[0] as number) + req.stepSec * 1000, (starts.at(-1) as number) + req.stepSec * 1000, req.stepSec);
        const points = starts.map((t) => {
          const v = values.get(t + req.stepSec * 1000);
          return { t: new Date(t), v: v === undefined || !Number.isFinite(v) ? null : v };
        });
        const gpu = name === 'GPU_UTILIZATION' || name === 'GPU_MEMORY';
        const reason = gpu && points.every((p) => p.v === null) ? 'Prometheus has no DCGM exporter series for these replicas' : null;
        return { name, versionId: target.versionId, instance: target.instance, points, reason };
      }),
    );
  }

  /** query_range → value by evaluation time (ms). */
  private async range(query: string, startMs: number, endMs: number, stepSec: number): Promise<Map<number, number>> {
    const url = new URL('api/v1/query_range', this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`);
    url.search = new URLSearchParams({ query, start: String(startMs / 1000), end: String(endMs / 1000), step: `${stepSec}s` }).toString();
    let res: Response;
    try {
      res = await this.fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
    } catch (error) {
      throw new SluiceError('UNAVAILABLE', `Prometheus at ${this.options.baseUrl} is unreachable: ${(error as Error).message}`);
    }
    let body: QueryRangeResponse;
    try {
      body = (await res.json()) as QueryRangeResponse;
    } catch {
      throw new SluiceError('UNAVAILABLE', `Prometheus at ${this.options.baseUrl} answered HTTP ${res.status} without a JSON body`);
    }
    if (body.status !== 'success' || !body.data) throw new SluiceError('UNAVAILABLE', `Prometheus refused the query: ${body.error ?? `HTTP ${res.status}`}`);
    const out = new Map<number, number>();
    for (const series of body.data.result) for (const [ts, v] of series.values) out.set(Math.round(ts * 1000), Number(v));
    return out;
  }
}
