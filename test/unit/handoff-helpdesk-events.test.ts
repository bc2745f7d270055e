/**
 * Helpdesk events through the core as production runs them: intake places each in its customer's lane (or the
 * ticket's lane while no index knows the ticket), the handler dedupes it once, under the lane, and delivers it.
 * A handler's outcome (duplicate, unknown or stale ticket) is visible in its log line.
 */
import { PermanentError, RetryableError } from '../../src/core/errors';
import type { TicketRef } from '../../src/core/model';
import { type CoreHarness, type CoreHarnessOptions, startCore, until } from '../helpers/core-harness';
import {
  agentMessage,
  customer,
  logged,
  message,
  NOW,
  openedTicket,
  VENDOR,
} from '../helpers/handoff-fixtures';

const started: CoreHarness[] = [];
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ now: () => NOW, ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

const DUPLICATE = 'duplicate helpdesk event ignored';
const UNKNOWN = 'helpdesk event for a ticket the bridge does not track; ignored';
const STALE = 'helpdesk event for a ticket that is no longer open; ignored';

describe('helpdesk events: agent messages', () => {
  it('sends an agent message TO the stored customer address and remembers the agent', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1', 'Olá Maria!'));
    const sends = h.timeline.of('send');
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ to: customer().address, text: 'Olá Maria!' });
    const conversation = await h.state.store.get(customer().key);
    expect(conversation?.agent).toEqual({ id: 'agent-1', name: 'Ana Souza' });
    expect(conversation?.firstAgentReplyAt).toBe(NOW.toISOString());
  });

  it('passes attachments through to the customer channel', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const event = agentMessage(ticket, 'c1', '');
    event.message.attachments = [{ url: 'https://desk/a.pdf', mimeType: 'application/pdf', name: 'a.pdf' }];
    await h.helpdeskSends(event);
    expect(h.timeline.of('send')[0]?.attachments).toEqual(event.message.attachments);
  });

  it('delivers a redelivered event once', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const event = agentMessage(ticket, 'c1');
    await h.helpdeskSends(event);
    await h.helpdeskSends({ ...event });
    await h.helpdeskSends(event, event);
    expect(h.timeline.of('send')).toHaveLength(1);
    expect(logged(h, DUPLICATE)).toHaveLength(3);
  });

  it('delivers two concurrent copies of one event once', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const event = agentMessage(ticket, 'c1');
    await Promise.all([
      h.core.intake.acceptHelpdeskEvents([event]),
      h.core.intake.acceptHelpdeskEvents([{ ...event }]),
    ]);
    await h.idle();
    expect(h.timeline.of('send')).toHaveLength(1);
    expect(logged(h, DUPLICATE)).toHaveLength(1);
  });

  it('retries a failed send to the customer through the lane', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    h.channel.failures.push(new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED'));
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    expect(logged(h, 'send to customer failed; the lane retries later')).toEqual([
      expect.objectContaining({ code: 'BLIP_DISCONNECTED', attempts: 1, kind: 'helpdesk-event' }),
    ]);
    expect(h.timeline.of('send')).toHaveLength(1);
    expect((await h.state.store.get(customer().key))?.agent?.id).toBe('agent-1');
    // Marked done only once delivered: a redelivery now is a duplicate.
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    expect(h.timeline.of('send')).toHaveLength(1);
  });

  it('records the assigned agent', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.helpdeskSends({
      kind: 'ticket.assigned',
      ticket,
      eventId: 'assigned:1',
      agent: { id: 'agent-9', name: 'Bruno' },
    });
    expect((await h.state.store.get(customer().key))?.agent).toEqual({ id: 'agent-9', name: 'Bruno' });
    expect(h.emitted.filter((e) => e.name === 'ticket.assigned').map((e) => e.payload)).toEqual([
      expect.objectContaining({ agentId: 'agent-9', agentName: 'Bruno', ticket }),
    ]);
  });
});

