// The xDS control loop the control plane owns: on `trigger()` (any data-plane change in
// the domain), wait `debounceMs` for the burst to end, load the model once, translate,
// and set the snapshot; the ADS server pushes whatever changed to every proxy.
//
// A failed load or translation keeps the last good snapshot in place (proxies keep
// serving) and is reported through `onError`/`lastError`; the next trigger retries.
import type { DataPlaneModel, DataPlaneSettings } from './model.ts';
import type { GrpcAuth } from '../platform/grpc-auth.ts';
import { SnapshotCache, snapshotVersions, type Snapshot } from './cache.ts';
import { XdsServer, type XdsLogger } from './server.ts';
import { ProxyStatusRegistry, type ProxyStatus } from './status.ts';
import { createSnapshotBuilder } from './snapshot-builder.ts';
import type { XdsTypeUrl } from '../proto/envoy.ts';

export interface XdsControlOptions {
  loadModel: () => Promise<DataPlaneModel>;
  settings: DataPlaneSettings;
  /** quiet time after the last trigger before rebuilding (default 50 ms) */
  debounceMs?: number;
  /** upper bound on how long a stream of triggers can postpone a rebuild (default 1 s) */
  maxDelayMs?: number;
  logger?: XdsLogger;
  cache?: SnapshotCache;
  registry?: ProxyStatusRegistry;
  /** called after each published snapshot (with per-type versions) */
  onPublished?: (info: PublishedInfo) => void;
  onError?: (err: Error) => void;
}

export interface PublishedInfo {
  versions: Record<XdsTypeUrl, string>;
  /** ms spent loading the model, and translating + setting the snapshot */
  loadMs: number;
  buildMs: number;
  resourceCount: number;
  /** resources translated by this build (the changed groups' only, after the first) */
  translated: number;
}

export interface XdsControl {
  /**
   * Schedules a rebuild; bursts of calls become one rebuild. Never throws. `urgent` (a
   * replica gone: its version's share fails until the proxies hear it) skips the quiet
   * time: the rebuild starts on the next turn, with whatever else came in that turn.
   */
  trigger(options?: { urgent?: boolean }): void;
  /** Rebuilds now (skipping the debounce) and resolves once the snapshot is set. */
  rebuild(): Promise<Snapshot>;
  /** Resolves when no rebuild is scheduled or running. */
  settled(): Promise<void>;
  /** Builds the first snapshot and starts ADS on port (0 = any); resolves to the bound port. */
  start(port: number, host?: string, auth?: GrpcAuth): Promise<number>;
  close(): Promise<void>;
  readonly cache: SnapshotCache;
  readonly registry: ProxyStatusRegistry;
  readonly server: XdsServer;
  readonly lastError: Error | null;
  readonly current: Snapshot | undefined;
}

/** What counts as an Envoy proxy sharing the local rate limits: its node's user agent. */
export const isEnvoyProxy = (p: ProxyStatus) => p.userAgent === 'envoy' || p.userAgent.startsWith('envoy ');

/**
 * Local rate limiting (settings.rateLimit.mode 'local') splits each version's QPS between the
 * Envoy proxies connected now: this keeps their count (distinct node ids; the local edges and
 * proxyless clients do not take a share) and asks for a rebuild when it changes, so every
 * proxy gets its new share pushed as soon as one comes or goes.
 */
function trackEnvoyProxies(base: DataPlaneSettings, registry: ProxyStatusRegistry, changed: () => void) {
  if (base.rateLimit?.mode !== 'local') return { settings: () => base, stop: () => undefined };
  const count = () => new Set(registry.list().filter(isEnvoyProxy).map((p) => p.nodeId)).size;
  let proxies = count();
  const stop = registry.onChange((e) => {
    if (e.kind === 'updated') return;
    const now = count();
    if (now === proxies) return;
    proxies = now;
    changed();
  });
  return {
    settings: (): DataPlaneSettings => ({ ...base, rateLimit: { mode: 'local', proxies: Math.max(1, proxies) } }),
    stop,
  };
}

export function createXdsControl(options: XdsControlOptions): XdsControl {
  const debounceMs = options.debounceMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 1000;
  const cache = options.cache ?? new SnapshotCache();
  const registry = options.registry ?? new ProxyStatusRegistry();
  const logger = options.logger;
  const server = new XdsServer({ cache, registry, ...(logger ? { logger } : {}) });

  let timer: NodeJS.Timeout | undefined;
  let firstTriggerAt = 0;
  // the scheduled rebuild is an urgent one: a plain trigger after it must not postpone it
  let urgentScheduled = false;
  let running: Promise<Snapshot | undefined> | undefined;
  let again = false;
  let lastError: Error | null = null;
  let current: Snapshot | undefined;
  let closed = false;
  let idleWaiters: (() => void)[] = [];
  // incremental: a change re-translates and re-checks only the groups it touched
  const builder = createSnapshotBuilder();
  const proxyShares = trackEnvoyProxies(options.settings, registry, () => trigger());

  async function build(): Promise<Snapshot> {
    const t0 = performance.now();
    const model = await options.loadModel();
    const t1 = performance.now();
    const snapshot = builder.build(model, proxyShares.settings());
    cache.setSnapshot(snapshot);
    const t2 = performance.now();
    current = snapshot;
    lastError = null;
    const info: PublishedInfo = {
      versions: snapshotVersions(snapshot),
      loadMs: t1 - t0,
      buildMs: t2 - t1,
      resourceCount: builder.last.resourceCount,
      translated: builder.last.translated,
    };
    logger?.info(info, 'xds snapshot published');
    options.onPublished?.(info);
    return snapshot;
  }

  function notifyIdle() {
    if (timer || running) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  function run(): Promise<Snapshot | undefined> {
    if (running) {
      again = true;
      return running;
    }
    running = build()
      .catch((err: unknown) => {
        lastError = err instanceof Error ? err : new Error(String(err));
        logger?.warn({ err: lastError.message }, 'xds rebuild failed; keeping the last snapshot');
        options.onError?.(lastError);
        return undefined;
      })
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          void run();
        } else {
          notifyIdle();
        }
      });
    return running;
  }

  function trigger(options?: { urgent?: boolean }): void {
    if (closed) return;
    const now = Date.now();
    if (!timer) firstTriggerAt = now;
    else clearTimeout(timer);
    urgentScheduled ||= options?.urgent === true;
    const wait = urgentScheduled ? 0 : Math.max(0, Math.min(debounceMs, firstTriggerAt + maxDelayMs - now));
    timer = setTimeout(() => {
      timer = undefined;
      urgentScheduled = false;
      void run();
    }, wait);
  }

  return {
    trigger,
    async rebuild() {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (running) {
        again = true;
        await running;
        await new Promise<void>((r) => (timer || running ? idleWaiters.push(r) : r()));
      } else {
        await run();
      }
      if (lastError) throw lastError;
      if (!current) throw new Error('no snapshot');
      return current;
    },
    settled() {
      return new Promise<void>((resolve) => {
        if (!timer && !running) resolve();
        else idleWaiters.push(resolve);
      });
    },
    async start(port, host, auth) {
      await run();
      if (lastError) throw lastError;
      return server.listen(port, host, auth);
    },
    async close() {
      closed = true;
      proxyShares.stop();
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (running) await running;
      await server.close();
      notifyIdle();
    },
    cache,
    registry,
    server,
    get lastError() {
      return lastError;
    },
    get current() {
      return current;
    },
  };
}
