// The per-request GraphQL context: who is calling and the domain they act on.
import type { Domain, Actor } from '../domain/index.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import type { PubSub } from '../../platform/pubsub/port.ts';
import { unauthenticated } from '../../platform/errors.ts';
import type { ProxyStatusSource } from './types/proxy-status.ts';
import type { ModelRegistry } from '../registry/service.ts';
import type { Operations } from '../monitoring/operations.ts';
import type { InferenceService } from '../inference/service.ts';

/** Turns an `Authorization` header value into an actor: null without one, throws on a bad one. */
export type Authenticate = (authorization: string | undefined) => Promise<Actor | null>;

export interface GraphQLContext {
  actor: Actor | null;
  domain: Domain;
  prisma: PrismaClient;
  pubsub: PubSub;
  proxyStatus: ProxyStatusSource;
  /** null where no object store is configured (tests of other parts) */
  registry: ModelRegistry | null;
  /** logs and metrics history (logSearch, logTail, metrics, metricsUpdated) */
  operations: Operations;
  /** null where no object store is configured (tests of other parts) */
  inference: InferenceService | null;
  /** the caller's network address (login throttling); absent outside HTTP/WebSocket */
  clientAddress?: string | null;
}

/** What the transport knows about a request besides its credential. */
export interface RequestInfo {
  address?: string | null;
}

export function requireActor(ctx: GraphQLContext): Actor {
  if (!ctx.actor) throw unauthenticated('send a bearer token in the Authorization header');
  return ctx.actor;
}
