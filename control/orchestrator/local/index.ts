// The local orchestrator's public surface: the factory and the types its options use.
export { createLocalOrchestrator, instanceName, type Clock, type LocalOrchestratorOptions } from './orchestrator.ts';
export type { LocalCapacity } from './capacity.ts';
export type { BackoffPolicy } from './backoff.ts';
export type { ReplicaTiming } from './replica.ts';
