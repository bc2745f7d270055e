import KeyvRedis, { createKeyv, type RedisClientType } from '@keyv/redis';
import Keyv from 'keyv';
import { errorMessage, UnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { ConversationStore } from '../core/ports';
import { MemoryRateLimiter, type RateLimiter } from '../core/rate-limiter';
import type { WorkQueue } from '../core/work/queue';
import { MemoryWorkQueue } from './memory-work-queue';
import { RedisRateLimiter } from './redis-rate-limiter';
import { type QueueRedisClient, RedisWorkQueue } from './redis-work-queue';
import { KeyvConversationStore } from './keyv-conversation-store';
import { deserialize, serialize } from './keyv-serializer';
import { storeCall } from './store-errors';

const NAMESPACE = 'bhb';

export interface State {
  store: ConversationStore;
  /** The durable work queue (Redis) or its single-instance stand-in (memory). */
  queue: WorkQueue;
  /** A rate limiter for `name` (a vendor), shared by every instance on Redis. */
  limiter(name: string, requestsPerMinute: number): RateLimiter;
  /**
   * The one Redis connection (node-redis v5), for the Redis-backed parts (work queue, rate limiters, analytics
   * queues) under the `bhb:` prefix; absent in memory mode. Closed by `store.close()`.
   */
  redis?: () => Promise<RedisClientType>;
}

/** Prefix of every Redis key the bridge writes. */
export const REDIS_PREFIX = `${NAMESPACE}:`;

/**
 * In memory when no Redis URL is given (one instance, state lost on restart),
 * else on Redis through @keyv/redis (shared by every instance, survives restarts). One worker per customer is the
 * work queue's lane lease; there is no other lock.
 * Errors are thrown, never swallowed: a store that cannot answer must not look like "no conversation",
 * or the bridge would open a second ticket.
 */
export function createState(redisUrl: string | undefined, logger: Logger): State {
  if (!redisUrl) {
    // Native JSON instead of Keyv's default (a JS-written serializer and a reviving parse, ~4% of the bridge's CPU
    // in `npm run bench`). Values stay copies, never shared objects. Redis keeps Keyv's format (./keyv-serializer.ts):
    // values written by an earlier version must still read back the same (it escapes strings that start with ':').
    const keyv = new Keyv({
      namespace: NAMESPACE,
      throwOnErrors: true,
      serialize: JSON.stringify,
      deserialize: JSON.parse,
    });
    return {
      store: new KeyvConversationStore(keyv),
      queue: new MemoryWorkQueue(),
      limiter: (_name, requestsPerMinute) => new MemoryRateLimiter(requestsPerMinute),
    };
  }
  // Fail fast while Redis is away (no offline queue): a webhook then gets 503 and is retried by the vendor, and
  // /readyz says so, instead of both hanging until Redis is back. The client keeps reconnecting in the background.
  const keyv = createKeyv(
    {
      url: redisUrl,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 5_000,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5_000),
      },
    },
    { namespace: NAMESPACE, throwOnErrors: true, throwOnConnectError: true },
  );
  keyv.throwOnErrors = true;
  // Keyv's own format, on a fast path (values written by earlier versions read back the same).
  keyv.serialize = serialize;
  keyv.deserialize = deserialize;
  keyv.on('error', (err: unknown) => {
    logger.error('state store error', { code: 'STATE_STORE_ERROR', error: errorMessage(err) });
  });
  const redis = keyv.store as KeyvRedis<unknown>;
  // @keyv/redis is built with a single-node URL here, so its client is a RedisClientType. Its getClient() returns
  // the client as soon as the socket is opening; without an offline queue a command sent then fails ("The client
  // is offline"), so commands of our own wait (briefly) for the client to be ready: one wait shared by every caller
  // (hundreds of lanes may be waiting while Redis restarts).
  let becomingReady: Promise<void> | undefined;
  const ready = async (): Promise<RedisClientType> => {
    const client = (await storeCall(() => redis.getClient())) as RedisClientType;
    if (client.isReady) return client;
    becomingReady ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        reject(
          new UnavailableError('Redis is not reachable (not ready within 2 s)', 'STATE_STORE_UNAVAILABLE'),
        );
      }, 2_000);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      client.once('ready', onReady);
    }).finally(() => (becomingReady = undefined));
    await becomingReady;
    return client;
  };
  // node-redis' client satisfies the commands the queue and limiter use; its generic types are too wide to name
  // there.
  const scripted = async () => (await ready()) as unknown as QueueRedisClient;
  // Redis being away reaches the core as `UnavailableError` (STATE_STORE_UNAVAILABLE), not as node-redis' errors:
  // each of these maps its own calls (`storeCall`, `RedisScript.run`).
  return {
    store: new KeyvConversationStore(keyv, () => keyv.disconnect()),
    queue: new RedisWorkQueue(scripted, REDIS_PREFIX),
    limiter: (name, requestsPerMinute) =>
      new RedisRateLimiter(scripted, `${REDIS_PREFIX}rl:${name}`, requestsPerMinute),
    redis: ready,
  };
}
