/**
 * Live signals from the customer's app to the agent (issue 20.2), through the core as production assembles it: the
 * customer typing, and the customer's app showing an agent's message, passed to a vendor whose API takes them,
 * right away or never (not recorded, not queued behind messages, not retried).
 */
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import type { CustomerTypingState, TicketRef } from '../../src/core/model';
import type { RateLimiter } from '../../src/core/rate-limiter';
import {
  type CoreHarness,
  type CoreHarnessOptions,
  FakeHelpdesk,
  startCore,
  type Timeline,
} from '../helpers/core-harness';
import { agentMessage, customer, NOW, openedTicket } from '../helpers/handoff-fixtures';

const started: CoreHarness[] = [];
let clock = NOW.getTime();
beforeEach(() => {
  clock = NOW.getTime();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

/** A helpdesk whose API shows the customer typing and has a "seen by the customer" marker. */
class LiveDesk extends FakeHelpdesk implements HelpdeskAdapter {
  readonly typing: Array<{ ticket: string; state: CustomerTypingState }> = [];
  readonly seen: Array<{ ticket: string; messageId: string }> = [];
  failTyping = false;
  async customerTyping(ticket: TicketRef, state: CustomerTypingState): Promise<void> {
    if (this.failTyping) throw new Error('vendor down');
    this.typing.push({ ticket: ticket.id, state });
  }
  async markReadByCustomer(ticket: TicketRef, upTo: { messageId: string; at: string }): Promise<void> {
    this.seen.push({ ticket: ticket.id, messageId: upTo.messageId });
  }
}

function core(options: CoreHarnessOptions = {}, live = true): CoreHarness {
  const h = startCore({
    now: () => new Date(clock),
    helpdesks: (t: Timeline) => [live ? new LiveDesk(t) : new FakeHelpdesk(t)],
    ...options,
  });
  started.push(h);
  return h;
}

describe('the customer typing', () => {
  it('reaches the vendor on an open ticket, one composing per interval, paused only after a composing', async () => {
    const h = core();
    const desk = h.helpdesk as LiveDesk;
    const typing = (state: CustomerTypingState) => h.core.intake.acceptCustomerTyping(customer(), state);
    expect(await typing('composing')).toBe('no-ticket');
    const ticket = await openedTicket(h);
    expect(await typing('composing')).toBe('sent');
    clock += 1_000;
    expect(await typing('composing')).toBe('throttled');
    expect(await typing('paused')).toBe('sent');
    expect(await typing('paused')).toBe('throttled');
    expect(await typing('composing')).toBe('sent');
    clock += 3_000;
    expect(await typing('composing')).toBe('sent');
    expect(desk.typing).toEqual([
      { ticket: ticket.id, state: 'composing' },
      { ticket: ticket.id, state: 'paused' },
      { ticket: ticket.id, state: 'composing' },
      { ticket: ticket.id, state: 'composing' },
    ]);
    // Nothing was recorded as work.
    expect((await h.state.queue.depth()).queued).toBe(0);
  });

  it('is dropped, not delayed, when the vendor’s rate limit would make it wait', async () => {
    let waiting = false;
    const limiter: RateLimiter = {
      acquire: async () => 0,
      delay: async () => (waiting ? 5_000 : 0),
    };
    const h = core({ limiter: () => limiter });
    await openedTicket(h);
    waiting = true;
    expect(await h.core.intake.acceptCustomerTyping(customer(), 'composing')).toBe('rate-limited');
    expect((h.helpdesk as LiveDesk).typing).toEqual([]);
  });

  it('a failing vendor call is dropped (debug log), never thrown', async () => {
    const h = core();
    await openedTicket(h);
    (h.helpdesk as LiveDesk).failTyping = true;
    expect(await h.core.intake.acceptCustomerTyping(customer(), 'composing')).toBe('failed');
    expect(
      h.logs.lines().find((l) => l.message === 'customer typing not passed to the helpdesk; dropped'),
    ).toMatchObject({
      level: 'debug',
    });
  });

  it('a vendor without the API: nothing is even looked up', async () => {
    const h = core({}, false);
    await openedTicket(h);
    const get = jest.spyOn(h.state.store, 'get');
    expect(await h.core.intake.acceptCustomerTyping(customer(), 'composing')).toBe('unsupported');
    expect(get).not.toHaveBeenCalled();
  });
});

describe('the customer’s app showed an agent’s message', () => {
  it('marks it seen at a vendor with a read marker, by the vendor’s message id', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1'), agentMessage(ticket, 'c2'));
    const [first, second] = h.timeline.of('send');
    expect(await h.core.intake.acceptCustomerRead(customer().key, second!.messageId)).toBe('sent');
    expect(await h.core.intake.acceptCustomerRead(customer().key, first!.messageId)).toBe('sent');
    expect((h.helpdesk as LiveDesk).seen).toEqual([
      { ticket: ticket.id, messageId: 'c2' },
      { ticket: ticket.id, messageId: 'c1' },
    ]);
    // Not an agent's message of this handoff (an automatic text, another id): nothing.
    expect(await h.core.intake.acceptCustomerRead(customer().key, 'some-other-id')).toBe('no-ticket');
  });

  it('keeps nothing for a vendor without a read marker', async () => {
    const h = core({}, false);
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    expect((await h.state.store.get(customer().key))?.sentToCustomer).toBeUndefined();
    expect(await h.core.intake.acceptCustomerRead(customer().key, h.timeline.of('send')[0]!.messageId)).toBe(
      'unsupported',
    );
  });
});
