import { errorCode, errorMessage, PermanentError, RetryableError, UnavailableError } from '../errors';
import { stableId } from '../ids';
import type { Logger } from '../logger';
import type { AgentMessageEvent, Attachment, ChatMessage, MediaFile, TicketRef } from '../model';
import type { MediaFetcher, MediaHost } from '../ports';
import type { VendorGateway } from '../vendor-gateway';

/** Downloaded files kept for a retry of their upload: how many, and for how long. */
const HELD_MAX = 20;
const HELD_MS = 5 * 60_000;

/** What the file handling needs. */
export interface HandoffFilesDeps {
  logger: Logger;
  /** Downloads customer files (and agents' public links). */
  media?: MediaFetcher | undefined;
  /** Re-hosts agents' files for the customer. */
  mediaHost?: MediaHost | undefined;
  /** `HandoffSettings.fileNotDeliveredText`. */
  fileNotDeliveredText?: string | undefined;
}

/**
 * How a transfer that failed for a passing reason is treated: `retry` throws it, so the unit of work is tried again
 * by its lane (the failure policy); `settle` gives up on the file and notes its link instead. Handlers retry files
 * on the first attempt of a unit of work only, so a broken link holds the customer's lane for one retry at most.
 */
export type FileFailures = 'retry' | 'settle';

/** A customer file downloaded before its ticket existed, to upload once it does (in memory only). */
export interface PendingFile {
  attachment: Attachment;
  file: MediaFile;
}

/**
 * The handoff's file handling: customers' files downloaded and uploaded to the helpdesk (upload references kept
 * with the message), and agents' files re-hosted for the customer. A file is never dropped silently: what cannot
 * be delivered becomes a note. Uploads and downloads run outside the retried vendor calls that carry them.
 */
export class HandoffFiles {
  private readonly logger: Logger;

  /**
   * Customer files downloaded by an attempt whose upload then failed for a passing reason, kept for the retry of the
   * same work (by link) so it does not download them again: bounded (`HELD_MAX` files, `HELD_MS` each), in memory
   * only (a retry on another instance downloads again).
   */
  private readonly held = new Map<string, { file: MediaFile; until: number }>();

  constructor(private readonly deps: HandoffFilesDeps) {
    this.logger = deps.logger;
  }

  private async download(media: MediaFetcher, attachment: Attachment): Promise<MediaFile> {
    const now = Date.now();
    for (const [url, held] of this.held) if (held.until <= now) this.held.delete(url);
    const held = this.held.get(attachment.url);
    if (held) {
      this.held.delete(attachment.url);
      return held.file;
    }
    return media.fetch(attachment);
  }

  private hold(attachment: Attachment, file: MediaFile): void {
    this.held.set(attachment.url, { file, until: Date.now() + HELD_MS });
    if (this.held.size > HELD_MAX) this.held.delete(this.held.keys().next().value!);
  }

  /**
   * Downloads each of the message's files and uploads it to the helpdesk, when the adapter can take files.
   * A file that cannot be attached (too large, forbidden address, not a media file, the helpdesk refused it...)
   * keeps its link, marked `notAttached`, and a note with the link is added to the text: never dropped.
   * Attachments already uploaded or noted (a resumed open) are left as they are. Returns `message` itself when
   * there was nothing to do. `ticket` is the ticket the message goes to.
   */
  async attachFiles(
    message: ChatMessage,
    log: Record<string, unknown>,
    vendor: VendorGateway,
    ticket: TicketRef,
    failures: FileFailures,
  ): Promise<ChatMessage> {
    return (await this.prepareFiles(message, log, vendor, ticket, failures)).message;
  }

  /**
   * attachFiles' work. With `'after-open'` (an `uploadNeedsTicket` adapter, before its ticket exists) the files are
   * only downloaded: they come back in `later`, in memory, for `uploadAfterOpen`, and stay pending in the message.
   */
  async prepareFiles(
    message: ChatMessage,
    log: Record<string, unknown>,
    vendor: VendorGateway,
    ticket: TicketRef | 'after-open' | undefined,
    failures: FileFailures,
  ): Promise<{ message: ChatMessage; later: PendingFile[] }> {
    const media = this.deps.media;
    const pending = (message.attachments ?? []).filter((a) => !a.uploadRef && !a.notAttached);
    if (!media || !vendor.takesFiles || pending.length === 0) return { message, later: [] };
    const notes: string[] = [];
    const attachments: Attachment[] = [];
    const later: PendingFile[] = [];
    for (const attachment of message.attachments ?? []) {
      if (!pending.includes(attachment)) {
        attachments.push(attachment);
        continue;
      }
      const meta = {
        ...log,
        messageId: message.id,
        mimeType: attachment.mimeType,
        mediaHost: hostOf(attachment.url),
      };
      let stage: 'download' | 'upload' = 'download';
      let file: MediaFile | undefined;
      try {
        file = await this.download(media, attachment);
        if (ticket === 'after-open') {
          later.push({ attachment, file });
          attachments.push(attachment);
          continue;
        }
        stage = 'upload';
        const uploadRef = await vendor.uploadAttachment(file, ticket);
        attachments.push({ ...attachment, name: attachment.name ?? file.name, size: file.size, uploadRef });
        this.logger.debug('customer file uploaded to the helpdesk', { ...meta, size: file.size });
      } catch (err) {
        if (throwsOn(err, failures)) {
          if (file) this.hold(attachment, file);
          this.logger.warn(`customer file ${stage} failed; the work is tried again`, {
            ...meta,
            stage,
            code: errorCode(err),
            error: errorMessage(err),
          });
          throw err;
        }
        const reason = fileReason(err, 'customer', stage, media.maxBytes);
        attachments.push({ ...attachment, notAttached: reason });
        notes.push(notAttachedNote(attachment, reason));
        this.logger.warn('customer file not attached; the agent gets the link instead', {
          ...meta,
          stage,
          code: errorCode(err),
          error: errorMessage(err),
        });
      }
    }
    if (notes.length === 0 && later.length === pending.length) return { message, later };
    const text = [message.text, ...notes].filter((part) => part.trim() !== '').join('\n');
    return { message: { ...message, text, attachments }, later };
  }

