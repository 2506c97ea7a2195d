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
type CountedOutcome = RecordOutcome | 'failed';

/**
 * sluice_inference_records_total{outcome} counted in plain fields and handed to prom-client
 * when /metrics is scraped (the counter's collect hook): a labelled inc() hashes and checks
 * its label object per call, per answered request here. One tally per registry, shared by
 * every recorder on it, as the counter is.
 */
type OutcomeTally = Map<CountedOutcome, number>;
const tallies = new WeakMap<Registry, { counter: Counter<'outcome'>; tally: OutcomeTally }>();

function outcomeCounter(registry: Registry): (outcome: CountedOutcome) => void {
  let made = tallies.get(registry);
  if (!made) {
    const existing = registry.getSingleMetric('sluice_inference_records_total') as Counter<'outcome'> | undefined;
    // a counter registered some other way (not by this module): counted into it directly
    if (existing) return (outcome) => existing.inc({ outcome });
    const tally: OutcomeTally = new Map();
    const counter = new Counter({
      name: 'sluice_inference_records_total',
      help: 'Answered requests seen by the inference recorder, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [outcome, n] of tally) this.inc({ outcome }, n);
      },
    });
    made = { counter, tally };
    tallies.set(registry, made);
  }
  const { tally } = made;
  return (outcome) => {
    tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
  };
}

export class InferenceRecorder {
  private readonly policies: PolicySource;
  private readonly sink: RecordSink;
  private readonly random: () => number;
  private readonly count: (outcome: CountedOutcome) => void;

  constructor(options: InferenceRecorderOptions) {
    this.policies = options.policies;
    this.sink = options.sink;
    this.random = options.random ?? Math.random;
    this.count = options.registry ? outcomeCounter(options.registry) : () => {};
  }

  /**
   * Resolves 'recorded' once the record is in the spool (written, or fsync'd with sync
   * 'always'); an edge that awaits this before answering guarantees the record survives the
   * process being killed. Rejects only when the spool itself cannot be written (counted as
   * outcome 'failed').
   */
  record(input: ExchangeInput): Promise<RecordOutcome> {
    // (one promise per record: the sink's, continued; no async wrappers around it)
    let decided: { outcome: RecordOutcome; record?: InferenceRecord };
    let written: Promise<void>;
    try {
      decided = this.decide(input);
      if (!decided.record) {
        this.count(decided.outcome);
        return Promise.resolve(decided.outcome);
      }
      written = this.sink.append(decided.record);
    } catch (err) {
      this.count('failed');
      return Promise.reject(err as Error);
    }
    const { outcome } = decided;
    return written.then(
      () => {
        this.count(outcome);
        return outcome;
      },
      (err: unknown) => {
        this.count('failed');
        throw err;
      },
    );
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
      for (const o of outcomes) this.count(o === 'recorded' ? 'failed' : o);
      throw err;
    }
    for (const o of outcomes) this.count(o);
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
}
