// The Redis pub/sub: several control-plane replicas see each other's changes. One
// subscriber connection carries every topic this process listens to (SUBSCRIBE on the first
// local subscriber of a topic, UNSUBSCRIBE after the last) and fans each message out to the
// local mailboxes; a second connection publishes. Payloads are JSON. ioredis reconnects and
// re-subscribes on its own; Redis pub/sub is at-most-once, so messages published while the
// link is down are lost: `onReconnect` tells consumers that must resynchronise (e.g. rebuild
// a snapshot from the database).

import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { badInput } from '../errors.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { PubSubError, pubSubClosed } from './errors.ts';
import type { LocalPubSub, PubSubOptions } from './memory.ts';
import { DEFAULT_SUBSCRIPTION_BUFFER, Mailbox, type Subscription } from './subscription.ts';

export interface RedisPubSubOptions extends PubSubOptions {
  /** prepended to every topic to form the Redis channel; isolates deployments sharing a Redis */
  channelPrefix?: string;
  /** connection and protocol errors (ioredis would otherwise print "Unhandled error event") */
  onError?: (err: Error) => void;
  /** the subscriber link came back after a drop: messages in between were lost */
  onReconnect?: () => void;
  /** how long the first connection may take before createRedisPubSub fails */
  connectTimeoutMs?: number;
  /** how long a publish may wait for Redis before failing with UNAVAILABLE (default 2 s) */
  publishTimeoutMs?: number;
  /** base of the Redis CLIENT names (`<name>-pub`, `<name>-sub`); random by default */
  connectionName?: string;
}

function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** Waits for a (re)connection; false if the link is still down after `ms`. */
function readyWithin(conn: Redis, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      conn.off('ready', onReady);
      resolve(false);
    }, ms);
    conn.once('ready', onReady);
  });
}

async function quitWithin(conn: Redis, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const outcome = await Promise.race([conn.quit().catch(() => 'failed' as const), timedOut]);
  clearTimeout(timer);
  if (outcome !== 'OK') conn.disconnect();
}

interface TopicState {
  mailboxes: Set<Mailbox<unknown>>;
  ready: Promise<void>;
}

