/**
 * Downloads a customer's media link on arrival (BLiP media URLs are signed and expire), defending the bridge
 * against server-side request forgery and oversized or fake files:
 *  - http(s) only; every host is resolved with dns.lookup (all addresses) and refused when any address is not public
 *    (address-policy.ts: ipaddr.js's special-purpose ranges, IPv6 outside 2000::/3, and IPv4 addresses embedded in
 *    IPv6 — mapped, NAT64, 6to4, Teredo, ISATAP), unless the host is on the explicit allow-list (the sandbox serves
 *    media on 127.0.0.1);
 *  - the connection goes to the address that was checked (a pinned `lookup`), so DNS cannot answer differently
 *    between the check and the connect (rebinding);
 *  - at most 3 redirects, each target checked again;
 *  - a size cap (the declared LIME size, Content-Length, and the bytes actually streamed), a total timeout, and a
 *    content-type check (an HTML error page is not a photo).
 * Vendor-neutral and SDK-free: the core sees it through the MediaFetcher port.
 */
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { BridgeError, PermanentError, RetryableError } from '../core/errors';
import type { Attachment, MediaFile } from '../core/model';
import type { MediaFetcher } from '../core/ports';
import { classifyAddress } from './address-policy';

export interface MediaFetcherOptions {
  /** Larger files are refused with MEDIA_TOO_LARGE. */
  maxBytes: number;
  /** For the whole download, redirects included. */
  timeoutMs: number;
  /** Host names (as written in the URL) that may resolve to non-public addresses. */
  allowedHosts?: string[];
  maxRedirects?: number;
  /** Name resolution; `dns.lookup` with `all: true` by default (tests inject their own). */
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

/** The address classifier (ipaddr.js ranges plus embedded IPv4 extraction): see address-policy.ts. */
export { isForbiddenAddress } from './address-policy';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Types that are pages or active content, never a customer's photo or document. */
const REFUSED_TYPES = new Set([
  'text/html',
  'application/xhtml+xml',
  'text/javascript',
  'application/javascript',
  'image/svg+xml',
]);
const GENERIC_TYPES = new Set(['application/octet-stream', 'binary/octet-stream']);
const CONCRETE_TYPE = /^(image|audio|video|application|text|font|model)\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

export class HttpMediaFetcher implements MediaFetcher {
  readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly allowedHosts: Set<string>;
  private readonly maxRedirects: number;
  private readonly resolveHost: (host: string) => Promise<LookupAddress[]>;

  constructor(options: MediaFetcherOptions) {
    this.maxBytes = options.maxBytes;
    this.timeoutMs = options.timeoutMs;
    this.allowedHosts = new Set((options.allowedHosts ?? []).map(normaliseHost));
    this.maxRedirects = options.maxRedirects ?? 3;
    this.resolveHost = options.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  }

  async fetch(attachment: Attachment): Promise<MediaFile> {
    if (attachment.size !== undefined && attachment.size > this.maxBytes) {
      throw tooLarge(`declared size ${attachment.size} bytes`, this.maxBytes);
    }
    let url = parseMediaUrl(attachment.url);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      for (let redirects = 0; ; redirects++) {
        const target = await raceAbort(this.check(url), abort.signal);
        const response = await this.get(url, target, abort.signal);
        const status = response.statusCode ?? 0;
        if (REDIRECTS.has(status)) {
          response.resume();
          const location = response.headers.location;
          if (!location)
            throw new PermanentError(`${where(url)}: HTTP ${status} without Location`, 'MEDIA_BAD_REDIRECT');
          if (redirects >= this.maxRedirects) {
            throw new PermanentError(
              `${where(url)}: more than ${this.maxRedirects} redirects`,
              'MEDIA_TOO_MANY_REDIRECTS',
            );
          }
          url = parseMediaUrl(new URL(location, url).toString());
          continue;
        }
        return await this.read(url, response, attachment);
      }
    } catch (err) {
      if (abort.signal.aborted) {
        throw new RetryableError(
          `${where(url)}: download took longer than ${this.timeoutMs} ms`,
          'MEDIA_TIMEOUT',
          undefined,
          { cause: err },
        );
      }
      if (err instanceof BridgeError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'network error';
      throw new RetryableError(`${where(url)}: ${code}`, 'MEDIA_UNREACHABLE', undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves the host and refuses it when any of its addresses is not public (unless the host is allowed). */
  private async check(url: URL): Promise<LookupAddress> {
    const host = normaliseHost(url.hostname);
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolveHost(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') {
        throw new PermanentError(`media host ${host} does not resolve`, 'MEDIA_UNRESOLVABLE', { cause: err });
      }
      throw new RetryableError(
        `media host ${host}: ${code ?? 'DNS failure'}`,
        'MEDIA_DNS_FAILED',
        undefined,
        {
          cause: err,
        },
      );
    }
    const first = addresses[0];
    if (!first) throw new PermanentError(`media host ${host} does not resolve`, 'MEDIA_UNRESOLVABLE');
    if (!this.allowedHosts.has(host)) {
      for (const { address } of addresses) {
        const verdict = classifyAddress(address);
        if (verdict.forbidden) {
          throw new PermanentError(
            `media host ${host} resolves to a non-public address (${address}: ${verdict.reason})`,
            'MEDIA_FORBIDDEN_ADDRESS',
          );
        }
      }
    }
    return first;
  }

  /** One GET, connected to the checked address whatever DNS would say now. */
  private get(url: URL, target: LookupAddress, signal: AbortSignal): Promise<IncomingMessage> {
    const client = url.protocol === 'https:' ? https : http;
    const pinned = (
      _hostname: string,
      options: { all?: boolean },
      callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
    ): void => {
      if (options.all) callback(null, [target]);
      else callback(null, target.address, target.family);
    };
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: 'GET',
          agent: false, // no pooled socket opened for another (checked) address
          lookup: pinned as never,
          signal,
          headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'blip-helpdesk-bridge' },
        },
        resolve,
      );
      request.on('error', reject);
      request.end();
    });
  }

  private async read(url: URL, response: IncomingMessage, attachment: Attachment): Promise<MediaFile> {
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      response.resume();
      const message = `${where(url)}: HTTP ${status}`;
      if (status >= 500 || status === 408 || status === 425 || status === 429) {
        throw new RetryableError(message, `MEDIA_HTTP_${status}`);
      }
      throw new PermanentError(message, `MEDIA_HTTP_${status}`);
    }
    const mimeType = chooseType(attachment.mimeType, response.headers['content-type']);
    if (typeof mimeType !== 'string') {
      response.resume();
      throw new PermanentError(`${where(url)}: ${mimeType.problem}`, 'MEDIA_BAD_TYPE');
    }
    const length = Number(response.headers['content-length']);
    if (Number.isFinite(length) && length > this.maxBytes) {
      response.destroy();
      throw tooLarge(`Content-Length ${length}`, this.maxBytes);
    }
    const data = await readCapped(response, this.maxBytes);
    return {
      name: fileName(attachment, mimeType, url, response.headers['content-disposition']),
      mimeType,
      size: data.length,
      data,
    };
  }
}

