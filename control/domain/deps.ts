// What the domain layer needs from the outside world, passed in once. The embedded and
// production choices (SQLite or PostgreSQL, in-process or Redis pub/sub, local or
// Kubernetes orchestrator) are made by whoever builds this object, never in here.
import type { Orchestrator, BackendSource } from '../orchestrator/port.ts';
import type { PubSub } from '../../platform/pubsub/port.ts';
import type { PrismaClient, ServiceVersion } from '../../platform/db/prisma.ts';

export interface SecretSealer {
  seal(plaintext: string): string;
  open(ciphertext: string): string;
}

/** Turns a version's model reference into something an orchestrator can run. */
export interface ModelResolver {
  /** Throws BAD_USER_INPUT when the model or version does not exist. */
  check(ref: { source: 'REGISTRY' | 'MLFLOW'; name: string; version: string; trackingUri: string | null }): Promise<void>;
  resolve(version: ServiceVersion): Promise<Extract<BackendSource, { kind: 'model' }>>;
}

export interface DomainDeps {
  prisma: PrismaClient;
  pubsub: PubSub;
  orchestrator: Orchestrator;
  secrets: SecretSealer;
  models: ModelResolver;
  now: () => Date;
  /** where `/services/{group}/predict` is reachable, for callAddress */
  edgeBaseUrl: string;
}