  /**
   * Uploads the first message's files to the ticket just opened (`uploadNeedsTicket` adapters). Returns the
   * follow-up customer message that brings the ticket each file the helpdesk did not take, as its link with a
   * note; undefined when every file was attached. Never throws.
   */
  async uploadAfterOpen(
    vendor: VendorGateway,
    ticket: TicketRef,
    first: ChatMessage,
    files: PendingFile[],
    log: Record<string, unknown>,
  ): Promise<ChatMessage | undefined> {
    const notes: string[] = [];
    const failed: Attachment[] = [];
    for (const { attachment, file } of files) {
      const meta = { ...log, ticket: ticket.id, messageId: first.id, mimeType: attachment.mimeType };
      try {
        await vendor.uploadAttachment(file, ticket);
        this.logger.debug('customer file attached to the new ticket', { ...meta, size: file.size });
      } catch (err) {
        const reason = fileReason(err, 'customer', 'upload', this.deps.media?.maxBytes ?? file.size);
        notes.push(notAttachedNote(attachment, reason));
        failed.push({ ...attachment, notAttached: reason });
        this.logger.warn('customer file not attached; the agent gets the link instead', {
          ...meta,
          stage: 'upload',
          code: errorCode(err),
          error: errorMessage(err),
        });
      }
    }
    if (notes.length === 0) return undefined;
    return {
      id: `${first.id}:files`,
      text: notes.join('\n'),
      attachments: failed,
      ...(first.contentType ? { contentType: first.contentType } : {}),
      at: first.at,
    };
  }

  /**
   * The agent's message as the customer gets it. With a media host, each file is downloaded (with the adapter's
   * credentials when it has `downloadAttachment`) and re-hosted: the media link carries the bridge's signed URL
   * and the downloaded file's real type, size and name. Without one, links pass through unchanged, except those
   * that need the helpdesk's credentials. A file that cannot be delivered is never dropped silently: the customer
   * reads a note in its place (`fileNotDeliveredText`), and it is returned in `failed` for the agents' note.
   * `eventKey` is the event's dedupe key: re-hosting the same event again replaces its files.
   */
  async filesForCustomer(
    message: ChatMessage,
    event: AgentMessageEvent,
    eventKey: string,
    log: Record<string, unknown>,
    vendor: VendorGateway,
    failures: FileFailures,
    /** The customer's `fileNotDeliveredText` (their locale's); else the deployment's. */
    notDelivered?: string,
  ): Promise<{ message: ChatMessage; failed: Array<{ name: string; reason: string }> }> {
    const given = message.attachments ?? [];
    if (given.length === 0) return { message, failed: [] };
    const host = this.deps.mediaHost;
    const attachments: Attachment[] = [];
    const failed: Array<{ name: string; reason: string }> = [];
    for (const [index, attachment] of given.entries()) {
      const name = attachment.name?.trim() || mediaKind(attachment.mimeType);
      const meta = {
        ...log,
        eventId: event.eventId,
        mimeType: attachment.mimeType,
        mediaHost: hostOf(attachment.url),
      };
      if (!host) {
        if (!attachment.needsAuth) {
          attachments.push(attachment);
          continue;
        }
        failed.push({ name, reason: 'its link needs the helpdesk login, and BRIDGE_PUBLIC_URL is not set' });
        this.logger.warn('agent file not delivered: its link needs credentials and nothing re-hosts it', {
          ...meta,
          code: 'MEDIA_NOT_REHOSTED',
        });
        continue;
      }
      try {
        const file = await this.downloadAgentFile(vendor, attachment, host.maxBytes);
        const url = await host.publish(stableId(`agent-file:${eventKey}:${index}`), file);
        attachments.push({
          url,
          mimeType: file.mimeType,
          name: attachment.name?.trim() || file.name,
          size: file.size,
        });
        this.logger.debug('agent file re-hosted for the customer', { ...meta, size: file.size });
      } catch (err) {
        if (throwsOn(err, failures)) {
          this.logger.warn('agent file download failed; the work is tried again', {
            ...meta,
            code: errorCode(err),
            error: errorMessage(err),
          });
          throw err;
        }
        failed.push({ name, reason: fileReason(err, 'agent', 'download', host.maxBytes) });
        this.logger.warn('agent file not delivered to the customer', {
          ...meta,
          code: errorCode(err),
          error: errorMessage(err),
        });
      }
    }
    if (failed.length === 0) return { message: { ...message, attachments }, failed };
    const template =
      notDelivered ?? this.deps.fileNotDeliveredText ?? '[A file ({file}) could not be delivered.]';
    const notes = failed.map((f) => template.replace(/\{file\}/g, () => f.name));
    const text = [message.text, ...notes].filter((part) => part.trim() !== '').join('\n');
    return { message: { ...message, text, attachments }, failed };
  }

