// Scale-out's Redis side: the pub/sub event target that carries task events between instances and
// the client that holds shared rate-limit counters.
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TaskEventTarget } from '../tasks/pubsub.js';

export function createRedisConnections(url: string, logger: Logger) {
  // A subscribed connection can do nothing but receive, so publishing and counters need their own.
  const publish = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
  const subscribe = new Redis(url, { maxRetriesPerRequest: null });
  const resync = new EventTarget();
  let everReady = false;

  for (const [name, client] of [
    ['publish', publish],
    ['subscribe', subscribe],
  ] as const) {
    client.on('error', (error: Error) => logger.warn({ err: error, connection: name }, 'Redis connection error'));
  }
  subscribe.on('ready', () => {
    // Events published while we were disconnected are lost to us: tell every live subscription to re-read.
    if (everReady) {
      logger.warn('Redis subscription connection is back; re-syncing live subscriptions');
      resync.dispatchEvent(new Event('resync'));
    }
    everReady = true;
  });

  const eventTarget = createRedisEventTarget<CustomEvent>({ publishClient: publish, subscribeClient: subscribe });

  return {
    eventTarget: eventTarget as unknown as TaskEventTarget,
    /** Fires `resync` after the subscription connection came back from an outage. */
    resync,
    /** The client for shared counters (rate limits). */
    client: publish,
    async ping() {
      if (subscribe.status !== 'ready') throw new Error(`subscription connection is ${subscribe.status}`);
      await publish.ping();
    },
    async close() {
      publish.disconnect();
      subscribe.disconnect();
      await Promise.resolve();
    },
  };
}

export type RedisConnections = ReturnType<typeof createRedisConnections>;
