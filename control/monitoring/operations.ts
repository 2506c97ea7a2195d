// What the Operations part of the API reads from: the log service and, where history is kept,
// the metrics reader (embedded rollups or Prometheus). One object so the GraphQL context
// carries a single dependency for both.
import type { LogService } from '../logs/service.ts';
import type { MetricsReader } from './reader.ts';

export interface Operations {
  logs: LogService;
  /** null where no metrics history is kept (tests of other parts) */
  metrics: MetricsReader | null;
}
