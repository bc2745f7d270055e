import Keyv from 'keyv';
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { PermanentError, RetryableError, UnavailableError } from '../../src/core/errors';
import { type DomainEventMap, type DomainEventName, DomainEvents } from '../../src/core/events';
import { HandoffService, type HandoffOptions } from '../../src/core/handoff';
import { stableId } from '../../src/core/ids';
import type { Logger } from '../../src/core/logger';
import type {
  AgentMessageEvent,
  ChatMessage,
  ClosedBy,
  CustomerRef,
  Handback,
  OpenTicketRequest,
  TicketClosedEvent,
  TicketRef,
} from '../../src/core/model';
import type { CustomerChannel } from '../../src/core/ports';
import { KeyvConversationStore } from '../../src/state/keyv-conversation-store';

const VENDOR = 'fakedesk';
const NOW = new Date('2026-11-03T14:00:00.000Z');
/** Appears in every text the customer or agent writes; must never reach events or logs. */
const SECRET_TEXT = 'CPF 123.456.789-09';

/** Yields to queued callbacks so concurrent work can interleave. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

type Step =
  | { what: 'openTicket'; key: string; req: OpenTicketRequest }
  | { what: 'append'; ticket: TicketRef; message: ChatMessage; key: string; again: boolean }
  | { what: 'closeTicket'; ticket: TicketRef; closedBy: ClosedBy }
  | { what: 'send'; to: string; text: string; attachments?: ChatMessage['attachments']; messageId: string }
  | { what: 'handBack'; handback: Handback; messageId: string };

class Timeline {
  readonly steps: Step[] = [];
  of<W extends Step['what']>(what: W): Extract<Step, { what: W }>[] {
    return this.steps.filter((s): s is Extract<Step, { what: W }> => s.what === what);
  }
}

/** A helpdesk in memory: numbered tickets, one per idempotency key, failures on demand. */
class FakeHelpdesk implements HelpdeskAdapter {
  readonly name = VENDOR;
  readonly limits = { requestsPerMinute: 1_000 };
  readonly failures: Partial<Record<'openTicket' | 'append' | 'recent', Error[]>> = {};
  recent: AgentMessageEvent[] | undefined;
  private nextTicket = 1000;
  private readonly byKey = new Map<string, TicketRef>();
  recentAgentMessages?: (ticket: TicketRef) => Promise<AgentMessageEvent[]>;

  constructor(private readonly timeline: Timeline) {
    this.recentAgentMessages = async () => {
      await tick();
      const err = this.failures.recent?.shift();
      if (err) throw err;
      return this.recent ?? [];
    };
  }

  async openTicket(req: OpenTicketRequest, idempotencyKey: string): Promise<TicketRef> {
    this.timeline.steps.push({ what: 'openTicket', key: idempotencyKey, req });
    await tick();
    const err = this.failures.openTicket?.shift();
    if (err) throw err;
    let ticket = this.byKey.get(idempotencyKey);
    if (!ticket) {
      ticket = { vendor: VENDOR, id: String(++this.nextTicket), requesterId: `req-${req.customer.key}` };
      this.byKey.set(idempotencyKey, ticket);
    }
    return ticket;
  }

  async appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    options?: { again?: boolean },
  ): Promise<void> {
    this.timeline.steps.push({
      what: 'append',
      ticket,
      message,
      key: idempotencyKey,
      again: options?.again === true,
    });
    await tick();
    const err = this.failures.append?.shift();
    if (err) throw err;
  }

  async closeTicket(ticket: TicketRef, closedBy: ClosedBy): Promise<void> {
    this.timeline.steps.push({ what: 'closeTicket', ticket, closedBy });
  }
}

class FakeChannel implements CustomerChannel {
  constructor(private readonly timeline: Timeline) {}

  async send(
    customer: CustomerRef,
    message: Pick<ChatMessage, 'text' | 'attachments'>,
    messageId: string,
  ): Promise<void> {
    await tick();
    this.timeline.steps.push({
      what: 'send',
      to: customer.address,
      text: message.text,
      ...(message.attachments ? { attachments: message.attachments } : {}),
      messageId,
    });
  }

