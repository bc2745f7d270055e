import Keyv from 'keyv';
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { PermanentError, RetryableError } from '../../src/core/errors';
import { DomainEvents } from '../../src/core/events';
import { HandoffService } from '../../src/core/handoff';
import type { Logger } from '../../src/core/logger';
import type {
  Attachment,
  ChatMessage,
  CustomerRef,
  MediaFile,
  OpenTicketRequest,
  TicketRef,
} from '../../src/core/model';
import type { CustomerChannel, MediaFetcher } from '../../src/core/ports';
import { KeyvConversationStore } from '../../src/state/keyv-conversation-store';

const URL_WITH_SIGNATURE =
  'https://blipmediastore.blob.core.windows.net/secure-medias/Media_1?sv=1&sig=SECRET';

class FakeFetcher implements MediaFetcher {
  readonly maxBytes = 26_214_400;
  readonly calls: Attachment[] = [];
  failure?: Error;
  async fetch(attachment: Attachment): Promise<MediaFile> {
    this.calls.push(attachment);
    if (this.failure) throw this.failure;
    const data = Buffer.from(`bytes of ${attachment.url}`);
    return { name: 'image.jpg', mimeType: attachment.mimeType, size: data.length, data };
  }
}

class FakeHelpdesk implements HelpdeskAdapter {
  readonly name = 'fakedesk';
  readonly limits = { requestsPerMinute: 1_000 };
  readonly uploads: MediaFile[] = [];
  readonly opened: OpenTicketRequest[] = [];
  readonly appended: ChatMessage[] = [];
  failOpen: Error[] = [];
  failAppend: Error[] = [];
  failUpload: Error[] = [];
  async uploadAttachment(file: MediaFile): Promise<string> {
    const err = this.failUpload.shift();
    if (err) throw err;
    this.uploads.push(file);
    return `token-${this.uploads.length}`;
  }
  async openTicket(req: OpenTicketRequest): Promise<TicketRef> {
    this.opened.push(req);
    const err = this.failOpen.shift();
    if (err) throw err;
    return { vendor: this.name, id: '1001', requesterId: 'r1' };
  }
  async appendCustomerMessage(_ticket: TicketRef, message: ChatMessage): Promise<void> {
    this.appended.push(message);
    const err = this.failAppend.shift();
    if (err) throw err;
  }
  async closeTicket(): Promise<void> {}
}

class Lines implements Logger {
  readonly lines: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
  error = (message: string, meta?: Record<string, unknown>) =>
    this.lines.push({ level: 'error', message, meta });
  warn = (message: string, meta?: Record<string, unknown>) =>
    this.lines.push({ level: 'warn', message, meta });
  info = (message: string, meta?: Record<string, unknown>) =>
    this.lines.push({ level: 'info', message, meta });
  debug = (message: string, meta?: Record<string, unknown>) =>
    this.lines.push({ level: 'debug', message, meta });
}

const channel: CustomerChannel = { send: async () => {}, handBack: async () => ({}) };
const customer: CustomerRef = {
  key: '8c1e5f7a@tunnel.msging.net',
  address: '8c1e5f7a@tunnel.msging.net',
  originator: '5511987654321@wa.gw.msging.net',
};

function setup(helpdesk: HelpdeskAdapter = new FakeHelpdesk()) {
  const media = new FakeFetcher();
  const store = new KeyvConversationStore(new Keyv());
  const logger = new Lines();
  const service = new HandoffService(store, helpdesk, channel, new DomainEvents(), logger, {
    tags: [],
    dedupeTtlMs: 60_000,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    media,
  });
  return { service, media, store, logger, helpdesk };
}

function photo(id: string, text = '[image]'): ChatMessage {
  return {
    id,
    text,
    attachments: [{ url: URL_WITH_SIGNATURE, mimeType: 'image/jpeg' }],
    contentType: 'application/vnd.lime.media-link+json',
    at: '2026-11-03T14:00:00.000Z',
  };
}
const text = (id: string): ChatMessage => ({ id, text: `texto ${id}`, at: '2026-11-03T14:00:00.000Z' });

