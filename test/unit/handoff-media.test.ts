/**
 * Customers' files to a helpdesk that takes uploads before the comment (Zendesk-shaped: an upload token, then the
 * comment that names it), through the lanes: downloaded and uploaded once per message, the references kept so every
 * retry of the unit of work sends the same request, and a file that cannot be attached reaches the agent as its link
 * with a note. (Helpdesks that attach files to an existing ticket: handoff-files.test.ts.)
 */
import { PermanentError, RetryableError } from '../../src/core/errors';
import type { Attachment, ChatMessage, CustomerRef, MediaFile } from '../../src/core/model';
import type { MediaFetcher } from '../../src/core/ports';
import { type CoreHarness, type CoreHarnessOptions, FakeHelpdesk, startCore } from '../helpers/core-harness';

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

const customer: CustomerRef = {
  key: '8c1e5f7a@tunnel.msging.net',
  address: '8c1e5f7a@tunnel.msging.net',
  originator: '5511987654321@wa.gw.msging.net',
};

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

const started: CoreHarness[] = [];
function setup(options: { uploads?: boolean } & CoreHarnessOptions = {}) {
  const media = new FakeFetcher();
  const h = startCore({
    helpdesks: (timeline) => [new FakeHelpdesk(timeline, 'fakedesk', { uploads: options.uploads !== false })],
    media,
    ...options,
  });
  started.push(h);
  return { h, media, helpdesk: h.helpdesk, timeline: h.timeline };
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

describe('customer files to a helpdesk that takes uploads', () => {
  it('downloads and uploads once, then retries the comment with the same reference', async () => {
    const { h, media, timeline } = setup();
    await h.write(customer, text('m1'));
    h.helpdesk.failures.append = [new RetryableError('zendesk down', 'ZENDESK_HTTP_503')];
    await h.write(customer, photo('m2'));

    expect(media.calls).toHaveLength(1);
    const uploads = timeline.of('upload');
    expect(uploads).toHaveLength(1);
    const appends = timeline.of('append');
    expect(appends.map((a) => [a.key, a.again])).toEqual([
      [appends[0]!.key, false],
      [appends[0]!.key, true],
    ]);
    for (const { message } of appends) {
      expect(message.attachments).toEqual([
        {
          url: URL_WITH_SIGNATURE,
          mimeType: 'image/jpeg',
          name: 'image.jpg',
          size: uploads[0]!.file.size,
          uploadRef: 'upload-1:image.jpg',
        },
      ]);
      expect(message.text).toBe('[image]');
    }
  });

  it('keeps the upload reference (never the bytes) with the first message, so a resumed open sends the same request', async () => {
    const { h, media, timeline } = setup();
    // Down for every attempt of m1 (4): the open is left for m2 to resume.
    h.helpdesk.failures.openTicket = [1, 2, 3, 4].map(
      () => new RetryableError('zendesk down', 'ZENDESK_HTTP_503'),
    );
    await h.write(customer, photo('m1'));
    expect(await h.deadLetters()).toHaveLength(1);

    const stored = await h.state.store.get(customer.key);
    expect(stored?.status).toBe('opening');
    expect(stored?.first?.attachments?.[0]?.uploadRef).toBe('upload-1:image.jpg');
    expect(JSON.stringify(stored)).not.toContain('bytes of');

    await h.write(customer, text('m2'));
    expect(media.calls).toHaveLength(1);
    expect(timeline.of('upload')).toHaveLength(1);
    const opens = timeline.of('openTicket');
    expect(opens).toHaveLength(5);
    expect(new Set(opens.map((o) => JSON.stringify(o.req.first))).size).toBe(1);
    expect(timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);
  });

  it.each([
    [new PermanentError('too big', 'MEDIA_TOO_LARGE'), 'larger than 25 MB'],
    [new PermanentError('private', 'MEDIA_FORBIDDEN_ADDRESS'), 'its address is not allowed'],
    [new PermanentError('html', 'MEDIA_BAD_TYPE'), 'the link did not return a media file'],
    [new RetryableError('slow', 'MEDIA_TIMEOUT'), 'the download timed out'],
    [new PermanentError('gone', 'MEDIA_HTTP_404'), 'the download failed (MEDIA_HTTP_404)'],
  ])('keeps the link with a note when the download is refused (%p)', async (failure, reason) => {
    const { h, media, timeline } = setup();
    media.failure = failure;
    await h.write(customer, photo('m1', 'Foto do boleto'));

    const opens = timeline.of('openTicket');
    expect(opens).toHaveLength(1);
    const first = opens[0]!.req.first;
    expect(first.text).toBe(`Foto do boleto\n[image not attached: ${reason}] ${URL_WITH_SIGNATURE}`);
    expect(first.attachments).toEqual([
      { url: URL_WITH_SIGNATURE, mimeType: 'image/jpeg', notAttached: reason },
    ]);
    expect(timeline.of('upload')).toHaveLength(0);
    // A passing failure holds the lane for one retry at most; a refusal, not at all.
    expect(media.calls).toHaveLength(failure instanceof RetryableError ? 2 : 1);
    const line = h.logs.lines().find((l) => l.code === failure.code)!;
    expect(line).toMatchObject({ level: 'warn', mediaHost: 'blipmediastore.blob.core.windows.net' });
    expect(h.logs.text()).not.toContain('SECRET');
  });

  it('keeps the link with a note when the helpdesk refuses the file', async () => {
    const { h, timeline } = setup();
    h.helpdesk.failures.upload = [new PermanentError('zendesk upload file: HTTP 413', 'ZENDESK_HTTP_413')];
    await h.write(customer, photo('m1'));
    expect(timeline.of('openTicket')[0]!.req.first.text).toBe(
      `[image]\n[image not attached: the helpdesk refused the file (ZENDESK_HTTP_413)] ${URL_WITH_SIGNATURE}`,
    );
  });

  it('leaves attachments as links for an adapter that cannot upload', async () => {
    const { h, media, timeline } = setup({ uploads: false });
    const message = photo('m1');
    await h.write(customer, message);
    expect(media.calls).toHaveLength(0);
    expect(timeline.of('openTicket')[0]!.req.first).toEqual(message);
  });
});