  async handBack(handback: Handback, messageId: string): Promise<{ address?: string }> {
    await tick();
    this.timeline.steps.push({ what: 'handBack', handback, messageId });
    return {};
  }
}

class RecordingLogger implements Logger {
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

const ALL_EVENTS: DomainEventName[] = [
  'handoff.started',
  'customer.message',
  'agent.message',
  'ticket.assigned',
  'ticket.closed',
  'redirect.sent',
  'delivery.failed',
];

function setup(options: Partial<HandoffOptions> = {}) {
  const timeline = new Timeline();
  const helpdesk = new FakeHelpdesk(timeline);
  const channel = new FakeChannel(timeline);
  const store = new KeyvConversationStore(new Keyv());
  const events = new DomainEvents((event, err) => {
    throw new Error(`listener of ${event} failed: ${String(err)}`);
  });
  const emitted: { name: DomainEventName; payload: DomainEventMap[DomainEventName] }[] = [];
  for (const name of ALL_EVENTS) events.on(name, (payload) => void emitted.push({ name, payload }));
  const logger = new RecordingLogger();
  const service = new HandoffService(store, helpdesk, channel, events, logger, {
    tags: ['blip_bridge'],
    closingText: 'Atendimento encerrado. Obrigado!',
    dedupeTtlMs: 60_000,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    now: () => NOW,
    ...options,
  });
  return { service, helpdesk, channel, store, timeline, emitted, logger };
}

function customer(n = 1): CustomerRef {
  const key = `${n}c1e5f7a-3b2d-4e9f-a6c0-5d7b2e9f1a43@tunnel.msging.net`;
  return {
    key,
    // Replies go to the exact FROM, which may differ from the key (instance suffix).
    address: `${key}/router-node-7d4f9`,
    originator: `551198765432${n}@wa.gw.msging.net`,
    owner: 'acmerouter@msging.net',
  };
}

function message(id: string, text = `mensagem ${id} ${SECRET_TEXT}`): ChatMessage {
  return { id, text, contentType: 'text/plain', at: NOW.toISOString() };
}

function agentMessage(
  ticket: TicketRef,
  commentId: string,
  text = `resposta ${commentId} ${SECRET_TEXT}`,
): AgentMessageEvent {
  return {
    kind: 'agent.message',
    ticket: { vendor: ticket.vendor, id: ticket.id },
    eventId: `comment:${commentId}`,
    agent: { id: 'agent-1', name: 'Ana Souza' },
    message: { id: commentId, text, at: NOW.toISOString() },
  };
}

function closed(ticket: TicketRef, eventId = 'status:1'): TicketClosedEvent {
  return {
    kind: 'ticket.closed',
    ticket: { vendor: ticket.vendor, id: ticket.id },
    eventId,
    reason: 'solved',
  };
}

async function openedTicket(ctx: ReturnType<typeof setup>, who = customer()): Promise<TicketRef> {
  await ctx.service.handleCustomerMessage(who, message('m1'));
  const conversation = await ctx.store.get(who.key);
  if (!conversation?.ticket) throw new Error('no ticket opened');
  return conversation.ticket;
}

describe('HandoffService: customer messages', () => {
  it('does not post the opening message again when a crash kept it from being marked done', async () => {
    const ctx = setup();
    const who = customer();
    const mark = ctx.store.markProcessed.bind(ctx.store);
    // The process "dies" right after the ticket is saved as open, before the message is marked done.
    ctx.store.markProcessed = async () => {
      throw new Error('crash');
    };
    await expect(ctx.service.handleCustomerMessage(who, message('m1'))).rejects.toThrow('crash');
    ctx.store.markProcessed = mark;
    // The work queue repeats the work: the ticket is open, and m1 is what it was opened with.
    await ctx.service.handleCustomerMessage(who, message('m1'));
    expect(ctx.timeline.of('openTicket')).toHaveLength(1);
    expect(ctx.timeline.of('append')).toHaveLength(0);
  });

  it('does not post a coalesced batch again when a crash cut the marking of its messages short', async () => {
    const ctx = setup();
    const who = customer();
    await ctx.service.handleCustomerMessage(who, message('m1'));
    const batch = [message('m2'), message('m3'), message('m4')];
    const mark = ctx.store.markProcessed.bind(ctx.store);
    let marks = 0;
    // Redis goes away after the comment landed and the first message was marked.
    ctx.store.markProcessed = async (key, ttl) => {
      if (++marks > 1) throw new Error('redis down');
      return mark(key, ttl);
    };
    await expect(ctx.service.handleCustomerMessages(who, batch)).rejects.toThrow('redis down');
    ctx.store.markProcessed = mark;
    // The queue hands the same messages out again, no longer behind the limiter (no coalescing): the recorded
    // batch is recognised, found already posted, and done as a whole.
    const again = { redelivered: true, coalesce: false };
    expect(await ctx.service.handleCustomerMessages(who, batch, again)).toBe(3);
    expect(ctx.timeline.of('append').map((a) => a.message.id)).toEqual(['m2..m4']);
    // Without a recorded batch, no coalescing means the first message alone.
    expect(await ctx.service.handleCustomerMessages(who, [message('m5'), message('m6')], again)).toBe(1);
    expect(ctx.timeline.of('append').map((a) => a.message.id)).toEqual(['m2..m4', 'm5']);
  });

  it('retries a batch whose comment failed under the same key, telling the adapter it may have landed', async () => {
    const ctx = setup();
    const who = customer();
    await ctx.service.handleCustomerMessage(who, message('m1'));
    const batch = [message('m2'), message('m3')];
    ctx.helpdesk.failures.append = [new PermanentError('boom', 'X')];
    await expect(ctx.service.handleCustomerMessages(who, batch)).rejects.toThrow('boom');
    expect(await ctx.service.handleCustomerMessages(who, batch, { redelivered: true })).toBe(2);
    const appends = ctx.timeline.of('append');
    expect(appends.map((a) => [a.key, a.again])).toEqual([
      [appends[0]!.key, false],
      [appends[0]!.key, true],
    ]);
  });

  it('tells the adapter an in-call retry may repeat a landed write, except after a 429 or a lost state store', async () => {
    const ctx = setup();
    const who = customer();
    await ctx.service.handleCustomerMessage(who, message('m1'));
    ctx.helpdesk.failures.append = [
      new RetryableError('rate limited', 'FAKEDESK_RATE_LIMITED', 1),
      new RetryableError('timed out', 'FAKEDESK_UNREACHABLE'),
    ];
    await ctx.service.handleCustomerMessage(who, message('m2'));
    // The rate limiter's slot could not be taken (Redis away): the request never left.
    ctx.helpdesk.failures.append = [
      new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE'),
    ];
    await ctx.service.handleCustomerMessage(who, message('m3'));
    expect(ctx.timeline.of('append').map((a) => a.again)).toEqual([false, false, true, false, false]);
  });

  it('posts a message queued twice (a client re-send) once when both copies wait in one batch', async () => {
    const ctx = setup();
    const who = customer();
    await ctx.service.handleCustomerMessage(who, message('m1'));
    const batch = [message('m2'), message('m2'), message('m3')];
    expect(await ctx.service.handleCustomerMessages(who, batch)).toBe(3);
    const appends = ctx.timeline.of('append');
    expect(appends).toHaveLength(1);
    expect(appends[0]!.message.text.split('\n\n')).toEqual([message('m2').text, message('m3').text]);
  });

  it('opens a ticket on the first message with idempotency key open:<sessionId>, then appends', async () => {
    const ctx = setup();
    const who = customer();
    await ctx.service.handleCustomerMessage(who, message('m1'));

    const conversation = await ctx.store.get(who.key);
    expect(conversation).toMatchObject({
      status: 'open',
      vendor: VENDOR,
      customer: who,
      tags: ['blip_bridge'],
    });
    expect(conversation?.first).toBeUndefined();
    const sessionId = conversation!.sessionId;
    const [open] = ctx.timeline.of('openTicket');
    expect(ctx.timeline.of('openTicket')).toHaveLength(1);
    expect(open?.key).toBe(`open:${sessionId}`);
    expect(open?.req).toMatchObject({ customer: who, sessionId, tags: ['blip_bridge'], first: { id: 'm1' } });
    expect(ctx.timeline.of('append')).toHaveLength(0);
    expect(await ctx.store.customerKeyForTicket(VENDOR, conversation!.ticket!.id)).toBe(who.key);

    await ctx.service.handleCustomerMessage(who, message('m2'));
    expect(ctx.timeline.of('openTicket')).toHaveLength(1);
    const appends = ctx.timeline.of('append');
    expect(appends).toHaveLength(1);
    expect(appends[0]).toMatchObject({
      ticket: conversation!.ticket,
      message: { id: 'm2' },
      key: `msg:${sessionId}:m2`,
    });
  });

  it('opens exactly one ticket when two first messages of one customer arrive together', async () => {
    const ctx = setup();
    const who = customer();
    await Promise.all([
      ctx.service.handleCustomerMessage(who, message('m1')),
      ctx.service.handleCustomerMessage(who, message('m2')),
    ]);
    expect(ctx.timeline.of('openTicket')).toHaveLength(1);
    expect(ctx.timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);
  });

  it('opens one ticket per customer', async () => {
    const ctx = setup();
    await Promise.all([
      ctx.service.handleCustomerMessage(customer(1), message('a1')),
      ctx.service.handleCustomerMessage(customer(2), message('b1')),
    ]);
    const opens = ctx.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(new Set(opens.map((o) => o.key)).size).toBe(2);
    const t1 = (await ctx.store.get(customer(1).key))?.ticket;
    const t2 = (await ctx.store.get(customer(2).key))?.ticket;
    expect(t1?.id).toBeDefined();
    expect(t2?.id).toBeDefined();
    expect(t1?.id).not.toBe(t2?.id);
  });

  it('forwards a redelivered customer message once', async () => {
    const ctx = setup();
    const who = customer();
    await ctx.service.handleCustomerMessage(who, message('m1'));
    await ctx.service.handleCustomerMessage(who, message('m1'));
    await ctx.service.handleCustomerMessage(who, message('m2'));
    await Promise.all([
      ctx.service.handleCustomerMessage(who, message('m2')),
      ctx.service.handleCustomerMessage(who, message('m2')),
    ]);
    expect(ctx.timeline.of('openTicket')).toHaveLength(1);
    expect(ctx.timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);
  });

  it('retries a RetryableError with the same idempotency key, then succeeds', async () => {
    const ctx = setup();
    ctx.helpdesk.failures.openTicket = [
      new RetryableError('503', 'FAKEDESK_HTTP_503'),
      new RetryableError('reset', 'X'),
    ];
    await ctx.service.handleCustomerMessage(customer(), message('m1'));
    const opens = ctx.timeline.of('openTicket');
    expect(opens).toHaveLength(3);
    expect(new Set(opens.map((o) => o.key)).size).toBe(1);
    expect((await ctx.store.get(customer().key))?.status).toBe('open');
  });

  it('gives up after the retry policy is used up', async () => {
    const ctx = setup();
    ctx.helpdesk.failures.append = [1, 2, 3, 4].map((i) => new RetryableError(`down ${i}`, 'DOWN'));
    await openedTicket(ctx);
    await expect(ctx.service.handleCustomerMessage(customer(), message('m2'))).rejects.toThrow('down 3');
    expect(ctx.timeline.of('append')).toHaveLength(3);
  });

  it('does not retry a PermanentError and does not mark the message processed', async () => {
    const ctx = setup();
    await openedTicket(ctx);
    const permanent = new PermanentError('422', 'FAKEDESK_HTTP_422');
    ctx.helpdesk.failures.append = [permanent];
    await expect(ctx.service.handleCustomerMessage(customer(), message('m2'))).rejects.toBe(permanent);
    expect(ctx.timeline.of('append')).toHaveLength(1);
    // A later redelivery is tried again (nothing was delivered).
    await ctx.service.handleCustomerMessage(customer(), message('m2'));
    expect(ctx.timeline.of('append')).toHaveLength(2);
  });

  it('resumes a failed open with the same session id and first message, then appends the new message', async () => {
    const ctx = setup();
    const who = customer();
    // The helpdesk stays down for every attempt of the retry policy (3): the open is left for a later resume.
    ctx.helpdesk.failures.openTicket = [1, 2, 3].map(() => new RetryableError('boom', 'X'));
    await expect(ctx.service.handleCustomerMessage(who, message('m1'))).rejects.toThrow('boom');
    expect((await ctx.store.get(who.key))?.status).toBe('opening');

    await ctx.service.handleCustomerMessage(who, message('m2'));
    const opens = ctx.timeline.of('openTicket');
    expect(opens).toHaveLength(4); // three failed attempts, then the resume
    expect(opens[3]?.key).toBe(opens[0]?.key);
    expect(opens[3]?.req.first.id).toBe('m1');
    expect(ctx.timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);
  });
});

describe('HandoffService: helpdesk events', () => {
  it('sends an agent message TO the stored customer address', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const outcome = await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1', 'Olá Maria!'));
    expect(outcome).toBe('delivered');
    const sends = ctx.timeline.of('send');
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ to: customer().address, text: 'Olá Maria!' });
    expect((await ctx.store.get(customer().key))?.agent).toEqual({ id: 'agent-1', name: 'Ana Souza' });
  });

  it('passes attachments through to the customer channel', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const event = agentMessage(ticket, 'c1', '');
    event.message.attachments = [{ url: 'https://desk/a.pdf', mimeType: 'application/pdf', name: 'a.pdf' }];
    await ctx.service.handleHelpdeskEvent(event);
    expect(ctx.timeline.of('send')[0]?.attachments).toEqual(event.message.attachments);
  });

  it('delivers a redelivered event once', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const event = agentMessage(ticket, 'c1');
    expect(await ctx.service.handleHelpdeskEvent(event)).toBe('delivered');
    expect(await ctx.service.handleHelpdeskEvent({ ...event })).toBe('duplicate');
    expect(await ctx.service.handleHelpdeskEvents([event, event])).toEqual(['duplicate', 'duplicate']);
    expect(ctx.timeline.of('send')).toHaveLength(1);
  });

  it('delivers two concurrent copies of one event once', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const event = agentMessage(ticket, 'c1');
    const outcomes = await Promise.all([
      ctx.service.handleHelpdeskEvent(event),
      ctx.service.handleHelpdeskEvent(event),
    ]);
    expect(outcomes.sort()).toEqual(['delivered', 'duplicate']);
    expect(ctx.timeline.of('send')).toHaveLength(1);
  });

  it("ignores an event for a ticket it doesn't track", async () => {
    const ctx = setup();
    await openedTicket(ctx);
    const outcome = await ctx.service.handleHelpdeskEvent(
      agentMessage({ vendor: VENDOR, id: '999999' }, 'c1'),
    );
    expect(outcome).toBe('unknown-ticket');
    expect(ctx.timeline.of('send')).toHaveLength(0);
    // Another vendor's ticket with the same id is not ours either.
    const ticket = (await ctx.store.get(customer().key))!.ticket!;
    expect(
      await ctx.service.handleHelpdeskEvent(agentMessage({ vendor: 'other', id: ticket.id }, 'c2')),
    ).toBe('unknown-ticket');
  });

  it('ignores an event for an old ticket of a customer who has a newer one', async () => {
    const ctx = setup();
    const old = await openedTicket(ctx);
    const conversation = (await ctx.store.get(customer().key))!;
    await ctx.store.save({ ...conversation, ticket: { vendor: VENDOR, id: 'newer' } });
    expect(await ctx.service.handleHelpdeskEvent(agentMessage(old, 'c1'))).toBe('stale-ticket');
    expect(ctx.timeline.of('send')).toHaveLength(0);
  });

  it('records the assigned agent', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const outcome = await ctx.service.handleHelpdeskEvent({
      kind: 'ticket.assigned',
      ticket,
      eventId: 'assigned:1',
      agent: { id: 'agent-9', name: 'Bruno' },
    });
    expect(outcome).toBe('assigned');
    expect((await ctx.store.get(customer().key))?.agent).toEqual({ id: 'agent-9', name: 'Bruno' });
  });

  it('retries a failed send to the customer', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    let calls = 0;
    const send = ctx.channel.send.bind(ctx.channel);
    ctx.channel.send = async (...args) => {
      if (++calls === 1) throw new RetryableError('BLiP not connected', 'BLIP_DISCONNECTED');
      return send(...args);
    };
    expect(await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1'))).toBe('delivered');
    expect(calls).toBe(2);
    expect(ctx.timeline.of('send')).toHaveLength(1);
  });
});

