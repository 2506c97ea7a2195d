// Assembles the control plane from its parts: the domain layer over a database, pub/sub,
// an orchestrator and the auth parts, plus the GraphQL schema and a per-request context.
// Which database, pub/sub or orchestrator is a constructor argument: main.ts picks the
// embedded or production ones from the environment, tests pick real or test doubles.
import type { Database } from '../platform/db/client.ts';
import type { PubSub } from '../platform/pubsub/port.ts';
import type { Orchestrator } from './orchestrator/port.ts';
import type { Auth } from './auth/index.ts';
import { hashPassword, verifyPassword, generateApiKey } from './auth/index.ts';
import { createDomain, type Domain, type Actor } from './domain/index.ts';
import type { ModelResolver } from './domain/deps.ts';
import type { PrismaClient } from '../platform/db/prisma.ts';
import { schema } from './graphql/schema.ts';
import type { GraphQLContext, RequestInfo } from './graphql/context.ts';
import type { ProxyStatusSource } from './graphql/types/proxy-status.ts';
import { unauthenticated } from '../platform/errors.ts';
import type { ModelRegistry } from './registry/service.ts';
import type { Operations } from './monitoring/operations.ts';
import { LogService } from './logs/service.ts';
import { EmbeddedMetricsReader } from './monitoring/reader.ts';
import { InferenceService, type InferenceServiceDeps } from './inference/service.ts';
import type { ObjectStore } from '../platform/objectstore/port.ts';
import type { LoginCounters } from './auth/login-counters.ts';
import { LoginThrottle } from './domain/login-throttle.ts';

export interface ControlPlaneParts {
  db: Database;
  pubsub: PubSub;
  orchestrator: Orchestrator;
  auth: Auth;
  models: ModelResolver;
  edgeBaseUrl: string;
  proxyStatus?: ProxyStatusSource;
  registry?: ModelRegistry;
  /** logs and metrics history; default: logs read from the orchestrator, no metrics history */
  operations?: Operations;
  /** the inference table and quality loop: its object store and scratch folder (omitted: not served) */
  inference?: { store: ObjectStore; workDir: string } & Partial<Pick<InferenceServiceDeps, 'webhook' | 'webhookAllowHosts' | 'leaseMs' | 'maxObjectsPerBatch'>>;
  now?: () => Date;
  /** where failed sign-ins are counted (default: this process; RedisLoginCounters shares them) */
  loginCounters?: LoginCounters;
}

export interface ControlPlane {
  domain: Domain;
  prisma: PrismaClient;
  admin: Actor;
  schema: typeof schema;
  /** null when the parts gave no inference settings */
  inference: InferenceService | null;
  contextFor(authorization: string | undefined, request?: RequestInfo): Promise<GraphQLContext>;
  /** set later, once the xDS server exists */
  setProxyStatus(source: ProxyStatusSource): void;
}

const noProxies: ProxyStatusSource = { list: () => [], currentVersions: () => ({}) };

export async function createControlPlane(parts: ControlPlaneParts): Promise<ControlPlane> {
  const prisma = parts.db.prisma;
  const domain = createDomain(
    {
      prisma,
      pubsub: parts.pubsub,
      orchestrator: parts.orchestrator,
      secrets: { seal: (plain) => parts.auth.secretBox.encrypt(plain), open: (sealed) => parts.auth.secretBox.decrypt(sealed) },
      models: parts.models,
      now: parts.now ?? (() => new Date()),
      edgeBaseUrl: parts.edgeBaseUrl,
    },
    {
      passwords: { hash: (p) => hashPassword(p), verify: (p, e) => verifyPassword(p, e) },
      sessions: {
        issue: async (claims) => {
          const token = await parts.auth.sessions.issueSessionToken(claims);
          const verified = await parts.auth.sessions.verifySessionToken(token);
          return { token, expiresAt: verified.expiresAt };
        },
      },
      generateApiKey: () => {
        const k = generateApiKey();
        return { key: k.key, prefix: k.prefix, hash: k.hash };
      },
      ...(parts.loginCounters ? { loginThrottle: new LoginThrottle(parts.loginCounters) } : {}),
    },
  );
  const { admin } = await domain.people.bootstrap();
  const inference = parts.inference
    ? new InferenceService({
        prisma,
        pubsub: parts.pubsub,
        secrets: { seal: (plain) => parts.auth.secretBox.encrypt(plain, 'quality-webhook'), open: (sealed) => parts.auth.secretBox.decrypt(sealed, 'quality-webhook') },
        ...parts.inference,
        ...(parts.now ? { now: parts.now } : {}),
      })
    : null;
  let proxyStatus = parts.proxyStatus ?? noProxies;
  const operations: Operations = parts.operations ?? { logs: new LogService({ orchestrator: parts.orchestrator, store: null, searcher: null }), metrics: new EmbeddedMetricsReader(prisma) };

  async function actorFor(authorization: string | undefined): Promise<Actor | null> {
    const identity = await parts.auth.authenticator.authenticate(authorization);
    if (!identity) return null;
    if (identity.kind === 'admin') return admin;
    if (identity.kind === 'user') {
      const actor = identity.userId ? await domain.people.actorFor(identity.userId, { sessionEpoch: identity.sessionEpoch ?? 0, role: identity.role }) : null;
      if (!actor) throw unauthenticated('this session has ended (the user is disabled or gone, or its password or role changed): sign in again');
      return actor;
    }
    return domain.people.actorForExternal(`${identity.issuer ?? ''}|${identity.subject ?? identity.username}`, identity.username, identity.role);
  }

  return {
    domain,
    prisma,
    admin,
    schema,
    inference,
    setProxyStatus: (source) => {
      proxyStatus = source;
    },
    async contextFor(authorization, request) {
      return { actor: await actorFor(authorization), domain, prisma, pubsub: parts.pubsub, proxyStatus, registry: parts.registry ?? null, operations, inference, clientAddress: request?.address ?? null };
    },
  };
}