/** The URL without its password, for error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export async function createRedisPubSub(url: string, options: RedisPubSubOptions = {}): Promise<LocalPubSub> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badInput('REDIS_URL is not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw badInput('REDIS_URL must start with redis:// or rediss://');

  const prefix = options.channelPrefix ?? 'sluice:';
  const bufferSize = options.bufferSize ?? DEFAULT_SUBSCRIPTION_BUFFER;
  const onError = options.onError ?? (() => undefined);
  const publishTimeoutMs = options.publishTimeoutMs ?? 2_000;
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 3_000),
  };
  // Named per instance so an operator (or a test) can find this process's links in CLIENT LIST.
  const instance = options.connectionName ?? `sluice-${randomBytes(4).toString('hex')}`;
  // A publish while Redis is away waits at most publishTimeoutMs for the link to come back,
  // then fails with UNAVAILABLE rather than holding up the mutation that triggered it. No
  // offline queue and no resending: a publish reported as failed must not be delivered
  // later behind the caller's back.
  const pub = new Redis(url, {
    ...common,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: publishTimeoutMs,
    connectionName: `${instance}-pub`,
  });
  const sub = new Redis(url, { ...common, maxRetriesPerRequest: null, connectionName: `${instance}-sub` });
  pub.on('error', onError);
  sub.on('error', onError);

  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    throw new PubSubError('UNAVAILABLE', `cannot reach Redis at ${redactRedisUrl(url)}: ${(err as Error).message}`);
  }

  // Registered after the first connect, so every 'ready' from here on is a reconnection.
  sub.on('ready', () => options.onReconnect?.());

  const topics = new Map<string, TopicState>();
  const pendingSubscribes = new Set<Promise<void>>();
  let closed = false;

  sub.on('message', (channel: string, message: string) => {
    if (!channel.startsWith(prefix)) return;
    const state = topics.get(channel.slice(prefix.length));
    if (!state || state.mailboxes.size === 0) return;
    let value: unknown;
    try {
      value = decodePayload(message);
    } catch {
      onError(new Error(`pub/sub: dropped a non-JSON message on ${channel}`));
      return;
    }
    for (const mailbox of state.mailboxes) mailbox.push(value);
  });

  // Publishes during an outage share one wait (one 'ready' listener, not one per call).
  let publisherWait: Promise<boolean> | null = null;
  function waitForPublisher(): Promise<boolean> {
    publisherWait ??= readyWithin(pub, publishTimeoutMs).finally(() => {
      publisherWait = null;
    });
    return publisherWait;
  }

  function redisSubscribe(topic: string): Promise<void> {
    const done = sub.subscribe(prefix + topic).then(
      () => undefined,
      (err: Error) => {
        onError(err);
        throw new PubSubError('UNAVAILABLE', `subscribe to ${topic} failed: ${err.message}`);
      },
    );
    const tracked = done.catch(() => undefined);
    pendingSubscribes.add(tracked);
    void tracked.then(() => pendingSubscribes.delete(tracked));
    return done;
  }

  return {
    async publish(topic, payload) {
      if (closed) throw pubSubClosed();
      const json = encodePayload(payload);
      // A publish after a subscribe in this process must reach that subscriber, as
      // in-process. Only on a live link, and bounded: while Redis is away a SUBSCRIBE waits
      // for the reconnection, and the publish must fail on its own terms, not behind it.
      if (pendingSubscribes.size > 0 && sub.status === 'ready') {
        await settledWithin(Promise.all(pendingSubscribes), publishTimeoutMs);
      }
      if (closed) throw pubSubClosed();
      if (pub.status !== 'ready' && !(await waitForPublisher())) {
        if (closed) throw pubSubClosed();
        throw new PubSubError('UNAVAILABLE', `publish to ${topic} failed: Redis is not connected`);
      }
      try {
        await pub.publish(prefix + topic, json);
      } catch (err) {
        if (closed) throw pubSubClosed();
        throw new PubSubError('UNAVAILABLE', `publish to ${topic} failed: ${(err as Error).message}`);
      }
    },

    subscribe<T = unknown>(topic: string): Subscription<T> {
      if (closed) throw pubSubClosed();
      let state = topics.get(topic);
      if (!state) {
        state = { mailboxes: new Set(), ready: redisSubscribe(topic) };
        topics.set(topic, state);
      }
      const owner = state;
      const mailbox: Mailbox<unknown> = new Mailbox<unknown>({
        topic,
        bufferSize,
        ready: owner.ready,
        onDrop: options.onDrop,
        onClose: () => {
          owner.mailboxes.delete(mailbox);
          if (owner.mailboxes.size === 0 && topics.get(topic) === owner) {
            topics.delete(topic);
            // Commands on one connection run in order, so a re-subscribe issued after this
            // UNSUBSCRIBE wins.
            if (!closed) sub.unsubscribe(prefix + topic).catch((err: Error) => onError(err));
          }
        },
      });
      owner.mailboxes.add(mailbox);
      return mailbox as Mailbox<T>;
    },

    subscriberCount(topic) {
      if (topic !== undefined) return topics.get(topic)?.mailboxes.size ?? 0;
      let n = 0;
      for (const state of topics.values()) n += state.mailboxes.size;
      return n;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const state of topics.values()) for (const mailbox of state.mailboxes) mailbox.end();
      topics.clear();
      // QUIT only on a live link: on a broken one it would sit in the offline queue behind
      // pending SUBSCRIBEs and keep the process alive.
      await Promise.all([pub, sub].map((conn) => (conn.status === 'ready' ? quitWithin(conn, 1_000) : conn.disconnect())));
    },
  };
}