describe('HandoffService: closing', () => {
  it('delivers undelivered recent agent messages, then the closing text, then the hand-back, then clears the state', async () => {
    const ctx = setup();
    const who = customer();
    const ticket = await openedTicket(ctx, who);
    const sessionId = (await ctx.store.get(who.key))!.sessionId;
    await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1', 'primeira resposta'));
    ctx.helpdesk.recent = [
      agentMessage(ticket, 'c1', 'primeira resposta'),
      agentMessage(ticket, 'c2', 'última resposta'),
    ];

    expect(await ctx.service.handleHelpdeskEvent(closed(ticket))).toBe('closed');

    const toCustomer = ctx.timeline.steps.filter((s) => s.what === 'send' || s.what === 'handBack');
    expect(toCustomer.map((s) => (s.what === 'send' ? `send:${s.text}` : 'handBack'))).toEqual([
      'send:primeira resposta',
      'send:última resposta',
      'send:Atendimento encerrado. Obrigado!',
      'handBack',
    ]);
    for (const s of ctx.timeline.of('send')) expect(s.to).toBe(who.address);
    const [handBack] = ctx.timeline.of('handBack');
    expect(handBack?.handback).toMatchObject({
      closedBy: 'agent',
      reason: 'solved',
      closedAt: NOW.toISOString(),
      conversation: { sessionId, customer: who, ticket },
    });

    expect(await ctx.store.get(who.key)).toBeUndefined();
    expect(await ctx.store.customerKeyForTicket(VENDOR, ticket.id)).toBeUndefined();

    // The next message starts a new handoff.
    await ctx.service.handleCustomerMessage(who, message('m-after'));
    const opens = ctx.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(opens[1]?.key).not.toBe(opens[0]?.key);
    expect(opens[1]?.req.first.id).toBe('m-after');
    expect((await ctx.store.get(who.key))?.ticket?.id).not.toBe(ticket.id);
  });

  it('sends no closing text when it is empty, but still hands back', async () => {
    const ctx = setup({ closingText: '' });
    const ticket = await openedTicket(ctx);
    await ctx.service.handleHelpdeskEvent(closed(ticket));
    expect(ctx.timeline.of('send')).toHaveLength(0);
    expect(ctx.timeline.of('handBack')).toHaveLength(1);
  });

  it('derives LIME message ids from the session and event, so a retry re-sends the same ids', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const sessionId = (await ctx.store.get(customer().key))!.sessionId;
    await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1'));
    await ctx.service.handleHelpdeskEvent(closed(ticket));
    const [reply, closing] = ctx.timeline.of('send');
    expect(reply?.messageId).toBe(stableId(`agent:ev:${VENDOR}:comment:c1`));
    expect(closing?.messageId).toBe(stableId(`closing:${sessionId}`));
    expect(ctx.timeline.of('handBack')[0]?.messageId).toBe(stableId(`redirect:${sessionId}`));
  });

  it('hands back once when the close arrives twice (event subscription and trigger)', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    expect(
      await ctx.service.handleHelpdeskEvents([closed(ticket, 'status:abc'), closed(ticket, 'solved:1:x')]),
    ).toEqual(['closed', 'unknown-ticket']);
    expect(ctx.timeline.of('handBack')).toHaveLength(1);
  });

  it('keeps the state when the hand-back fails, so a redelivered close can finish it', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    const handBack = ctx.channel.handBack.bind(ctx.channel);
    ctx.channel.handBack = async () => {
      throw new PermanentError('router refused', 'LIME_FAILED');
    };
    await expect(ctx.service.handleHelpdeskEvent(closed(ticket))).rejects.toThrow('router refused');
    expect((await ctx.store.get(customer().key))?.ticket?.id).toBe(ticket.id);

    ctx.channel.handBack = handBack;
    expect(await ctx.service.handleHelpdeskEvent(closed(ticket))).toBe('closed');
    expect(ctx.timeline.of('handBack')).toHaveLength(1);
    // The closing text went out on both tries, with the same LIME id (the channel can drop the copy).
    const closings = ctx.timeline.of('send');
    expect(closings).toHaveLength(2);
    expect(closings[1]?.messageId).toBe(closings[0]?.messageId);
    expect(await ctx.store.get(customer().key)).toBeUndefined();
  });
});

