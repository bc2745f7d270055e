/**
 * The end of a handoff and what the core tells the rest of the bridge, through the lanes: the agent's last replies,
 * the closing text, the Redirect, the state cleared; domain events in order; no message text in the logs.
 */
import { PermanentError, RetryableError } from '../../src/core/errors';
import { stableId } from '../../src/core/ids';
import { type CoreHarness, type CoreHarnessOptions, startCore } from '../helpers/core-harness';
import {
  agentMessage,
  closed,
  customer,
  logged,
  message,
  NOW,
  openedTicket,
  SECRET_TEXT,
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

describe('closing', () => {
  it('delivers undelivered recent agent messages, then the closing text, then the hand-back, then clears the state', async () => {
    const h = core();
    const who = customer();
    const ticket = await openedTicket(h, who);
    const sessionId = (await h.state.store.get(who.key))!.sessionId;
    await h.helpdeskSends(agentMessage(ticket, 'c1', 'primeira resposta'));
    h.helpdesk.recent = [
      agentMessage(ticket, 'c1', 'primeira resposta'),
      agentMessage(ticket, 'c2', 'última resposta'),
    ];

    await h.helpdeskSends(closed(ticket));

    const toCustomer = h.timeline.steps.filter((s) => s.what === 'send' || s.what === 'handBack');
    expect(toCustomer.map((s) => (s.what === 'send' ? `send:${s.text}` : 'handBack'))).toEqual([
      'send:primeira resposta',
      'send:última resposta',
      'send:Atendimento encerrado. Obrigado!',
      'handBack',
    ]);
    for (const s of h.timeline.of('send')) expect(s.to).toBe(who.address);
    const [handBack] = h.timeline.of('handBack');
    expect(handBack?.handback).toMatchObject({
      closedBy: 'agent',
      reason: 'solved',
      closedAt: NOW.toISOString(),
      conversation: { sessionId, customer: who, ticket },
    });

    expect(await h.state.store.get(who.key)).toBeUndefined();
    expect(await h.state.store.customerKeyForTicket(VENDOR, ticket.id)).toBeUndefined();
    expect(h.core.index.known(ticket)).toBeUndefined();

    // The next message starts a new handoff.
    await h.write(who, message('m-after'));
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(opens[1]?.key).not.toBe(opens[0]?.key);
    expect(opens[1]?.req.first.id).toBe('m-after');
    expect((await h.state.store.get(who.key))?.ticket?.id).not.toBe(ticket.id);
  });

  it('sends no closing text when it is empty, but still hands back', async () => {
    const h = core({ settings: { closingText: '' } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(closed(ticket));
    expect(h.timeline.of('send')).toHaveLength(0);
    expect(h.timeline.of('handBack')).toHaveLength(1);
  });

  it('derives LIME message ids from the session and event, so a retry re-sends the same ids', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const sessionId = (await h.state.store.get(customer().key))!.sessionId;
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    await h.helpdeskSends(closed(ticket));
    const [reply, closing] = h.timeline.of('send');
    expect(reply?.messageId).toBe(stableId(`agent:ev:${VENDOR}:comment:c1`));
    expect(closing?.messageId).toBe(stableId(`closing:${sessionId}`));
    expect(h.timeline.of('handBack')[0]?.messageId).toBe(stableId(`redirect:${sessionId}`));
  });

  it('hands back once when the close arrives twice (event subscription and trigger)', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.helpdeskSends(closed(ticket, 'status:abc'), closed(ticket, 'solved:1:x'));
    expect(h.timeline.of('handBack')).toHaveLength(1);
    // The second found the customer's lane (queued with the first) and no open ticket there any more.
    expect(logged(h, 'helpdesk event for a ticket that is no longer open; ignored')).toEqual([
      expect.objectContaining({ eventId: 'solved:1:x', code: 'STALE_TICKET' }),
    ]);
  });

  it('keeps the state when the hand-back fails, so a redelivered close can finish it', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    h.channel.handBackFailures.push(new PermanentError('router refused', 'LIME_FAILED'));
    await h.helpdeskSends(closed(ticket));
    expect(await h.deadLetters()).toEqual([
      expect.objectContaining({ code: 'LIME_FAILED', work: expect.objectContaining({ attempts: 1 }) }),
    ]);
    expect((await h.state.store.get(customer().key))?.ticket?.id).toBe(ticket.id);

    await h.helpdeskSends(closed(ticket));
    expect(h.timeline.of('handBack')).toHaveLength(1);
    // The closing text went out on both tries, with the same LIME id (the channel can drop the copy).
    const closings = h.timeline.of('send');
    expect(closings).toHaveLength(2);
    expect(closings[1]?.messageId).toBe(closings[0]?.messageId);
    expect(await h.state.store.get(customer().key)).toBeUndefined();
  });
});

