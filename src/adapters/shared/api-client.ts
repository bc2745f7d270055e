import axios, { type AxiosInstance } from 'axios';

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
  return axios.create({ ...options, maxRedirects: 0 });
}
