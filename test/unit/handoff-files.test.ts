/**
 * Files through the lanes, beyond the Zendesk-shaped upload (test/unit/handoff-media.test.ts):
 *  - helpdesks that can add a file to an existing ticket only (`uploadNeedsTicket`: ServiceNow, Intercom);
 *  - agents' files re-hosted for the customer (a media host), downloaded with the adapter's credentials, and what
 *    the customer and the agents are told when a file cannot be delivered.
 */
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { PermanentError, RetryableError } from '../../src/core/errors';
import type {
  AgentMessageEvent,
  Attachment,
  ChatMessage,
  CustomerRef,
  MediaFile,
  OpenTicketRequest,
  TicketRef,
} from '../../src/core/model';
import type { MediaFetcher, MediaHost } from '../../src/core/ports';
import { type CoreHarness, startCore } from '../helpers/core-harness';

const MEDIA = 'https://blipmediastore.blob.core.windows.net/secure-medias/Media_1?sv=1&sig=SECRET';
const at = '2026-11-03T14:00:00.000Z';

class FakeFetcher implements MediaFetcher {
  readonly maxBytes = 10_000;
  readonly calls: Attachment[] = [];
  failure?: Error;
  async fetch(attachment: Attachment): Promise<MediaFile> {
    this.calls.push(attachment);
    if (this.failure) throw this.failure;
    const data = Buffer.from(`public bytes of ${attachment.url}`);
    return { name: 'image.jpg', mimeType: attachment.mimeType, size: data.length, data };
  }
}

/** A helpdesk whose files go onto an existing ticket (ServiceNow/Intercom-like), with private agent links. */
class TicketBoundHelpdesk implements HelpdeskAdapter {
  readonly name = 'boundesk';
  readonly limits = { requestsPerMinute: 100_000 };
  readonly uploadNeedsTicket = true;
  readonly log: string[] = [];
  readonly opened: OpenTicketRequest[] = [];
  readonly appended: ChatMessage[] = [];
  readonly notes: string[] = [];
  readonly uploads: Array<{ file: MediaFile; ticket?: TicketRef }> = [];
  readonly downloads: Attachment[] = [];
  failUpload: Error[] = [];
  failAppend: Error[] = [];
  failDownload?: Error;
  async openTicket(req: OpenTicketRequest): Promise<TicketRef> {
    this.opened.push(req);
    this.log.push('open');
    return { vendor: this.name, id: 'INC1', requesterId: 'contact-7' };
  }
  async uploadAttachment(file: MediaFile, ticket?: TicketRef): Promise<string> {
    this.log.push(`upload ${file.name}`);
    const err = this.failUpload.shift();
    if (err) throw err;
    this.uploads.push({ file, ...(ticket ? { ticket } : {}) });
    return `att-${this.uploads.length}`;
  }
  async appendCustomerMessage(_ticket: TicketRef, message: ChatMessage): Promise<void> {
    this.log.push('append');
    const err = this.failAppend.shift();
    if (err) throw err;
    this.appended.push(message);
  }
  async addInternalNote(_ticket: TicketRef, text: string): Promise<void> {
    this.notes.push(text);
  }
  async downloadAttachment(attachment: Attachment, maxBytes: number): Promise<MediaFile | undefined> {
    if (!attachment.url.startsWith('https://desk.example/')) return undefined;
    this.downloads.push(attachment);
    if (this.failDownload) throw this.failDownload;
    const data = Buffer.alloc(Math.min(attachment.size ?? 100, maxBytes + 1), 1);
    if (data.length > maxBytes) throw new PermanentError('too big', 'MEDIA_TOO_LARGE');
    return { name: 'from-desk.bin', mimeType: 'application/pdf', size: data.length, data };
  }
  async closeTicket(): Promise<void> {}
}

class RecordingHost implements MediaHost {
  readonly maxBytes = 10_000;
  readonly published: Array<{ id: string; file: MediaFile }> = [];
  async publish(id: string, file: MediaFile): Promise<string> {
    this.published.push({ id, file });
    return `https://bridge.example/media/${id}.9999999999.sig`;
  }
}

const customer: CustomerRef = {
  key: '8c1e5f7a@tunnel.msging.net',
  address: '8c1e5f7a@tunnel.msging.net',
  originator: '5511987654321@wa.gw.msging.net',
};

