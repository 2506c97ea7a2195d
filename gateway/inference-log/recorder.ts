// The one door into the inference table: applies the version's settings (table on?, sample
// rate, body limit) to a captured exchange and hands the record to the writer. The local
// edge calls record() per answered request; the Envoy capture path calls it from the join.
import { Counter, type Registry } from 'prom-client';
import type { PolicySource } from '../policy/port.ts';
import { buildInferenceRecord, type ExchangeInput, type InferenceRecord } from './record.ts';

export interface RecordSink {
  append(record: InferenceRecord): Promise<void>;
}

export interface InferenceRecorderOptions {
  policies: PolicySource;
  sink: RecordSink;
  /** For sampling; injectable so tests are deterministic. */
  random?: () => number;
  registry?: Registry;
}

export type RecordOutcome = 'recorded' | 'disabled' | 'unsampled' | 'unknown-version';

export class InferenceRecorder {
  private readonly policies: PolicySource;
  private readonly sink: RecordSink;
  private readonly random: () => number;
  private readonly counter: Counter<'outcome'> | undefined;

  constructor(options: InferenceRecorderOptions) {
    this.policies = options.policies;
    this.sink = options.sink;
    this.random = options.random ?? Math.random;
    if (options.registry) {
      const existing = options.registry.getSingleMetric('sluice_inference_records_total');
      this.counter =
        (existing as Counter<'outcome'> | undefined) ??
        new Counter({
          name: 'sluice_inference_records_total',
          help: 'Answered requests seen by the inference recorder, by outcome',
          labelNames: ['outcome'],
          registers: [options.registry],
        });
    }
  }

  /**
   * Resolves 'recorded' once the record is in the spool (written, or fsync'd with sync
   * 'always'); an edge that awaits this before answering guarantees the record survives the
   * process being killed. Rejects only when the spool itself cannot be written (counted as
   * outcome 'failed').
   */
  async record(input: ExchangeInput): Promise<RecordOutcome> {
    let outcome: RecordOutcome | 'failed' = 'failed';
    try {
      outcome = await this.recordInner(input);
      return outcome;
    } finally {
      this.counter?.inc({ outcome });
    }
  }

  private async recordInner(input: ExchangeInput): Promise<RecordOutcome> {
    const policy = this.policies.versionPolicies(input.group).find((p) => p.version === input.version);
    // Unknown names never become object-store paths.
    if (!policy) return 'unknown-version';
    const { inference } = policy;
    if (!inference.enabled) return 'disabled';
    const rate = Math.min(1, Math.max(0, inference.sampleRate));
    // a data plane that sampled already (Envoy's capture filter) is not drawn twice
    if (input.sampled === false) return 'unsampled';
    if (input.sampled === undefined && rate < 1 && this.random() >= rate) return 'unsampled';
    await this.sink.append(buildInferenceRecord(input, inference, rate));
    return 'recorded';
  }
}
