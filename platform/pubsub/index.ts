// Picks the pub/sub for this process: Redis when REDIS_URL is set (replicas agree), else
// in-process.

import { createMemoryPubSub, type LocalPubSub, type PubSubOptions } from './memory.ts';
import { createRedisPubSub, type RedisPubSubOptions } from './redis.ts';

export async function openPubSub(redisUrl?: string, options: RedisPubSubOptions = {}): Promise<LocalPubSub> {
  const url = redisUrl?.trim();
  if (url) return createRedisPubSub(url, options);
  const memoryOptions: PubSubOptions = {};
  if (options.bufferSize !== undefined) memoryOptions.bufferSize = options.bufferSize;
  if (options.onDrop) memoryOptions.onDrop = options.onDrop;
  return createMemoryPubSub(memoryOptions);
}

export { createMemoryPubSub, type LocalPubSub, type PubSubOptions } from './memory.ts';
export { createRedisPubSub, type RedisPubSubOptions } from './redis.ts';
export { PubSubError, type PubSubFailure } from './errors.ts';
export { DEFAULT_SUBSCRIPTION_BUFFER, type Subscription } from './subscription.ts';
export { topics, type PubSub } from './port.ts';
