// The in-process pub/sub: the embedded default for a single control-plane process.
// publish() encodes the payload as JSON (same semantics as Redis) and queues one decoded
// copy into every subscriber's mailbox before it resolves, so order per topic is the order
// of publish calls. Subscribers of one publish share that decoded copy: treat it read-only.

import { pubSubClosed } from './errors.ts';
import { decodePayload, encodePayload } from './codec.ts';
import type { PubSub } from './port.ts';
import { DEFAULT_SUBSCRIPTION_BUFFER, Mailbox, type Subscription } from './subscription.ts';

export interface PubSubOptions {
  /** payloads buffered per subscriber before the oldest are dropped */
  bufferSize?: number;
  /** told whenever a lagging subscriber loses a payload (metrics, a warning log) */
  onDrop?: (topic: string, droppedTotal: number) => void;
}

export interface LocalPubSub extends PubSub {
  subscribe<T = unknown>(topic: string): Subscription<T>;
  /** live subscriptions per topic (diagnostics, tests) */
  subscriberCount(topic?: string): number;
}

export function createMemoryPubSub(options: PubSubOptions = {}): LocalPubSub {
  const bufferSize = options.bufferSize ?? DEFAULT_SUBSCRIPTION_BUFFER;
  const topics = new Map<string, Set<Mailbox<unknown>>>();
  let closed = false;

  return {
    async publish(topic, payload) {
      if (closed) throw pubSubClosed();
      const json = encodePayload(payload);
      const subscribers = topics.get(topic);
      if (!subscribers || subscribers.size === 0) return;
      const value = decodePayload(json);
      for (const mailbox of subscribers) mailbox.push(value);
    },

    subscribe<T = unknown>(topic: string): Subscription<T> {
      if (closed) throw pubSubClosed();
      let set = topics.get(topic);
      if (!set) {
        set = new Set();
        topics.set(topic, set);
      }
      const mailbox: Mailbox<unknown> = new Mailbox<unknown>({
        topic,
        bufferSize,
        ready: Promise.resolve(),
        onDrop: options.onDrop,
        onClose: () => {
          const current = topics.get(topic);
          current?.delete(mailbox);
          if (current?.size === 0) topics.delete(topic);
        },
      });
      set.add(mailbox);
      return mailbox as Mailbox<T>;
    },

    subscriberCount(topic) {
      if (topic !== undefined) return topics.get(topic)?.size ?? 0;
      let n = 0;
      for (const set of topics.values()) n += set.size;
      return n;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const set of topics.values()) for (const mailbox of set) mailbox.end();
      topics.clear();
    },
  };
}