  /** With the vendor's credentials when the link is the vendor's own; else as a public link (SSRF-checked). */
  private async downloadAgentFile(
    vendor: VendorGateway,
    attachment: Attachment,
    maxBytes: number,
  ): Promise<MediaFile> {
    const own = await vendor.downloadAttachment(attachment, maxBytes);
    if (own) return own;
    if (this.deps.media) return this.deps.media.fetch(attachment);
    throw new PermanentError('no media downloader is configured', 'MEDIA_NO_DOWNLOADER');
  }
}

/**
 * Whether a file transfer's failure fails the unit of work (to be tried again by its lane) instead of being settled
 * with a note: a service that is away always does; a passing failure does while `failures` is `retry`.
 */
function throwsOn(err: unknown, failures: FileFailures): boolean {
  if (err instanceof UnavailableError) return true;
  return failures === 'retry' && err instanceof RetryableError;
}

/** Whose file could not be delivered: the agents' note words some reasons differently for each. */
type FileOwner = 'customer' | 'agent';

/** A reason's wording: the same for both owners' files, or one for each. `{maxBytes}` and `{code}` are filled in. */
type Wording = string | Readonly<Record<FileOwner, string>>;

/** Why a file could not be downloaded, by error code, as the agents read it. */
const DOWNLOAD_REASONS: ReadonlyMap<string, Wording> = new Map<string, Wording>([
  ['MEDIA_TOO_LARGE', 'larger than {maxBytes}'],
  ['MEDIA_FORBIDDEN_ADDRESS', 'its address is not allowed'],
  [
    'MEDIA_BAD_TYPE',
    {
      customer: 'the link did not return a media file',
      agent: 'the link did not return a file the bridge can serve',
    },
  ],
  ['MEDIA_TIMEOUT', 'the download timed out'],
]);

/** Any other download failure. */
const DOWNLOAD_FAILED: Wording = {
  customer: 'the download failed ({code})',
  agent: 'the bridge could not download it ({code})',
};

/**
 * What the agents read about a file that could not be delivered: a customer's file not attached to the ticket
 * (at its download or its upload to the helpdesk), or an agent's file that did not reach the customer.
 */
function fileReason(err: unknown, owner: FileOwner, stage: 'download' | 'upload', maxBytes: number): string {
  const code = errorCode(err);
  if (stage === 'upload') {
    return err instanceof PermanentError
      ? `the helpdesk refused the file (${code})`
      : `the helpdesk could not take the file now (${code})`;
  }
  const wording = DOWNLOAD_REASONS.get(code) ?? DOWNLOAD_FAILED;
  const text = typeof wording === 'string' ? wording : wording[owner];
  return text.replace('{maxBytes}', () => formatBytes(maxBytes)).replace('{code}', () => code);
}

/** The line the agent reads in place of a customer file that could not be attached. */
function notAttachedNote(attachment: Attachment, reason: string): string {
  return `[${mediaKind(attachment.mimeType)} not attached: ${reason}] ${attachment.url}`;
}

/** The message without the files still to upload (they follow as real files, not as links). */
export function withoutPendingFiles(message: ChatMessage): ChatMessage {
  const kept = (message.attachments ?? []).filter((a) => a.uploadRef || a.notAttached);
  if (kept.length === (message.attachments ?? []).length) return message;
  const { attachments: _all, ...rest } = message;
  return kept.length ? { ...rest, attachments: kept } : rest;
}

function mediaKind(mimeType: string): string {
  const family = mimeType.split('/')[0];
  return family === 'image' || family === 'audio' || family === 'video' ? family : 'file';
}

function formatBytes(bytes: number): string {
  const mb = bytes / 1_048_576;
  if (mb >= 1) return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}

/** The host of a media link, for logs: its query string carries a signature and never goes into a log. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(not a URL)';
  }
}
