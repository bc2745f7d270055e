import { RetryableError } from './errors';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Exponential backoff with full jitter; a wait the other side asked for (Retry-After) wins, capped by maxDelayMs. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  err: unknown,
  random = Math.random,
): number {
  if (err instanceof RetryableError && err.retryAfterMs !== undefined) {
    return Math.min(err.retryAfterMs, policy.maxDelayMs);
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Runs `work` until it succeeds, fails with a non-retryable error, or runs out of attempts.
 * Only RetryableError is retried; everything else is thrown at once.
 */
export async function withRetry<T>(
  work: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (err: RetryableError, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= policy.attempts) throw err;
      const delay = backoffDelay(policy, attempt, err);
      onRetry?.(err, attempt, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
