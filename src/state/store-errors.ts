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
 * `target` with every method's failure passed through `storeUnavailable`: one place for the store, the queue, the
 * lock and the limiter on Redis. Methods run on the target itself (private fields work); plain properties pass.
 */
export function mappingStoreErrors<T extends object>(target: T): T {
  // By function, not by name: a method replaced later (a test's spy) gets a wrapper of its own.
  const wrapped = new WeakMap<object, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      let wrapper = wrapped.get(value);
      if (!wrapper) {
        const method = value as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]): unknown => {
          let result: unknown;
          try {
            result = method.apply(object, args);
          } catch (err) {
            throw storeUnavailable(err);
          }
          return result instanceof Promise
            ? result.catch((err: unknown) => Promise.reject(storeUnavailable(err)))
            : result;
        };
        wrapped.set(value, wrapper);
      }
      return wrapper;
    },
  });
}
