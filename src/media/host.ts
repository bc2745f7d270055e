/**
 * Agents' files re-hosted by the bridge for the customer. Helpdesk attachment links often need the helpdesk's
 * credentials (ServiceNow, Zendesk with private attachments) or expire within minutes (Intercom), so the bridge
 * downloads the file and serves it itself at `<BRIDGE_PUBLIC_URL>/media/<token>`:
 *   token = <id>.<expires, unix seconds>.<base64url HMAC-SHA256(key, "<id>.<expires>")>
 * The signature makes the link unforgeable and its expiry untamperable; the bytes sit in the state backend
 * (`BlobStore`) for the same TTL, so any instance sharing the Redis serves any link.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { PermanentError } from '../core/errors';
import type { MediaFile } from '../core/model';
import type { MediaHost } from '../core/ports';
import type { BlobStore } from './blob-store';
import { chooseType } from './fetcher';

export interface MediaHostOptions {
  /** Public base URL of the bridge (`BRIDGE_PUBLIC_URL`), with or without a path prefix. */
  publicUrl: string;
  /** Secret the link key is derived from (`BRIDGE_MEDIA_URL_SECRET`, else the BLiP access key). */
  secret: string;
  /** How long a link (and its bytes) lives. */
  ttlMs: number;
  maxBytes: number;
  now?: () => Date;
}

/** What a token opens to; the reasons are for the HTTP edge's status and log line. */
export type MediaLookup =
  | { ok: true; file: MediaFile; expiresAt: Date }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'gone' };

const ID = /^[A-Za-z0-9-]{8,80}$/;
const TOKEN = /^([A-Za-z0-9-]{8,80})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export class SignedMediaHost implements MediaHost {
  readonly maxBytes: number;
  private readonly key: Buffer;
  private readonly base: string;
  private readonly now: () => Date;

  constructor(
    private readonly store: BlobStore,
    private readonly options: MediaHostOptions,
  ) {
    this.maxBytes = options.maxBytes;
    this.key = mediaLinkKey(options.secret);
    this.base = options.publicUrl.replace(/\/+$/, '');
    this.now = options.now ?? (() => new Date());
  }

  async publish(id: string, file: MediaFile): Promise<string> {
    if (!ID.test(id))
      throw new PermanentError('media id must be 8-80 letters, digits or dashes', 'MEDIA_BAD_ID');
    if (file.size > this.maxBytes || file.data.length > this.maxBytes) {
      throw new PermanentError(
        `media file too large (${file.data.length} bytes; limit ${this.maxBytes} bytes)`,
        'MEDIA_TOO_LARGE',
      );
    }
    // Never serve a page or a script from the bridge's own origin, whatever the helpdesk said the file was.
    const type = chooseType(file.mimeType, undefined);
    if (typeof type !== 'string')
      throw new PermanentError(`media file refused: ${type.problem}`, 'MEDIA_BAD_TYPE');
    const expires = Math.floor((this.now().getTime() + this.options.ttlMs) / 1000);
    await this.store.put(id, { ...file, mimeType: type, size: file.data.length }, this.options.ttlMs);
    return `${this.base}/media/${id}.${expires}.${this.sign(id, expires)}`;
  }

  /** The file a token names, when the token is genuine, unexpired, and the file still stored. */
  async open(token: string): Promise<MediaLookup> {
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    const [, id, expiresText, signature] = m as unknown as [string, string, string, string];
    const expires = Number(expiresText);
    const given = Buffer.from(signature, 'utf8');
    const wanted = Buffer.from(this.sign(id, expires), 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      return { ok: false, reason: 'bad-signature' };
    }
    const expiresAt = new Date(expires * 1000);
    if (expiresAt.getTime() <= this.now().getTime()) return { ok: false, reason: 'expired' };
    const file = await this.store.get(id);
    return file ? { ok: true, file, expiresAt } : { ok: false, reason: 'gone' };
  }

  private sign(id: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${id}.${expires}`).digest('base64url');
  }
}

/** The signing key, derived from the configured secret so the raw secret is used for nothing else. */
export function mediaLinkKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('blip-helpdesk-bridge media links v1').digest();
}
