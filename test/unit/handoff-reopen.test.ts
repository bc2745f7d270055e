/**
 * The reopen policy through the lanes (`reopenWindowMs`): a customer who comes back soon after a close gets their
 * ticket reopened, once, even when the reopen is tried more than once.
 */
import { PermanentError, RetryableError, UnavailableError } from '../../src/core/errors';
import type { Attachment, MediaFile } from '../../src/core/model';
import type { MediaFetcher } from '../../src/core/ports';
import { type CoreHarness, type CoreHarnessOptions, FakeHelpdesk, startCore } from '../helpers/core-harness';
import { closed, customer, logged, message, openedTicket } from '../helpers/handoff-fixtures';

const started: CoreHarness[] = [];
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ settings: { reopenWindowMs: 60_000 }, ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

/** The customer's handoff opened with m1 and closed by the agent. */
async function closedOnce(h: CoreHarness) {
  const ticket = await openedTicket(h);
  await h.helpdeskSends(closed(ticket));
  expect(h.timeline.of('handBack')).toHaveLength(1);
  return ticket;
}

describe('reopen policy', () => {
  it('reopens the ticket closed within the window with the message, as a new session on it', async () => {
    const h = core();
    const ticket = await closedOnce(h);
    await h.write(customer(), message('m2'));
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(h.timeline.of('reopen')).toEqual([
      expect.objectContaining({ ticket, message: expect.objectContaining({ id: 'm2' }), again: false }),
    ]);
    const conversation = await h.state.store.get(customer().key);
    expect(conversation).toMatchObject({ status: 'open', ticket });
    expect(h.emitted.filter((e) => e.name === 'handoff.started').map((e) => e.payload)).toEqual([
      expect.not.objectContaining({ reopened: true }),
      expect.objectContaining({ reopened: true }),
    ]);
    // The next message is a comment on the reopened ticket.
    await h.write(customer(), message('m3'));
    expect(h.timeline.of('append').map((a) => [a.ticket.id, a.message.id])).toEqual([[ticket.id, 'm3']]);
  });

  it('retries a failed reopen through the lane under the same key, telling the adapter it may have landed', async () => {
    const h = core();
    await closedOnce(h);
    h.helpdesk.failures.reopen = [new RetryableError('fakedesk: HTTP 503', 'FAKEDESK_HTTP_503')];
    await h.write(customer(), message('m2'));
    const reopens = h.timeline.of('reopen');
    expect(reopens.map((r) => [r.key, r.again])).toEqual([
      [reopens[0]!.key, false],
      [reopens[0]!.key, true],
    ]);
    expect(h.timeline.of('openTicket')).toHaveLength(1);
  });

  it('does not post the reopening message again when a failure kept it from being marked done', async () => {
    const h = core();
    const ticket = await closedOnce(h);
    const store = h.state.store;
    const mark = store.markProcessed.bind(store);
    let failures = 1;
    store.markProcessed = async (key, ttlMs) => {
      if (failures-- > 0)
        throw new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');
      return mark(key, ttlMs);
    };
    await h.write(customer(), message('m2'));
    expect(logged(h, 'work failed; the work waits for an unavailable service')).toHaveLength(1);
    expect(h.timeline.of('reopen')).toHaveLength(1);
    expect(h.timeline.of('append')).toEqual([]);
    expect(h.helpdesk.tickets.get(ticket.id)?.comments).toEqual([message('m1').text, message('m2').text]);
  });

  it('uploads the reopening message’s file once when the reopen is retried', async () => {
    const media: MediaFetcher = {
      maxBytes: 10_000,
      fetch: async (a: Attachment): Promise<MediaFile> => ({
        name: 'boleto.jpg',
        mimeType: a.mimeType,
        size: 3,
        data: Buffer.from('abc'),
      }),
    };
    const h = core({
      media,
      helpdesks: (timeline) => [new FakeHelpdesk(timeline, 'fakedesk', { uploads: true })],
    });
    await closedOnce(h);
    h.helpdesk.failures.reopen = [new RetryableError('fakedesk: HTTP 503', 'FAKEDESK_HTTP_503')];
    const photo = {
      ...message('m2', 'boleto'),
      attachments: [{ url: 'https://media.example/b.jpg', mimeType: 'image/jpeg' }],
    };
    await h.write(customer(), photo);
    expect(h.timeline.of('upload')).toHaveLength(1);
    const reopens = h.timeline.of('reopen');
    expect(reopens).toHaveLength(2);
    expect(reopens[1]!.message).toEqual(reopens[0]!.message);
  });

  it('opens a new ticket with the same message when the helpdesk refuses to reopen', async () => {
    const h = core();
    const ticket = await closedOnce(h);
    h.helpdesk.failures.reopen = [new PermanentError('fakedesk: ticket is closed', 'FAKEDESK_CLOSED')];
    await h.write(customer(), message('m2'));
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(opens[1]!.req.first.id).toBe('m2');
    expect((await h.state.store.get(customer().key))?.ticket?.id).not.toBe(ticket.id);
    expect(await h.deadLetters()).toEqual([]);
  });
});
