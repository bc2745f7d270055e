/**
 * The helpdesk's live states through the core as production runs it (issue 19.4, issue 20 items 2 and 7): the queue
 * position, "no agent available" (the no-agent timer's path), and agent typing (a chat state: never stored, never
 * counted as a message, never deduped for good, tried at most twice).
 */
import { RetryableError } from '../../src/core/errors';
import type { LocalizedTexts } from '../../src/core/texts';
import type { HelpdeskEvent, TicketRef } from '../../src/core/model';
import { type CoreHarness, type CoreHarnessOptions, startCore } from '../helpers/core-harness';
import { agentMessage, customer, logged, NOW, openedTicket } from '../helpers/handoff-fixtures';

const texts: LocalizedTexts = {
  defaultLocale: 'pt-BR',
  perCustomer: false,
  byLocale: {
    'pt-BR': {
      queuePosition: 'Você é o {position}º da fila.',
      waiting: 'Você está na fila.',
      noAgent: 'Nossos atendentes estão ocupados.',
      closing: 'Encerrado.',
    },
  },
};

const started: CoreHarness[] = [];
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ now: () => NOW, texts, failures: { baseDelayMs: 1, maxDelayMs: 5 }, ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

const typing = (
  ticket: TicketRef,
  eventId: string,
  state: 'composing' | 'paused' = 'composing',
): HelpdeskEvent => ({
  kind: 'agent.typing',
  ticket,
  eventId,
  state,
});
const texted = (h: CoreHarness) => h.timeline.of('send').map((s) => s.text);

describe('agent typing', () => {
  it('reaches the customer as a chat state each time, even under the same event id, and is no message', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const before = await h.state.store.get(customer().key);
    const emitted = h.emitted.length;
    const sends = h.timeline.of('send').length;
    await h.helpdeskSends(typing(ticket, 't1'));
    await h.helpdeskSends(typing(ticket, 't1'), typing(ticket, 't2', 'paused'));
    expect(h.timeline.of('chatState')).toEqual([
      { what: 'chatState', to: customer().address, state: 'composing' },
      { what: 'chatState', to: customer().address, state: 'composing' },
      { what: 'chatState', to: customer().address, state: 'paused' },
    ]);
    // Not a message: no send, no domain event (reports, analytics), the conversation untouched.
    expect(h.timeline.of('send')).toHaveLength(sends);
    expect(h.emitted.slice(emitted)).toEqual([]);
    expect(await h.state.store.get(customer().key)).toEqual(before);
    expect(logged(h, 'duplicate helpdesk event ignored')).toHaveLength(0);
  });

  it('is tried once more after a failure, then dropped (never dead-lettered)', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    h.channel.failures.push(new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED'));
    await h.helpdeskSends(typing(ticket, 't1'));
    expect(h.timeline.of('chatState')).toHaveLength(1);

    h.channel.failures.push(
      new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED'),
      new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED'),
      new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED'),
    );
    await h.helpdeskSends(typing(ticket, 't2'));
    expect(h.timeline.of('chatState')).toHaveLength(1);
    expect(logged(h, 'agent typing state not delivered; dropped')).toEqual([
      expect.objectContaining({ code: 'CHAT_STATE_DROPPED', state: 'composing' }),
    ]);
    // Two tries: the third failure is still queued for the next send.
    expect(h.channel.failures).toHaveLength(1);
    expect(await h.deadLetters()).toEqual([]);
  });
});

describe('queue position', () => {
  it('tells the position once per position', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const queued = (eventId: string, position?: number): HelpdeskEvent => ({
      kind: 'ticket.queued',
      ticket,
      eventId,
      ...(position !== undefined ? { position } : {}),
    });
    await h.helpdeskSends(queued('q3', 3), queued('q3-again', 3), queued('q2', 2));
    expect(texted(h)).toEqual(['Você está na fila.', 'Você é o 3º da fila.', 'Você é o 2º da fila.']);
    // Without a position, the waiting text has gone out already: nothing more.
    await h.helpdeskSends(queued('q'));
    expect(texted(h)).toHaveLength(3);
  });

  it('says nothing with the queue-position text turned off', async () => {
    const h = core({
      texts: { ...texts, byLocale: { 'pt-BR': { ...texts.byLocale['pt-BR'], queuePosition: undefined } } },
    });
    const ticket = await openedTicket(h);
    await h.helpdeskSends({ kind: 'ticket.queued', ticket, eventId: 'q3', position: 3 });
    expect(texted(h)).toEqual(['Você está na fila.']);
  });
});

describe('no agent available (the helpdesk says so)', () => {
  const unavailable = (ticket: TicketRef): HelpdeskEvent => ({
    kind: 'agent.unavailable',
    ticket,
    eventId: 'u1',
  });

  it('with BRIDGE_NO_AGENT_ACTION=message: the no-agent text, the handoff goes on', async () => {
    const h = core({ lifecycle: { endKeywords: [], noAgentAction: 'message' } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(unavailable(ticket));
    expect(texted(h)).toEqual(['Você está na fila.', 'Nossos atendentes estão ocupados.']);
    expect(h.timeline.of('handBack')).toHaveLength(0);
    expect((await h.state.store.get(customer().key))?.ticket).toEqual(ticket);
  });

  it('with BRIDGE_NO_AGENT_ACTION=redirect: the timer path, handed back as expired and the ticket closed', async () => {
    const h = core({ lifecycle: { endKeywords: [], noAgentAction: 'redirect' } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(unavailable(ticket));
    expect(h.timeline.of('handBack')).toEqual([
      expect.objectContaining({ handback: expect.objectContaining({ closedBy: 'expired' }) }),
    ]);
    expect(h.timeline.of('closeTicket')).toEqual([expect.objectContaining({ closedBy: 'expired' })]);
    expect(await h.state.store.get(customer().key)).toBeUndefined();
  });

  it('does nothing once an agent answered', async () => {
    const h = core({ lifecycle: { endKeywords: [], noAgentAction: 'redirect' } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1', 'Oi!'));
    await h.helpdeskSends(unavailable(ticket));
    expect(texted(h)).toEqual(['Você está na fila.', 'Oi!']);
    expect(h.timeline.of('handBack')).toHaveLength(0);
  });
});
