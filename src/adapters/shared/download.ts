import { type AxiosInstance, isAxiosError } from 'axios';
import { PermanentError, type Attachment, type MediaFile } from '../adapter';
import { toBridgeError } from './http-errors';

/**
 * True when `url` is on the same origin as the vendor's API base URL: the only place an adapter may send its
 * credentials to (an attachment link in a webhook is data, not a reason to hand out the token).
 */
export function sameOrigin(url: string, baseUrl: string): boolean {
  try {
    return new URL(url).origin === new URL(baseUrl).origin;
  } catch {
    return false;
  }
}

/**
 * Downloads one of the vendor's attachments with the adapter's authenticated axios instance: at most `maxBytes`
 * (the declared size, then the bytes as they stream), the served type (else the attachment's), and a file name.
 * Failures map like every API call (`toBridgeError`), too large to PermanentError `MEDIA_TOO_LARGE`.
 */
export async function downloadAttachmentWith(
  http: AxiosInstance,
  vendor: string,
  attachment: Attachment,
  maxBytes: number,
  url = attachment.url,
): Promise<MediaFile> {
  if (attachment.size !== undefined && attachment.size > maxBytes) throw tooLarge(maxBytes);
  let response;
  try {
    response = await http.request<ArrayBuffer>({
      method: 'GET',
      url,
      headers: { Accept: '*/*' },
      responseType: 'arraybuffer',
      maxContentLength: maxBytes,
      maxRedirects: 3,
      // Bytes, not JSON: no transformation of the body.
      transformResponse: [(body: unknown) => body],
    });
  } catch (err) {
    if (isAxiosError(err) && /maxContentLength/i.test(err.message)) throw tooLarge(maxBytes);
    throw toBridgeError(err, vendor, 'download attachment');
  }
  const data = Buffer.from(response.data);
  if (data.length > maxBytes) throw tooLarge(maxBytes);
  const served = String(response.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const mimeType =
    served && served !== 'application/octet-stream'
      ? served
      : attachment.mimeType || 'application/octet-stream';
  const name = attachment.name?.trim() || nameFromUrl(url) || 'file';
  return { name, mimeType, size: data.length, data };
}

function nameFromUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    const named = u.searchParams.get('name');
    if (named) return named;
    const last = decodeURIComponent(u.pathname.split('/').filter(Boolean).pop() ?? '');
    return /\.[a-z0-9]{1,8}$/i.test(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

function tooLarge(maxBytes: number): PermanentError {
  return new PermanentError(`attachment larger than ${maxBytes} bytes`, 'MEDIA_TOO_LARGE');
}