describe('HandoffService: domain events', () => {
  it('emits the handoff lifecycle in order, message events carrying the text for the subscribers', async () => {
    const ctx = setup();
    const who = customer();
    const ticket = await openedTicket(ctx, who);
    await ctx.service.handleCustomerMessage(who, message('m2'));
    await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1'));
    ctx.helpdesk.recent = [agentMessage(ticket, 'c2')];
    await ctx.service.handleHelpdeskEvent(closed(ticket));

    expect(ctx.emitted.map((e) => e.name)).toEqual([
      'handoff.started',
      'customer.message',
      'customer.message',
      'agent.message',
      'agent.message',
      'ticket.closed',
      'redirect.sent',
    ]);
    const sessionId = ctx.timeline.of('openTicket')[0]!.req.sessionId;
    for (const { payload } of ctx.emitted) {
      expect(payload).toMatchObject({
        sessionId,
        customerKey: who.key,
        ticket: { id: ticket.id },
        at: NOW.toISOString(),
      });
    }
    expect(
      ctx.emitted
        .filter((e) => e.name === 'customer.message')
        .map((e) => (e.payload as { messageId: string }).messageId),
    ).toEqual(['m1', 'm2']);
    expect(
      ctx.emitted
        .filter((e) => e.name === 'agent.message')
        .map((e) => (e.payload as { messageId: string }).messageId),
    ).toEqual(['c1', 'c2']);
    expect(ctx.emitted.find((e) => e.name === 'ticket.closed')?.payload).toMatchObject({
      closedBy: 'agent',
      reason: 'solved',
    });

    expect(ctx.emitted.find((e) => e.name === 'ticket.closed')?.payload).toMatchObject({
      agentId: 'agent-1',
      agentName: 'Ana Souza',
    });
    expect(ctx.emitted.find((e) => e.name === 'handoff.started')?.payload).toMatchObject({
      customer: { key: who.key, originator: who.originator },
      vendor: 'fakedesk',
    });
    // Text travels only on message events (for analytics sinks and talk logs), never on lifecycle events.
    for (const e of ctx.emitted) {
      if (e.name === 'customer.message' || e.name === 'agent.message') {
        expect((e.payload as { text: string }).text).toContain(SECRET_TEXT);
      } else {
        expect(JSON.stringify(e.payload)).not.toContain(SECRET_TEXT);
      }
    }
  });

  it('writes no message text to the logs', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    await ctx.service.handleCustomerMessage(customer(), message('m2'));
    await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1'));
    await ctx.service.handleHelpdeskEvent(closed(ticket));
    expect(ctx.logger.lines.length).toBeGreaterThan(0);
    const logged = JSON.stringify(ctx.logger.lines);
    expect(logged).not.toContain(SECRET_TEXT);
    expect(logged).not.toContain('5511987654321'); // the phone number behind the tunnel
  });

  it('emits nothing for a duplicate or an unknown-ticket event', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1'));
    const before = ctx.emitted.length;
    await ctx.service.handleHelpdeskEvent(agentMessage(ticket, 'c1'));
    await ctx.service.handleHelpdeskEvent(agentMessage({ vendor: VENDOR, id: 'nope' }, 'c9'));
    expect(ctx.emitted).toHaveLength(before);
  });

  it('emits delivery.failed for a LIME failed notification', async () => {
    const ctx = setup();
    const ticket = await openedTicket(ctx);
    await ctx.service.handleDeliveryFailure(
      customer().key,
      'lime-msg-1',
      '86',
      'The gateway switch operation timed out',
    );
    const failed = ctx.emitted.find((e) => e.name === 'delivery.failed');
    expect(failed?.payload).toMatchObject({
      customerKey: customer().key,
      ticket: { id: ticket.id },
      direction: 'to-customer',
      messageId: 'lime-msg-1',
      code: '86',
    });
  });
});

