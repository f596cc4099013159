// Scale-out's Redis side: the pub/sub event target that carries task notices (ids and versions) between instances and
// the client that holds shared rate-limit counters.
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TaskEventTarget, TaskNotice, TaskNoticeEvent } from '../tasks/pubsub.js';

/** Carries the id of every revoked API key, so each instance drops it from its cache and ends its streams. */
export const KEY_REVOKED_CHANNEL = 'kling-gateway:api-key-revoked';

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

  // The task event target subscribes per topic and ignores other channels' messages; so does this.
  const revokedListeners = new Set<(keyId: string) => void>();
  subscribe.on('message', (channel: string, message: string) => {
    if (channel !== KEY_REVOKED_CHANNEL) return;
    for (const listener of revokedListeners) listener(message);
  });
  subscribe.subscribe(KEY_REVOKED_CHANNEL).catch((error: unknown) => logger.warn({ err: error }, 'cannot subscribe to key revocations'));

  const notices = createRedisEventTarget<TaskNoticeEvent>({ publishClient: publish, subscribeClient: subscribe });
  const eventTarget: TaskEventTarget = {
    addEventListener: (type, listener) => notices.addEventListener(type, listener),
    removeEventListener: (type, listener) => notices.removeEventListener(type, listener),
    dispatchEvent({ type, detail }) {
      // Spelled out field by field, so nothing else a caller put in the event can reach Redis; and a
      // failed publish is logged, where the library's would be an unhandled rejection.
      const notice: TaskNotice = { taskId: detail.taskId, version: detail.version };
      publish.publish(type, JSON.stringify(notice)).catch((error: unknown) => logger.warn({ err: error, taskId: notice.taskId }, 'cannot publish a task notice'));
      return true;
    },
  };

  return {
    eventTarget,
    /** Fires `resync` after the subscription connection came back from an outage. */
    resync,
    /** The client for shared counters (rate limits). */
    client: publish,
    /** Tells every instance (this one included) that `keyId` was revoked. */
    publishRevocation(keyId: string) {
      publish.publish(KEY_REVOKED_CHANNEL, keyId).catch((error: unknown) => logger.warn({ err: error, keyId }, 'cannot announce a key revocation'));
    },
    /** Calls `listener` with every key id revoked on any instance. */
    onRevocation(listener: (keyId: string) => void) {
      revokedListeners.add(listener);
    },
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
