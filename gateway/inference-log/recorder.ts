// The one door into the inference table: applies the version's settings (table on?, sample
// rate, body limit) to a captured exchange and hands the record to the writer. The local
// edge calls record() per answered request; the Envoy capture path calls it from the join.
import { Counter, type Registry } from 'prom-client';
import type { PolicySource } from '../policy/port.ts';
import { buildInferenceRecord, type ExchangeInput, type InferenceRecord } from './record.ts';

export interface RecordSink {
  append(record: InferenceRecord): Promise<void>;
  /** several records in one write (the writer's); absent: append() each */
  appendMany?(records: readonly InferenceRecord[]): Promise<void>;
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

  /**
   * record() for several exchanges at once (every exchange of one Envoy access-log message):
   * the same decisions, one spool write for all the records. Resolves with each outcome in
   * order; rejects when the spool cannot be written (each record counted 'failed').
   */
  async recordMany(inputs: readonly ExchangeInput[]): Promise<RecordOutcome[]> {
    const outcomes: RecordOutcome[] = [];
    const records: InferenceRecord[] = [];
    for (const input of inputs) {
      const decided = this.decide(input);
      outcomes.push(decided.outcome);
      if (decided.record) records.push(decided.record);
    }
    try {
      if (records.length > 0) {
        if (this.sink.appendMany) await this.sink.appendMany(records);
        else await Promise.all(records.map((r) => this.sink.append(r)));
      }
    } catch (err) {
      for (const o of outcomes) this.counter?.inc({ outcome: o === 'recorded' ? 'failed' : o });
      throw err;
    }
    for (const o of outcomes) this.counter?.inc({ outcome: o });
    return outcomes;
  }

  /** The version's settings applied to one exchange: the record to write, or why there is none. */
  private decide(input: ExchangeInput): { outcome: RecordOutcome; record?: InferenceRecord } {
    const policy = this.policies.versionPolicies(input.group).find((p) => p.version === input.version);
    // Unknown names never become object-store paths.
    if (!policy) return { outcome: 'unknown-version' };
    const { inference } = policy;
    if (!inference.enabled) return { outcome: 'disabled' };
    const rate = Math.min(1, Math.max(0, inference.sampleRate));
    // a data plane that sampled already (Envoy's capture filter) is not drawn twice
    if (input.sampled === false) return { outcome: 'unsampled' };
    if (input.sampled === undefined && rate < 1 && this.random() >= rate) return { outcome: 'unsampled' };
    return { outcome: 'recorded', record: buildInferenceRecord(input, inference, rate) };
  }

  private async recordInner(input: ExchangeInput): Promise<RecordOutcome> {
    const { outcome, record } = this.decide(input);
    if (record) await this.sink.append(record);
    return outcome;
  }
}