describe('HandoffService: customer files', () => {
  it('downloads and uploads once, then retries the comment with the same reference', async () => {
    const helpdesk = new FakeHelpdesk();
    const { service, media } = setup(helpdesk);
    await service.handleCustomerMessage(customer, text('m1'));
    helpdesk.failAppend.push(new RetryableError('zendesk down', 'ZENDESK_HTTP_503'));
    await service.handleCustomerMessage(customer, photo('m2'));

    expect(media.calls).toHaveLength(1);
    expect(helpdesk.uploads).toHaveLength(1);
    expect(helpdesk.appended).toHaveLength(2);
    for (const m of helpdesk.appended) {
      expect(m.attachments).toEqual([
        {
          url: URL_WITH_SIGNATURE,
          mimeType: 'image/jpeg',
          name: 'image.jpg',
          size: helpdesk.uploads[0]!.size,
          uploadRef: 'token-1',
        },
      ]);
      expect(m.text).toBe('[image]');
    }
  });

  it('keeps the upload reference (never the bytes) with the first message, so a resumed open sends the same request', async () => {
    const helpdesk = new FakeHelpdesk();
    const { service, media, store } = setup(helpdesk);
    helpdesk.failOpen.push(...[1, 2, 3].map(() => new RetryableError('zendesk down', 'ZENDESK_HTTP_503')));
    await expect(service.handleCustomerMessage(customer, photo('m1'))).rejects.toThrow(RetryableError);

    const stored = await store.get(customer.key);
    expect(stored?.status).toBe('opening');
    expect(stored?.first?.attachments?.[0]?.uploadRef).toBe('token-1');
    expect(JSON.stringify(stored)).not.toContain('bytes of');

    await service.handleCustomerMessage(customer, text('m2'));
    expect(media.calls).toHaveLength(1);
    expect(helpdesk.uploads).toHaveLength(1);
    expect(helpdesk.opened).toHaveLength(4);
    expect(new Set(helpdesk.opened.map((r) => JSON.stringify(r.first)))).toHaveProperty('size', 1);
    expect(helpdesk.appended.map((m) => m.id)).toEqual(['m2']);
  });

  it.each([
    [new PermanentError('too big', 'MEDIA_TOO_LARGE'), 'larger than 25 MB'],
    [new PermanentError('private', 'MEDIA_FORBIDDEN_ADDRESS'), 'its address is not allowed'],
    [new PermanentError('html', 'MEDIA_BAD_TYPE'), 'the link did not return a media file'],
    [new RetryableError('slow', 'MEDIA_TIMEOUT'), 'the download timed out'],
    [new PermanentError('gone', 'MEDIA_HTTP_404'), 'the download failed (MEDIA_HTTP_404)'],
  ])('keeps the link with a note when the download is refused (%s)', async (failure, reason) => {
    const helpdesk = new FakeHelpdesk();
    const { service, media, logger } = setup(helpdesk);
    media.failure = failure;
    await service.handleCustomerMessage(customer, photo('m1', 'Foto do boleto'));

    const first = helpdesk.opened[0]!.first;
    expect(first.text).toBe(`Foto do boleto\n[image not attached: ${reason}] ${URL_WITH_SIGNATURE}`);
    expect(first.attachments).toEqual([
      { url: URL_WITH_SIGNATURE, mimeType: 'image/jpeg', notAttached: reason },
    ]);
    expect(helpdesk.uploads).toHaveLength(0);
    const line = logger.lines.find((l) => l.meta?.code === failure.code)!;
    expect(line).toMatchObject({
      level: 'warn',
      meta: { mediaHost: 'blipmediastore.blob.core.windows.net' },
    });
    expect(JSON.stringify(logger.lines)).not.toContain('SECRET');
  });

  it('keeps the link with a note when the helpdesk refuses the file', async () => {
    const helpdesk = new FakeHelpdesk();
    const { service } = setup(helpdesk);
    helpdesk.failUpload.push(new PermanentError('zendesk upload file: HTTP 413', 'ZENDESK_HTTP_413'));
    await service.handleCustomerMessage(customer, photo('m1'));
    expect(helpdesk.opened[0]!.first.text).toBe(
      `[image]\n[image not attached: the helpdesk refused the file (ZENDESK_HTTP_413)] ${URL_WITH_SIGNATURE}`,
    );
  });

  it('leaves attachments as links for an adapter that cannot upload', async () => {
    const helpdesk = new FakeHelpdesk();
    Object.defineProperty(helpdesk, 'uploadAttachment', { value: undefined });
    const { service, media } = setup(helpdesk);
    const message = photo('m1');
    await service.handleCustomerMessage(customer, message);
    expect(media.calls).toHaveLength(0);
    expect(helpdesk.opened[0]!.first).toEqual(message);
  });
});
