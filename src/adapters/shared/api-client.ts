import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance } from 'axios';

/**
 * TCP keep-alive probe delay of the vendors' connections. axios sets 60 s on each request's socket and Node's agent
 * sets its own `keepAliveMsecs` back when the socket is free again: with the same value on both, Node makes the
 * `setsockopt` call once per connection instead of twice per request (about 1% of the bridge's CPU under load,
 * `npm run bench`).
 */
const KEEP_ALIVE_PROBE_MS = 60_000;

/** As Node's global agents (pooled, most recently used socket first, idle sockets closed after 5 s). */
const agentOptions = {
  keepAlive: true,
  keepAliveMsecs: KEEP_ALIVE_PROBE_MS,
  scheduling: 'lifo',
  timeout: 5_000,
} as const;
const httpAgent = new HttpAgent(agentOptions);
const httpsAgent = new HttpsAgent(agentOptions);

/**
 * The HTTP client of a vendor's API: base URL, timeout and headers (credentials, JSON).
 *
 * Redirects are not followed (`maxRedirects: 0`): a vendor's REST API answers its own URLs, so a 3xx means a wrong
 * base URL (http for https, an old host) and fails as a clear `HTTP 301` error instead of replaying the request
 * with its credentials somewhere else. It also keeps axios on Node's own http module instead of wrapping every
 * request in follow-redirects, which was about 3% of the bridge's CPU under load (`npm run bench`).
 */
export function vendorApiClient(options: {
  baseURL: string;
  timeout: number;
  headers: Record<string, string>;
}): AxiosInstance {
  return axios.create({ ...options, maxRedirects: 0, httpAgent, httpsAgent });
}
