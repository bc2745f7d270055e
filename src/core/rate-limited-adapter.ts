import type { HelpdeskAdapter } from '../adapters/adapter';
import type { RateLimiter } from './rate-limiter';

/**
 * The adapter with every vendor API call taking a slot of the shared rate limiter first. Every method of an
 * adapter is an API call (the contract's methods, and any a vendor adds later); plain properties (`name`,
 * `limits`, flags) and the `webhook` handler (verification and parsing, no API call) pass through unchanged.
 * `onWait` reports time spent waiting (metrics).
 */
export function rateLimited(
  adapter: HelpdeskAdapter,
  limiter: RateLimiter,
  onWait: (ms: number) => void = () => {},
): HelpdeskAdapter {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(adapter, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (!wrapped.has(property)) {
        const method = value as (...args: unknown[]) => Promise<unknown>;
        // A method that makes several API calls takes a slot for each (`limits.callsPerMethod`).
        const slots = Math.max(1, adapter.limits.callsPerMethod?.[String(property)] ?? 1);
        wrapped.set(property, async (...args: unknown[]) => {
          // All at once: one round trip to a shared limiter, however many calls the method makes.
          const waited = await limiter.acquire(slots);
          if (waited > 0) onWait(waited);
          return method.apply(target, args);
        });
      }
      return wrapped.get(property);
    },
  });
}
