/**
 * How long the other side asked us to wait, from its response headers: `Retry-After` (seconds or an HTTP date), or
 * `X-RateLimit-Reset` / `X-Rate-Limit-Reset` (unix seconds). Undefined when it did not say. The failure policy
 * honours it (`RetryableError.retryAfterMs`); the vendors' and analytics tools' HTTP clients read it with this.
 */
export function retryAfterMs(
  headers: Record<string, unknown> | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | undefined => {
    const v = headers[name] ?? headers[name.toLowerCase()];
    return v === undefined || v === null ? undefined : String(v);
  };
  const retryAfter = get('retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = get('x-ratelimit-reset') ?? get('x-rate-limit-reset');
  if (reset !== undefined && Number.isFinite(Number(reset))) return Math.max(0, Number(reset) * 1000 - now);
  return undefined;
}
