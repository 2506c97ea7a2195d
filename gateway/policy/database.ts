// The gateway's PolicySource over the database: per-version policies (auth, QPS limits,
// inference-table settings) kept in memory and refreshed whenever the data plane changes,
// API keys looked up by hash, and last-used times written in batches.
//
// The database going away must not stop the data plane: the policies stay as last read, a
// failed refresh is reported (onError) and retried until it succeeds, and an API key seen
// before is answered from the last-known-good lookups while the database cannot be read
// (a key never seen is refused: the lookup's error goes to the caller).
import type { ApiKeyRecord, PolicySource, VersionPolicy } from './port.ts';
import type { PrismaClient } from '../../platform/db/prisma.ts';
import { topics, type PubSub } from '../../platform/pubsub/port.ts';

export interface DatabasePolicyOptions {
  prisma: PrismaClient;
  pubsub?: PubSub;
  now?: () => Date;
  /** how often last-used times are written */
  flushIntervalMs?: number;
  /** optional per-key QPS limit applied to every key (null = none) */
  keyQpsLimit?: number | null;
  /** a failed read (the database is down): reported, then served from what was read before */
  onError?: (what: 'refresh' | 'api-key', error: unknown) => void;
  /** how soon a failed refresh is tried again */
  retryMs?: number;
  /** API key lookups remembered for an outage */
  maxKnownKeys?: number;
}

export class DatabasePolicySource implements PolicySource {
  private policies = new Map<string, VersionPolicy[]>();
  private readonly usedKeys = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private subscription: AsyncIterableIterator<unknown> | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private retry: NodeJS.Timeout | null = null;
  /** hash → the last answer the database gave (undefined: unknown or revoked) */
  private readonly knownKeys = new Map<string, ApiKeyRecord | undefined>();

  constructor(private readonly options: DatabasePolicyOptions) {
    this.timer = setInterval(() => void this.flushUsage(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Loads the policies once and keeps them fresh from the data-plane topic. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.options.pubsub) {
      const subscription = this.options.pubsub.subscribe(topics.dataPlane);
      this.subscription = subscription;
      void (async () => {
        for await (const _ of subscription) await this.refreshOrRetry();
      })();
    }
  }

  /** A refresh whose failure is reported and retried until one succeeds (never thrown). */
  private async refreshOrRetry(): Promise<void> {
    try {
      await this.refresh();
    } catch (error) {
      this.options.onError?.('refresh', error);
      if (this.retry) return;
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.refreshOrRetry();
      }, this.options.retryMs ?? 1000);
      this.retry.unref();
    }
  }

  /** Re-reads every version's policy; concurrent calls fold into one extra read. */
  async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const versions = await this.options.prisma.serviceVersion.findMany({ include: { group: { select: { name: true } } } });
        const next = new Map<string, VersionPolicy[]>();
        for (const v of versions) {
          const list = next.get(v.group.name) ?? [];
          list.push({
            group: v.group.name,
            version: v.name,
            authEnabled: v.authEnabled,
            authJwtOnly: v.authJwtOnly,
            qpsLimit: v.qpsLimit,
            keyQpsLimit: this.options.keyQpsLimit ?? null,
            inference: { enabled: v.inferenceTableEnabled, sampleRate: v.inferenceSampleRate, maxBodyBytes: v.inferenceMaxBodyBytes },
            throttleMode: v.throttleMode,
            queueDepth: v.queueDepth,
            queueMaxWaitMs: v.queueMaxWaitMs,
            maxConcurrency: v.maxConcurrency,
          });
          next.set(v.group.name, list);
        }
        this.policies = next;
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  versionPolicies(group: string): readonly VersionPolicy[] {
    return this.policies.get(group) ?? [];
  }

  async findApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    let key;
    try {
      key = await this.options.prisma.apiKey.findUnique({
        where: { hash },
        include: { group: { select: { name: true } }, version: { select: { name: true } } },
      });
    } catch (error) {
      this.options.onError?.('api-key', error);
      if (this.knownKeys.has(hash)) return this.knownKeys.get(hash);
      throw error;
    }
    const record = !key || key.revokedAt ? undefined : { keyId: key.id, hash: key.hash, groupName: key.group.name, versionName: key.version?.name ?? null };
    this.knownKeys.delete(hash); // re-insert: Map order is age order for eviction
    this.knownKeys.set(hash, record);
    while (this.knownKeys.size > (this.options.maxKnownKeys ?? 10_000)) this.knownKeys.delete(this.knownKeys.keys().next().value as string);
    return record;
  }

  markKeyUsed(keyId: string): void {
    this.usedKeys.add(keyId);
  }

  async flushUsage(): Promise<void> {
    if (this.usedKeys.size === 0) return;
    const ids = [...this.usedKeys];
    this.usedKeys.clear();
    await this.options.prisma.apiKey
      .updateMany({ where: { id: { in: ids } }, data: { lastUsedAt: (this.options.now ?? (() => new Date()))() } })
      .catch(() => ids.forEach((id) => this.usedKeys.add(id))); // try again next tick
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    await this.subscription?.return?.();
    await this.flushUsage();
  }
}
