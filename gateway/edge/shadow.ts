// Shadow (mirrored) traffic at the local edge: Envoy's request_mirror_policies played here.
// After the live request's body is read, a copy goes to the group's mirror version in the
// background — the live answer never waits on it — and the shadow's answer is written to
// the inference log with `"shadow": true` under the same request id, so the inference table
// can compare the two versions on the same requests. Nobody receives the shadow's answer.
//
// Bounded: at most `maxInFlight` copies are out at once; beyond that a copy is dropped and
// counted (sluice_shadow_requests_total{outcome="dropped"}), so a slow shadow version costs
// neither memory nor live latency.
import { Counter, type Registry } from 'prom-client';
import type { InferenceRecorder } from '../inference-log/recorder.ts';
import { envelope } from './envelope.ts';
import type { EdgeLogger } from './log.ts';
import type { EdgeGroup, EdgeVersion } from './routing.ts';
import { UpstreamFailure, type Upstreams } from './upstream.ts';
import { PIN_HEADER, REQUEST_ID_HEADER } from '../../xds/contract.ts';

export interface ShadowOptions {
  upstreams: Upstreams;
  recorder?: InferenceRecorder | undefined;
  registry: Registry;
  log: EdgeLogger;
  /** copies in flight at most (default 64) */
  maxInFlight?: number;
  /** upper bound on a copy's upstream time (default 30 s; the version's route timeout applies when shorter) */
  timeoutMs?: number;
  random?: () => number;
}

export type ShadowOutcome = 'sent' | 'dropped' | 'failed' | 'no_endpoint';

export class ShadowTraffic {
  private inFlightCount = 0;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly counter: Counter<'group' | 'version' | 'outcome'>;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: ShadowOptions) {
    this.maxInFlight = options.maxInFlight ?? 64;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.counter =
      (options.registry.getSingleMetric('sluice_shadow_requests_total') as Counter<'group' | 'version' | 'outcome'> | undefined) ??
      new Counter({
        name: 'sluice_shadow_requests_total',
        help: 'Mirrored copies of /predict requests, by outcome (sent, dropped at the in-flight bound, failed, no_endpoint)',
        labelNames: ['group', 'version', 'outcome'],
        registers: [options.registry],
      });
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /**
   * Sends a copy of a live request to the group's mirror version when the draw says so.
   * Returns at once; never throws.
   */
  mirror(group: EdgeGroup, live: EdgeVersion, requestId: string, clientRequestId: string | null, body: string, contentType = 'application/json'): void {
    const m = group.mirror;
    if (!m || m.version.name === live.name) return;
    if (m.fraction < 1 && this.random() >= m.fraction) return;
    if (this.inFlightCount >= this.maxInFlight) {
      this.counter.inc({ group: group.name, version: m.version.name, outcome: 'dropped' });
      return;
    }
    this.inFlightCount++;
    const p = this.send(group.name, m.version, requestId, clientRequestId, body, contentType).finally(() => {
      this.inFlightCount--;
      this.pending.delete(p);
    });
    this.pending.add(p);
  }

  private async send(group: string, version: EdgeVersion, requestId: string, clientRequestId: string | null, body: string, contentType: string): Promise<void> {
    const { upstreams, recorder, log } = this.options;
    const ep = upstreams.next(version);
    if (!ep) {
      this.counter.inc({ group, version: version.name, outcome: 'no_endpoint' });
      return;
    }
    const startedAt = Date.now();
    const t0 = performance.now();
    let status: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    try {
      const timeout = version.timeoutMs > 0 ? Math.min(version.timeoutMs, this.timeoutMs) : this.timeoutMs;
      const res = await upstreams.invoke(ep, body, { 'content-type': contentType, [REQUEST_ID_HEADER]: requestId, [PIN_HEADER]: version.name }, timeout);
      status = res.status;
      responseBody = shadowAnswer(res.body.toString('utf8'), res.status, clientRequestId, requestId, version.name);
      this.counter.inc({ group, version: version.name, outcome: 'sent' });
    } catch (err) {
      error = err instanceof UpstreamFailure ? `SHADOW_${err.kind.toUpperCase()}: ${err.message}` : `SHADOW_FAILED: ${(err as Error).message}`;
      this.counter.inc({ group, version: version.name, outcome: 'failed' });
    }
    if (!recorder || !version.policy.capture) return;
    await recorder
      .record({ requestId, clientRequestId, group, version: version.name, startedAt, latencyMs: performance.now() - t0, statusCode: status, requestBody: body, responseBody, error, shadow: true })
      .catch((err: unknown) => log.error({ requestId, err: (err as Error).message }, 'shadow inference record not written'));
  }

  /** Waits for the copies in flight (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** A 200 answer in the /predict envelope, like the live record; anything else as the runtime said it. */
function shadowAnswer(text: string, status: number, clientRequestId: string | null, requestId: string, version: string): string {
  if (status !== 200) return text;
  try {
    const obj = JSON.parse(text) as unknown;
    if (typeof obj === 'object' && obj !== null && Array.isArray((obj as Record<string, unknown>).predictions)) {
      return envelope(clientRequestId, requestId, version, text, obj as Record<string, unknown>);
    }
  } catch {
    // not JSON: recorded as it came
  }
  return text;
}
