import { isAxiosError } from 'axios';
import { PermanentError, RetryableError, retryAfterMs } from '../adapter';

/**
 * Maps an HTTP failure onto the core's error classes:
 * network errors, timeouts, 5xx, 408 and 429 are retryable (429 with the wait the vendor asked for);
 * every other 4xx is permanent. The message names the vendor, the call and the status, never the body we sent.
 */
export function toBridgeError(err: unknown, vendor: string, call: string): Error {
  if (!isAxiosError(err)) return err instanceof Error ? err : new Error(String(err));
  const code = vendor.toUpperCase();
  const status = err.response?.status;
  if (status === undefined) {
    return new RetryableError(
      `${vendor} ${call}: ${err.code ?? 'network error'} (${err.message})`,
      `${code}_UNREACHABLE`,
      undefined,
      {
        cause: err,
      },
    );
  }
  const detail = summarise(err.response?.data);
  if (status === 429) {
    return new RetryableError(
      `${vendor} ${call}: rate limited (429)`,
      `${code}_RATE_LIMITED`,
      retryAfterMs(err.response?.headers as Record<string, unknown> | undefined),
      { cause: err },
    );
  }
  if (status >= 500 || status === 408 || status === 409) {
    return new RetryableError(
      `${vendor} ${call}: HTTP ${status}${detail}`,
      `${code}_HTTP_${status}`,
      undefined,
      { cause: err },
    );
  }
  return new PermanentError(`${vendor} ${call}: HTTP ${status}${detail}`, `${code}_HTTP_${status}`, {
    cause: err,
  });
}

/** A short, safe description of a vendor error body (its error/description fields only). */
function summarise(data: unknown): string {
  if (!data || typeof data !== 'object') return '';
  const d = data as Record<string, unknown>;
  const parts = [d.error, d.description, d.message].filter((v) => typeof v === 'string') as string[];
  return parts.length ? `: ${parts.join(' - ').slice(0, 300)}` : '';
}