describe('helpdesk events: assignment and transfer', () => {
  const lifecycle = {
    endKeywords: [],
    assignedText: '{agent} entrou na conversa.',
    transferredText: 'Transferindo você para o time {team}.',
    unnamedAgent: 'Um atendente',
  };
  const texts = (h: CoreHarness) => h.timeline.of('send').map((s) => s.text);

  it('tells the customer who joined once per agent, and names an agent the event gave by id only', async () => {
    const h = core({ lifecycle });
    h.helpdesk.names.set('agent:agent-7', 'Carla Dias');
    const ticket = await openedTicket(h);
    const assign = (eventId: string, id: string, name?: string) =>
      h.helpdeskSends({ kind: 'ticket.assigned', ticket, eventId, agent: { id, ...(name ? { name } : {}) } });
    await assign('a1', 'agent-9', 'Bruno');
    await assign('a2', 'agent-7');
    await assign('a3', 'agent-9', 'Bruno'); // back to Bruno: he already joined
    expect(texts(h)).toEqual(['Bruno entrou na conversa.', 'Carla Dias entrou na conversa.']);
    const conversation = await h.state.store.get(customer().key);
    expect(conversation?.agent).toEqual({ id: 'agent-9', name: 'Bruno' });
    expect(conversation?.firstAssignedAt).toBe(NOW.toISOString());
    const emitted = h.emitted.filter((e) => e.name === 'ticket.assigned').map((e) => e.payload);
    expect(emitted).toEqual([
      expect.objectContaining({ agentId: 'agent-9', agentName: 'Bruno', first: true }),
      expect.objectContaining({ agentId: 'agent-7', agentName: 'Carla Dias' }),
      expect.objectContaining({ agentId: 'agent-9', agentName: 'Bruno' }),
    ]);
    expect(emitted[1]).not.toHaveProperty('first');
  });

  it('tells the customer the team a ticket moved to, counts transfers, and ignores a move to the same team', async () => {
    const h = core({ lifecycle });
    h.helpdesk.names.set('team:g-2', 'Cobrança');
    const ticket = await openedTicket(h);
    const move = (eventId: string, id: string, name?: string) =>
      h.helpdeskSends({
        kind: 'ticket.transferred',
        ticket,
        eventId,
        team: { id, ...(name ? { name } : {}) },
      });
    await move('t1', 'g-1', 'Financeiro');
    await move('t2', 'g-1', 'Financeiro');
    await move('t3', 'g-2');
    expect(texts(h)).toEqual([
      'Transferindo você para o time Financeiro.',
      'Transferindo você para o time Cobrança.',
    ]);
    const conversation = await h.state.store.get(customer().key);
    expect(conversation).toMatchObject({ team: 'Cobrança', teamId: 'g-2', transfers: 2 });
    expect(h.emitted.filter((e) => e.name === 'ticket.transferred').map((e) => e.payload)).toEqual([
      expect.objectContaining({ teamId: 'g-1', teamName: 'Financeiro', transfers: 1, ticket }),
      expect.objectContaining({
        teamId: 'g-2',
        teamName: 'Cobrança',
        previousTeam: 'Financeiro',
        transfers: 2,
      }),
    ]);
  });

  it('goes on without the name when the helpdesk refuses to name the agent, and retries a passing failure', async () => {
    const h = core({ lifecycle });
    const ticket = await openedTicket(h);
    h.helpdesk.failures.nameOf = [
      new RetryableError('zendesk get user: HTTP 503', 'ZENDESK_HTTP_503'),
      new PermanentError('zendesk get user: HTTP 403', 'ZENDESK_HTTP_403'),
    ];
    await h.helpdeskSends({ kind: 'ticket.assigned', ticket, eventId: 'a1', agent: { id: 'agent-7' } });
    await until(() => texts(h).length === 1, 'the joined text');
    expect(texts(h)).toEqual(['Um atendente entrou na conversa.']);
    expect(logged(h, 'the helpdesk would not name the agent; going on without the name')).toEqual([
      expect.objectContaining({ code: 'ZENDESK_HTTP_403' }),
    ]);
    expect((await h.state.store.get(customer().key))?.agent).toEqual({ id: 'agent-7' });
  });

  it('takes a move to the team the ticket opened with (by name in any case, or by id) for no transfer', async () => {
    const h = core({ lifecycle });
    const ticket = await openedTicket(h);
    const conversation = (await h.state.store.get(customer().key))!;
    await h.state.store.save({ ...conversation, team: 'financeiro' });
    const move = (eventId: string, team: { id: string; name?: string }) =>
      h.helpdeskSends({ kind: 'ticket.transferred', ticket, eventId, team });
    await move('t1', { id: '20001', name: 'Financeiro' });
    await move('t2', { id: 'financeiro' });
    expect(texts(h)).toEqual([]);
    expect((await h.state.store.get(customer().key))?.transfers).toBeUndefined();
  });

  it('counts a transfer to a team nobody can name without telling the customer a number', async () => {
    const h = core({ lifecycle });
    const ticket = await openedTicket(h);
    await h.helpdeskSends({ kind: 'ticket.transferred', ticket, eventId: 't1', team: { id: '4711' } });
    expect(texts(h)).toEqual([]);
    expect(await h.state.store.get(customer().key)).toMatchObject({ team: '4711', transfers: 1 });
  });
});