describe('domain events', () => {
  it('emits the handoff lifecycle in order, message events carrying the text for the subscribers', async () => {
    const h = core();
    const who = customer();
    const ticket = await openedTicket(h, who);
    await h.write(who, message('m2'));
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    h.helpdesk.recent = [agentMessage(ticket, 'c2')];
    await h.helpdeskSends(closed(ticket));

    expect(h.emitted.map((e) => e.name)).toEqual([
      'handoff.started',
      'customer.message',
      'customer.message',
      'agent.message',
      'agent.message',
      'automatic.message',
      'ticket.closed',
      'redirect.sent',
    ]);
    const sessionId = h.timeline.of('openTicket')[0]!.req.sessionId;
    for (const { payload } of h.emitted) {
      expect(payload).toMatchObject({
        sessionId,
        customerKey: who.key,
        ticket: { id: ticket.id },
        at: NOW.toISOString(),
      });
    }
    const ids = (name: string) =>
      h.emitted.filter((e) => e.name === name).map((e) => (e.payload as { messageId: string }).messageId);
    expect(ids('customer.message')).toEqual(['m1', 'm2']);
    expect(ids('agent.message')).toEqual(['c1', 'c2']);
    expect(h.emitted.find((e) => e.name === 'automatic.message')?.payload).toMatchObject({
      purpose: 'closing',
    });
    expect(h.emitted.find((e) => e.name === 'ticket.closed')?.payload).toMatchObject({
      closedBy: 'agent',
      reason: 'solved',
      agentId: 'agent-1',
      agentName: 'Ana Souza',
    });
    expect(h.emitted.find((e) => e.name === 'handoff.started')?.payload).toMatchObject({
      customer: { key: who.key, originator: who.originator },
      vendor: VENDOR,
    });
    // Text travels only on message events (for analytics sinks and talk logs), never on lifecycle events.
    for (const e of h.emitted) {
      if (e.name === 'customer.message' || e.name === 'agent.message') {
        expect((e.payload as { text: string }).text).toContain(SECRET_TEXT);
      } else {
        expect(JSON.stringify(e.payload)).not.toContain(SECRET_TEXT);
      }
    }
  });

  it('writes no message text to the logs, at any level', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    // A failed comment and a failed send are logged (one warn line each) with what failed, never what was written.
    h.helpdesk.failures.append = [new RetryableError('timed out', 'FAKEDESK_UNREACHABLE')];
    h.channel.failures.push(new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED'));
    await h.write(customer(), message('m2'));
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    await h.helpdeskSends(closed(ticket));
    expect(h.logs.lines().filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({
        message: 'appendCustomerMessage failed; the lane retries later',
        ticket: ticket.id,
      }),
      expect.objectContaining({
        message: 'send to customer failed; the lane retries later',
        ticket: ticket.id,
      }),
    ]);
    const text = h.logs.text();
    expect(text).not.toContain(SECRET_TEXT);
    expect(text).not.toContain('5511987654321'); // the phone number behind the tunnel
    expect(text).not.toContain(customer().key);
  });

  it('emits delivery.failed for a LIME failed notification, in the customer’s lane', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.core.intake.acceptDeliveryFailure(
      customer().key,
      'lime-msg-1',
      '86',
      'The gateway switch operation timed out',
    );
    await h.idle();
    const failed = h.emitted.find((e) => e.name === 'delivery.failed');
    expect(failed?.payload).toMatchObject({
      customerKey: customer().key,
      ticket: { id: ticket.id },
      direction: 'to-customer',
      messageId: 'lime-msg-1',
      code: '86',
    });
    // The agents are told in a note on the ticket.
    expect(h.timeline.of('note')).toEqual([
      expect.objectContaining({ ticket, text: expect.stringContaining('lime-msg-1') }),
    ]);
  });
});
