/**
 * Customers, messages and helpdesk events for the core's unit tests (test/helpers/core-harness.ts drives them
 * through the lanes).
 */
import type {
  AgentMessageEvent,
  ChatMessage,
  CustomerRef,
  TicketClosedEvent,
  TicketRef,
} from '../../src/core/model';
import type { CoreHarness } from './core-harness';

export const VENDOR = 'fakedesk';
export const NOW = new Date('2026-11-03T14:00:00.000Z');
/** Appears in every text the customer or agent writes; must never reach lifecycle events or logs. */
export const SECRET_TEXT = 'CPF 123.456.789-09';

export function customer(n = 1): CustomerRef {
  const key = `${n}c1e5f7a-3b2d-4e9f-a6c0-5d7b2e9f1a43@tunnel.msging.net`;
  return {
    key,
    // Replies go to the exact FROM, which may differ from the key (instance suffix).
    address: `${key}/router-node-7d4f9`,
    originator: `551198765432${n}@wa.gw.msging.net`,
    owner: 'acmerouter@msging.net',
  };
}

export function message(id: string, text = `mensagem ${id} ${SECRET_TEXT}`): ChatMessage {
  return { id, text, contentType: 'text/plain', at: NOW.toISOString() };
}

export function agentMessage(
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

export function closed(ticket: TicketRef, eventId = 'status:1'): TicketClosedEvent {
  return {
    kind: 'ticket.closed',
    ticket: { vendor: ticket.vendor, id: ticket.id },
    eventId,
    reason: 'solved',
  };
}

/** The customer writes `m1` (or `first`) and the lanes settle: the ticket it opened. */
export async function openedTicket(
  h: CoreHarness,
  who = customer(),
  first: ChatMessage = message('m1'),
): Promise<TicketRef> {
  await h.write(who, first);
  const conversation = await h.state.store.get(who.key);
  if (!conversation?.ticket) throw new Error('no ticket opened');
  return conversation.ticket;
}

/** The messages of the log lines with `message`, in order (a handler's outcome is visible in its log line). */
export function logged(h: CoreHarness, text: string): Array<Record<string, unknown>> {
  return h.logs.lines().filter((l) => l.message === text);
}
