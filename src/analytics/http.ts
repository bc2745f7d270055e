import axios, { isAxiosError } from 'axios';
import { retryAfterMs } from '../core/retry-after';
import { PermanentError, RetryableError } from '../core/errors';

export interface PostOptions {
  /** The sink's name, for error codes (`ANALYTICS_DASHBOT_HTTP_500`) and messages. */
  sink: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
}

export interface PostResult {
  status: number;
  /** The parsed JSON answer, when there was one. */
  data: unknown;
}

/**
 * POSTs a JSON body (a string, sent byte for byte: signatures are computed over it) and maps the answer:
 * 2xx is success; network errors, timeouts, 5xx, 408, 409, 425, 429 (with its Retry-After), and 401/403/404 (a key
 * or URL the operator can fix; the events wait in the queue meanwhile) are retryable; other 4xx mean the tool
 * rejected the payload and are permanent. Error messages never carry the body we sent.
 */
export async function postJson(url: string, body: string, options: PostOptions): Promise<PostResult> {
  const code = `ANALYTICS_${options.sink.toUpperCase()}`;
  let response;
  try {
    response = await axios.post(url, body, {
      headers: { 'content-type': 'application/json', ...options.headers },
      timeout: options.timeoutMs,
      signal: options.signal,
      maxRedirects: 0,
      validateStatus: () => true,
      // A broken tool must not make us buffer a huge answer.
      maxContentLength: 1_048_576,
      transformResponse: (data: unknown) => parseJson(data),
    });
  } catch (err) {
    const reason = isAxiosError(err) ? (err.code ?? err.message) : String(err);
    throw new RetryableError(`${options.sink}: ${reason}`, `${code}_UNREACHABLE`, undefined, { cause: err });
  }
  const { status } = response;
  if (status >= 200 && status < 300) return { status, data: response.data };
  const detail = summarise(response.data);
  const message = `${options.sink}: HTTP ${status}${detail}`;
  if (status === 429) {
    const wait = retryAfterMs(response.headers as Record<string, unknown>);
    throw new RetryableError(message, `${code}_RATE_LIMITED`, wait);
  }
  if (status >= 500 || [401, 403, 404, 408, 409, 425].includes(status)) {
    throw new RetryableError(message, `${code}_HTTP_${status}`);
  }
  throw new PermanentError(message, `${code}_HTTP_${status}`);
}

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string' || data === '') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

/** A short, safe description of an error answer (its error/message fields only). */
function summarise(data: unknown): string {
  if (!data || typeof data !== 'object') return '';
  const d = data as Record<string, unknown>;
  const parts = [d.error, d.message, d.error_message, d.reason].filter(
    (v) => typeof v === 'string',
  ) as string[];
  return parts.length ? `: ${parts.join(' - ').slice(0, 200)}` : '';
}