const started: CoreHarness[] = [];
function setup(options: { host?: boolean } = {}) {
  const helpdesk = new TicketBoundHelpdesk();
  const media = new FakeFetcher();
  const host = options.host === false ? undefined : new RecordingHost();
  const h = startCore({
    helpdesks: () => [helpdesk],
    media,
    ...(host ? { mediaHost: host } : {}),
    settings: { fileNotDeliveredText: '[arquivo {file} não entregue]' },
  });
  started.push(h);
  /** What the customer received: text and files. */
  const sent = () => h.timeline.of('send').map((s) => ({ text: s.text, attachments: s.attachments }));
  return { h, helpdesk, media, host, sent };
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

const photo = (id: string, text = 'Foto do boleto'): ChatMessage => ({
  id,
  text,
  attachments: [{ url: MEDIA, mimeType: 'image/jpeg' }],
  contentType: 'application/vnd.lime.media-link+json',
  at,
});

function agentFiles(
  attachments: Attachment[],
  text = 'Segue o boleto',
  eventId = 'part:77',
): AgentMessageEvent {
  return {
    kind: 'agent.message',
    ticket: { vendor: 'boundesk', id: 'INC1' },
    eventId,
    agent: { id: 'ana', name: 'Ana' },
    message: { id: eventId, text, attachments, at },
  };
}

describe('a helpdesk that attaches files to an existing ticket', () => {
  it('opens with the text only, then uploads the first message’s file to the new ticket, downloaded once', async () => {
    const { h, helpdesk, media } = setup();
    await h.write(customer, photo('m1'));
    expect(helpdesk.log).toEqual(['open', 'upload image.jpg']);
    expect(helpdesk.opened[0]!.first).toEqual({
      id: 'm1',
      text: 'Foto do boleto',
      contentType: 'application/vnd.lime.media-link+json',
      at,
    });
    expect(helpdesk.uploads).toEqual([
      {
        file: expect.objectContaining({ name: 'image.jpg', mimeType: 'image/jpeg' }),
        ticket: { vendor: 'boundesk', id: 'INC1', requesterId: 'contact-7' },
      },
    ]);
    expect(media.calls).toHaveLength(1);
    expect(helpdesk.appended).toEqual([]);
  });

  it('gives the agent the link with a note, in a follow-up message, when the new ticket refuses the file', async () => {
    const { h, helpdesk } = setup();
    helpdesk.failUpload.push(
      new PermanentError('servicenow upload attachment: HTTP 413', 'BOUNDESK_HTTP_413'),
    );
    await h.write(customer, photo('m1'));
    expect(helpdesk.log).toEqual(['open', 'upload image.jpg', 'append']);
    expect(helpdesk.appended).toEqual([
      expect.objectContaining({
        id: 'm1:files',
        text: `[image not attached: the helpdesk refused the file (BOUNDESK_HTTP_413)] ${MEDIA}`,
        attachments: [
          {
            url: MEDIA,
            mimeType: 'image/jpeg',
            notAttached: 'the helpdesk refused the file (BOUNDESK_HTTP_413)',
          },
        ],
      }),
    ]);
  });

  it('notes a download that failed in the text the ticket opens with (nothing is left to upload)', async () => {
    const { h, helpdesk, media } = setup();
    media.failure = new PermanentError('too large', 'MEDIA_TOO_LARGE');
    await h.write(customer, photo('m1'));
    expect(helpdesk.log).toEqual(['open']);
    expect(helpdesk.opened[0]!.first.text).toBe(
      `Foto do boleto\n[image not attached: larger than 10 KB] ${MEDIA}`,
    );
    expect(helpdesk.opened[0]!.first.attachments).toEqual([
      { url: MEDIA, mimeType: 'image/jpeg', notAttached: 'larger than 10 KB' },
    ]);
  });

  it('uploads a later file to the open ticket (with its contact) before the comment that names it', async () => {
    const { h, helpdesk } = setup();
    await h.write(customer, { id: 'm1', text: 'oi', at });
    await h.write(customer, photo('m2', 'segue'));
    expect(helpdesk.log).toEqual(['open', 'upload image.jpg', 'append']);
    expect(helpdesk.uploads[0]!.ticket).toEqual({ vendor: 'boundesk', id: 'INC1', requesterId: 'contact-7' });
    expect(helpdesk.appended[0]!.attachments).toEqual([
      expect.objectContaining({ url: MEDIA, name: 'image.jpg', uploadRef: 'att-1' }),
    ]);
  });

  it('attaches a later file once when the comment that names it fails and the lane tries again', async () => {
    const { h, helpdesk, media } = setup();
    await h.write(customer, { id: 'm1', text: 'oi', at });
    helpdesk.failAppend.push(new RetryableError('servicenow: HTTP 503', 'BOUNDESK_HTTP_503'));
    await h.write(customer, photo('m2', 'segue'));
    // The file went onto the ticket with the first try: the retry sends the comment alone, naming the same file.
    expect(helpdesk.log).toEqual(['open', 'upload image.jpg', 'append', 'append']);
    expect(media.calls).toHaveLength(1);
    expect(helpdesk.appended).toEqual([
      expect.objectContaining({ id: 'm2', attachments: [expect.objectContaining({ uploadRef: 'att-1' })] }),
    ]);
  });
});

describe('agents’ files for the customer', () => {
  async function opened(options: { host?: boolean } = {}) {
    const env = setup(options);
    await env.h.write(customer, { id: 'm1', text: 'oi', at });
    return env;
  }

  it('re-hosts a private file downloaded with the adapter’s credentials: the link, type, size and title', async () => {
    const { h, helpdesk, host, sent } = await opened();
    const file = {
      url: 'https://desk.example/api/now/attachment/a1/file',
      mimeType: 'application/pdf',
      name: 'boleto.pdf',
      size: 500,
      needsAuth: true,
    };
    await h.helpdeskSends(agentFiles([file]));
    expect(helpdesk.downloads).toEqual([file]);
    expect(host!.published).toHaveLength(1);
    const [published] = host!.published;
    expect(sent()).toEqual([
      {
        text: 'Segue o boleto',
        attachments: [
          {
            url: `https://bridge.example/media/${published!.id}.9999999999.sig`,
            mimeType: 'application/pdf',
            name: 'boleto.pdf',
            size: 500,
          },
        ],
      },
    ]);
    expect(helpdesk.notes).toEqual([]);
  });

  it('downloads a link that is not the vendor’s own with the SSRF-safe fetcher, never with credentials', async () => {
    const { h, helpdesk, media, host, sent } = await opened();
    const file = {
      url: 'https://cdn.example/i/o/1/comprovante.png?expires=1&signature=x',
      mimeType: 'image/png',
    };
    await h.helpdeskSends(agentFiles([file], ''));
    expect(helpdesk.downloads).toEqual([]);
    expect(media.calls.filter((a) => a.url !== MEDIA)).toEqual([file]);
    expect(host!.published[0]!.file.mimeType).toBe('image/png');
    expect(sent()[0]!.attachments?.[0]).toMatchObject({ mimeType: 'image/png', name: 'image.jpg' });
  });

  it('publishes under an id stable per event and file, so a retried event replaces the file, not copies it', async () => {
    const { h, host, sent } = await opened();
    const file = { url: 'https://desk.example/f/1', mimeType: 'application/pdf', name: 'a.pdf' };
    h.channel.failures.push(new RetryableError('BLiP not connected', 'LIME_NOT_CONNECTED'));
    await h.helpdeskSends(agentFiles([file]));
    await h.helpdeskSends(agentFiles([file], 'Outro', 'part:78'));
    const [first, retried, other] = host!.published.map((p) => p.id);
    expect(host!.published).toHaveLength(3);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(retried).toBe(first);
    expect(other).not.toBe(first);
    expect(sent()).toHaveLength(2);
  });

  it('tells the customer (text plus a note) and the agents (internal note) when a file cannot be fetched', async () => {
    const { h, helpdesk, sent } = await opened();
    helpdesk.failDownload = new RetryableError(
      'servicenow download attachment: HTTP 503',
      'BOUNDESK_HTTP_503',
    );
    const file = { url: 'https://desk.example/f/2', mimeType: 'application/pdf', name: 'boleto.pdf' };
    await h.helpdeskSends(agentFiles([file]));
    expect(helpdesk.downloads).toHaveLength(2); // the lane's one retry, then the note
    expect(sent()).toEqual([{ text: 'Segue o boleto\n[arquivo boleto.pdf não entregue]', attachments: [] }]);
    expect(helpdesk.notes).toEqual([
      'A file you sent did not reach the customer: "boleto.pdf" (the bridge could not download it ' +
        '(BOUNDESK_HTTP_503)). The customer was told; please send it another way (for example a public link).',
    ]);
  });

  it('names the cap when the file is too large to re-host', async () => {
    const { h, helpdesk, sent } = await opened();
    const file = { url: 'https://desk.example/f/3', mimeType: 'video/mp4', size: 50_000 };
    await h.helpdeskSends(agentFiles([file], ''));
    expect(sent()).toEqual([{ text: '[arquivo video não entregue]', attachments: [] }]);
    expect(helpdesk.notes[0]).toContain('"video" (larger than 10 KB)');
  });

  it('without a media host: passes public links through unchanged, and notes the ones that need a login', async () => {
    const { h, helpdesk, media, sent } = await opened({ host: false });
    const open = { url: 'https://cdn.example/a.png', mimeType: 'image/png', name: 'a.png', size: 10 };
    const locked = {
      url: 'https://desk.example/f/4',
      mimeType: 'application/pdf',
      name: 'b.pdf',
      needsAuth: true,
    };
    await h.helpdeskSends(agentFiles([open, locked]));
    expect(sent()).toEqual([{ text: 'Segue o boleto\n[arquivo b.pdf não entregue]', attachments: [open] }]);
    expect(helpdesk.notes[0]).toContain(
      '"b.pdf" (its link needs the helpdesk login, and BRIDGE_PUBLIC_URL is not set)',
    );
    expect(media.calls).toEqual([]);
    expect(helpdesk.downloads).toEqual([]);
  });
});