/** The type to upload with, or why the response is not a media file. */
export function chooseType(
  declared: string | undefined,
  served: string | undefined,
): string | { problem: string } {
  const lime = normaliseType(declared);
  const sent = normaliseType(served);
  const type = !sent || GENERIC_TYPES.has(sent) ? lime || sent : sent;
  if (!type) return { problem: 'no content type' };
  if (REFUSED_TYPES.has(type)) return { problem: `served ${type}, not a media file` };
  if (!CONCRETE_TYPE.test(type) && !GENERIC_TYPES.has(type))
    return { problem: `unusable content type ${type}` };
  // An error page in plain text where the customer sent a photo, a voice note or a video.
  const family = lime.split('/')[0];
  if (sent?.startsWith('text/') && (family === 'image' || family === 'audio' || family === 'video')) {
    return { problem: `served ${sent} for ${lime}` };
  }
  return type;
}

function normaliseType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function normaliseHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
}

function parseMediaUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PermanentError('media link is not a URL', 'MEDIA_BAD_URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PermanentError(`media link with scheme ${url.protocol} refused`, 'MEDIA_BAD_URL');
  }
  return url;
}

/** Host (and port) only: media URLs carry signatures in their query string, which must not reach logs. */
function where(url: URL): string {
  return `media download from ${url.host}`;
}

function tooLarge(what: string, maxBytes: number): PermanentError {
  return new PermanentError(`media file too large (${what}; limit ${maxBytes} bytes)`, 'MEDIA_TOO_LARGE');
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Reads the body, aborting as soon as it grows past the cap (a lying or missing Content-Length included). */
function readCapped(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        reject(tooLarge(`more than ${maxBytes} bytes streamed`, maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks, size)));
    response.on('error', reject);
    response.on('close', () => {
      if (!response.complete) reject(new RetryableError('media download cut short', 'MEDIA_TRUNCATED'));
    });
  });
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/heic': 'heic',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'audio/opus': 'opus',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'video/quicktime': 'mov',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'text/csv': 'csv',
  'application/zip': 'zip',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/octet-stream': 'bin',
};

/**
 * A file name for the helpdesk: the LIME title, else the server's Content-Disposition, else the URL's last path
 * segment when it has an extension, else the kind of media; with an extension that matches the type (Zendesk
 * wants one), and without path separators or control characters.
 */
export function fileName(
  attachment: Pick<Attachment, 'name'>,
  mimeType: string,
  url: URL,
  disposition?: string,
): string {
  const fromDisposition = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition ?? '')?.[1];
  let fromUrl: string | undefined;
  try {
    fromUrl = decodeURIComponent(url.pathname.split('/').pop() ?? '');
  } catch {
    fromUrl = undefined;
  }
  const kind = mimeType.split('/')[0] === 'application' ? 'file' : (mimeType.split('/')[0] ?? 'file');
  const candidates = [
    attachment.name,
    fromDisposition,
    /\.[a-z0-9]{1,8}$/i.test(fromUrl ?? '') ? fromUrl : '',
  ];
  const base =
    (candidates.find((c) => c && c.trim() !== '') ?? kind)
      // eslint-disable-next-line no-control-regex
      .replace(/[/\\\u0000-\u001f"<>|:*?]/g, '_')
      .trim()
      .slice(0, 120) || kind;
  const extension =
    EXTENSIONS[mimeType] ??
    mimeType
      .split('/')[1]
      ?.replace(/[^a-z0-9]/g, '')
      .slice(0, 8);
  return /\.[a-z0-9]{1,8}$/i.test(base) || !extension ? base : `${base}.${extension}`;
}