describe('HandoffService: events racing the open', () => {
  it('delivers an agent event that names the session while the ticket is still being opened', async () => {
    const ctx = setup();
    const who = customer(7);
    // The helpdesk answers the open only after an instant auto-reply webhook has arrived.
    let releaseOpen!: () => void;
    const opened = new Promise<void>((resolve) => (releaseOpen = resolve));
    const realOpen = ctx.helpdesk.openTicket.bind(ctx.helpdesk);
    ctx.helpdesk.openTicket = async (req, key) => {
      const ticket = await realOpen(req, key);
      await opened;
      return ticket;
    };
    const first = ctx.service.handleCustomerMessage(who, message('m1'));
    await tick();
    await tick();
    const session = (await ctx.store.get(who.key))!.sessionId;
    const autoReply = {
      ...agentMessage({ vendor: VENDOR, id: '1001' }, 'c-auto', 'Recebemos sua mensagem'),
      sessionId: session,
    };
    const outcome = ctx.service.handleHelpdeskEvent(autoReply);
    releaseOpen();
    await first;
    expect(await outcome).toBe('delivered');
    expect(ctx.timeline.of('send').map((s) => s.text)).toEqual(['Recebemos sua mensagem']);
  });

  it('delivers an agent event without a session reference once the opens in flight have finished', async () => {
    const ctx = setup();
    const who = customer(9);
    let releaseOpen!: () => void;
    const opened = new Promise<void>((resolve) => (releaseOpen = resolve));
    const realOpen = ctx.helpdesk.openTicket.bind(ctx.helpdesk);
    ctx.helpdesk.openTicket = async (req, key) => {
      const ticket = await realOpen(req, key);
      await opened;
      return ticket;
    };
    const first = ctx.service.handleCustomerMessage(who, message('m1'));
    await tick();
    await tick();
    // The helpdesk already created ticket 1001 and an agent answered; the bridge has not recorded it yet.
    const outcome = ctx.service.handleHelpdeskEvent(
      agentMessage({ vendor: VENDOR, id: '1001' }, 'c-fast', 'Oi!'),
    );
    releaseOpen();
    await first;
    expect(await outcome).toBe('delivered');
    expect(ctx.timeline.of('send').map((s) => s.to)).toEqual([who.address]);
  });

  it('still ignores an event without a session for a ticket it does not know', async () => {
    const ctx = setup();
    expect(await ctx.service.handleHelpdeskEvent(agentMessage({ vendor: VENDOR, id: '4242' }, 'c1'))).toBe(
      'unknown-ticket',
    );
  });
});

describe('HandoffService: a ticket the helpdesk refuses to open', () => {
  it('forgets the failed handoff so the next message starts a fresh one', async () => {
    const ctx = setup();
    const who = customer(8);
    ctx.helpdesk.failures.openTicket = [
      new PermanentError('fakedesk: HTTP 422 RecordInvalid', 'FAKEDESK_HTTP_422'),
    ];
    await expect(ctx.service.handleCustomerMessage(who, message('bad'))).rejects.toThrow(PermanentError);
    expect(await ctx.store.get(who.key)).toBeUndefined();

    await ctx.service.handleCustomerMessage(who, message('m2'));
    const opens = ctx.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(opens[1]!.req.first.id).toBe('m2');
    expect(opens[1]!.key).not.toBe(opens[0]!.key);
  });
});
