import { AxiosError, AxiosHeaders, type InternalAxiosRequestConfig } from 'axios';
import { toBridgeError } from '../../src/adapters/shared/http-errors';
import { retryAfterMs } from '../../src/core/retry-after';
import { PermanentError, RetryableError } from '../../src/core/errors';

const SENT_BODY_MARKER = 'customer-text-7f3c9e2a';

function axiosError(
  status?: number,
  headers: Record<string, string> = {},
  data: unknown = undefined,
): AxiosError {
  const config = {
    url: '/api/v2/tickets.json',
    method: 'post',
    headers: new AxiosHeaders(),
    data: JSON.stringify({ ticket: { comment: { body: SENT_BODY_MARKER } } }),
  } as InternalAxiosRequestConfig;
  if (status === undefined)
    return new AxiosError('connect ECONNREFUSED 127.0.0.1:443', 'ECONNREFUSED', config, {});
  return new AxiosError(
    `Request failed with status code ${status}`,
    'ERR_BAD_RESPONSE',
    config,
    {},
    {
      status,
      statusText: String(status),
      headers,
      config,
      data,
    },
  );
}

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-03T14:22:05Z');

  it('reads Retry-After in seconds', () => {
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2_000);
    expect(retryAfterMs({ 'retry-after': '0' }, now)).toBe(0);
    expect(retryAfterMs({ 'retry-after': 1.5 }, now)).toBe(1_500);
  });

  it('reads Retry-After as an HTTP date', () => {
    expect(retryAfterMs({ 'retry-after': 'Tue, 03 Nov 2026 14:22:35 GMT' }, now)).toBe(30_000);
  });

  it('never returns a negative wait for a date in the past', () => {
    expect(retryAfterMs({ 'retry-after': 'Tue, 03 Nov 2026 14:00:00 GMT' }, now)).toBe(0);
  });

  it('reads X-RateLimit-Reset / X-Rate-Limit-Reset as unix seconds', () => {
    const reset = String(now / 1000 + 45);
    expect(retryAfterMs({ 'x-ratelimit-reset': reset }, now)).toBe(45_000);
    expect(retryAfterMs({ 'x-rate-limit-reset': reset }, now)).toBe(45_000);
  });

  it('prefers Retry-After over X-RateLimit-Reset', () => {
    expect(retryAfterMs({ 'retry-after': '3', 'x-ratelimit-reset': String(now / 1000 + 45) }, now)).toBe(
      3_000,
    );
  });

  it('falls back to X-RateLimit-Reset when Retry-After is unreadable', () => {
    expect(retryAfterMs({ 'retry-after': 'soon', 'x-ratelimit-reset': String(now / 1000 + 10) }, now)).toBe(
      10_000,
    );
  });

  it('returns undefined when nothing says how long to wait', () => {
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs({}, now)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': null }, now)).toBeUndefined();
  });
});

describe('toBridgeError', () => {
  it('maps a request without response (network error) to a RetryableError', () => {
    const err = toBridgeError(axiosError(), 'zendesk', 'createTicket');
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe('ZENDESK_UNREACHABLE');
    expect((err as RetryableError).retryAfterMs).toBeUndefined();
    expect(err.message).toContain('createTicket');
    expect(err.cause).toBeInstanceOf(AxiosError);
  });

  it('maps 429 to a RetryableError carrying the wait from Retry-After', () => {
    const err = toBridgeError(axiosError(429, { 'retry-after': '7' }), 'zendesk', 'addComment');
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe('ZENDESK_RATE_LIMITED');
    expect((err as RetryableError).retryAfterMs).toBe(7_000);
  });

  it('maps 429 read through AxiosHeaders (as axios delivers them) too', () => {
    const err = toBridgeError(
      axiosError(429, AxiosHeaders.from('retry-after: 4') as unknown as Record<string, string>),
      'zendesk',
      'x',
    );
    expect((err as RetryableError).retryAfterMs).toBe(4_000);
  });

  it.each([500, 502, 503, 504, 408, 409])('maps %i to a RetryableError', (status) => {
    const err = toBridgeError(axiosError(status), 'zendesk', 'createTicket');
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe(`ZENDESK_HTTP_${status}`);
  });

  it.each([400, 401, 403, 404, 422])('maps %i to a PermanentError', (status) => {
    const err = toBridgeError(axiosError(status), 'zendesk', 'createTicket');
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).not.toBeInstanceOf(RetryableError);
    expect((err as PermanentError).code).toBe(`ZENDESK_HTTP_${status}`);
  });

  it("names the vendor's error fields but never the body we sent", () => {
    const err = toBridgeError(
      axiosError(
        422,
        {},
        {
          error: 'RecordInvalid',
          description: 'Record validation errors',
          details: { body: SENT_BODY_MARKER },
        },
      ),
      'zendesk',
      'createTicket',
    );
    expect(err.message).toContain('HTTP 422');
    expect(err.message).toContain('RecordInvalid');
    expect(err.message).toContain('Record validation errors');
    expect(err.message).not.toContain(SENT_BODY_MARKER);
  });

  it('passes through errors that are not from axios', () => {
    const original = new PermanentError('already mapped', 'X');
    expect(toBridgeError(original, 'zendesk', 'x')).toBe(original);
    const wrapped = toBridgeError('text', 'zendesk', 'x');
    expect(wrapped).toBeInstanceOf(Error);
    expect(wrapped.message).toBe('text');
  });
});
