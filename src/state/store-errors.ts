import { BridgeError, UnavailableError } from '../core/errors';

/**
 * node-redis' errors for a connection that is down or going (matched by class name: `@redis/client` is
 * @keyv/redis' dependency, not ours). Redis restarting, a failover, a network cut.
 */
const CONNECTION_ERRORS = new Set([
  'ClientOfflineError',
  'ClientClosedError',
  'SocketClosedUnexpectedlyError',
  'ConnectionTimeoutError',
  'SocketTimeoutError',
  'DisconnectsClientError',
  'ReconnectStrategyError',
]);
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Redis being unreachable as the core's `UnavailableError` (`STATE_STORE_UNAVAILABLE`): work that meets it waits in
 * its lane without using up attempts, and the logs say what is wrong instead of `UNEXPECTED`. Anything else
 * (a script error, an unreadable value) is returned unchanged.
 */
export function storeUnavailable(err: unknown): unknown {
  if (err instanceof BridgeError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (!CONNECTION_ERRORS.has(err.constructor.name) && !(code && SOCKET_CODES.has(code))) return err;
  return new UnavailableError(`state store (Redis) unavailable: ${err.message}`, 'STATE_STORE_UNAVAILABLE', {
    cause: err,
  });
}

/**
 * Runs one state-store operation with its failure passed through `storeUnavailable`: the Redis-backed store, queue
 * and limiter call it around each of their Redis round trips (`RedisScript.run` does it for every script).
 */
export async function storeCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw storeUnavailable(err);
  }
}
