// The pub/sub port: fan-out of change notifications to GraphQL subscriptions (and to the
// xDS snapshot builder). In-process by default; Redis when several control-plane
// processes must agree (REDIS_URL).

export interface PubSub {
  publish(topic: string, payload: unknown): Promise<void>;
  /** An async iterator of payloads published on `topic` after the call; `return()` unsubscribes. */
  subscribe<T = unknown>(topic: string): AsyncIterableIterator<T>;
  close(): Promise<void>;
}

/** Topic names in one place so publishers and subscribers cannot drift apart. */
export const topics = {
  group: (groupId: string) => `group:${groupId}`,
  groups: 'groups',
  version: (versionId: string) => `version:${versionId}`,
  instances: (versionId: string) => `instances:${versionId}`,
  events: 'events',
  /** anything that changes the data plane (routes, weights, endpoints, auth, limits) */
  dataPlane: 'data-plane',
  proxyStatus: 'proxy-status',
  /** each GraphQL mutation once it has answered (control/graphql/mutation-notices.ts) */
  mutations: 'mutations',
} as const;