describe('helpdesk events: tickets the bridge does not track', () => {
  it("ignores an event for a ticket it doesn't track, of this vendor or another", async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage({ vendor: VENDOR, id: '999999' }, 'c1'));
    // Another vendor's ticket with the same id is not ours either.
    await h.helpdeskSends(agentMessage({ vendor: 'other', id: ticket.id }, 'c2'));
    expect(h.timeline.of('send')).toHaveLength(0);
    expect(logged(h, UNKNOWN).map((l) => [l.vendor, l.ticket, l.code])).toEqual([
      [VENDOR, '999999', 'UNKNOWN_TICKET'],
      ['other', ticket.id, 'UNKNOWN_TICKET'],
    ]);
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('ignores an event for an old ticket of a customer who has a newer one', async () => {
    const h = core();
    const old = await openedTicket(h);
    const conversation = (await h.state.store.get(customer().key))!;
    await h.state.store.save({ ...conversation, ticket: { vendor: VENDOR, id: 'newer' } });
    await h.helpdeskSends(agentMessage(old, 'c1'));
    expect(h.timeline.of('send')).toHaveLength(0);
    expect(logged(h, STALE)).toEqual([expect.objectContaining({ ticket: old.id, code: 'STALE_TICKET' })]);
  });

  it('emits nothing for a duplicate or an unknown-ticket event', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    const before = h.emitted.length;
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    await h.helpdeskSends(agentMessage({ vendor: VENDOR, id: 'nope' }, 'c9'));
    expect(h.emitted).toHaveLength(before);
  });
});

describe('helpdesk events racing the open', () => {
  /** Holds the helpdesk's answer to the open until `release` (the ticket exists at the helpdesk meanwhile). */
  function holdOpen(h: CoreHarness) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const opening = new Promise<void>((resolve) => (entered = resolve));
    const open = h.helpdesk.openTicket.bind(h.helpdesk);
    h.helpdesk.openTicket = async (req, key) => {
      const ticket = await open(req, key);
      entered();
      await released;
      return ticket;
    };
    return { opening, release };
  }

  it('delivers an agent event that names the session while the ticket is still being opened', async () => {
    const h = core();
    const who = customer(7);
    const { opening, release } = holdOpen(h);
    await h.accept(who, message('m1'));
    await opening;
    const session = (await h.state.store.get(who.key))!.sessionId;
    // The helpdesk's instant auto-reply names the session: it finds the customer's lane at intake, behind the open.
    const autoReply = {
      ...agentMessage({ vendor: VENDOR, id: '1001' }, 'c-auto', 'Recebemos sua mensagem'),
      sessionId: session,
    };
    expect(await h.core.intake.acceptHelpdeskEvents([autoReply])).toBe(1);
    expect(h.timeline.of('send')).toEqual([]);
    release();
    await h.idle();
    expect(h.timeline.of('send').map((s) => s.text)).toEqual(['Recebemos sua mensagem']);
    expect(logged(h, UNKNOWN)).toEqual([]);
  });

  it('delivers an agent event without a session reference once the opens in flight have finished', async () => {
    const h = core();
    const who = customer(9);
    const { opening, release } = holdOpen(h);
    await h.accept(who, message('m1'));
    await opening;
    // The helpdesk already created ticket 1001 and an agent answered; the bridge has not recorded it yet: the event
    // waits in the ticket's lane for the open, then moves to the customer's lane.
    await h.core.intake.acceptHelpdeskEvents([agentMessage({ vendor: VENDOR, id: '1001' }, 'c-fast', 'Oi!')]);
    await until(
      async () => (await h.state.queue.dueLanes(Date.now(), 10)).includes('ticket:fakedesk:1001'),
      'ticket lane',
    );
    release();
    await h.idle();
    expect(h.timeline.of('send').map((s) => [s.to, s.text])).toEqual([[who.address, 'Oi!']]);
  });

  it('still ignores an event without a session for a ticket it does not know', async () => {
    const h = core();
    await h.helpdeskSends(agentMessage({ vendor: VENDOR, id: '4242' }, 'c1'));
    expect(logged(h, UNKNOWN)).toHaveLength(1);
    expect(h.timeline.of('send')).toEqual([]);
  });
});

describe('helpdesk events: the ticket index', () => {
  it('places an event for a ticket it opened without reading the store, and the one dedupe check under the lane', async () => {
    const h = core();
    const ticket: TicketRef = await openedTicket(h);
    // No Proxy in the way any more: spies see every store call.
    const lookups = jest.spyOn(h.state.store, 'customerKeyForTicket');
    const dedupe = jest.spyOn(h.state.store, 'isProcessed');
    await h.helpdeskSends(agentMessage(ticket, 'r1'));
    expect(h.timeline.of('send')).toHaveLength(1);
    expect(lookups).not.toHaveBeenCalled();
    expect(dedupe).toHaveBeenCalledTimes(1);
  });
});
