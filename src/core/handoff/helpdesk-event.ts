import { logTag } from '../ids';
import type { AgentMessageEvent, Conversation, HelpdeskEvent } from '../model';
import { ticketLane, type WorkItem } from '../work/queue';
import type { WorkRun } from '../work/runner';
import { agentMessageId, deliverAgentMessage } from './agent-message';
import { agentTyping } from './agent-typing';
import { assigned, transferred } from './assignment';
import { eventDedupeKey, type Handoff } from './context';
import { handBack } from './hand-back';
import { sentToCustomer } from './live-signals';
import { noAgent, queued } from './queue-state';
import { agentSaw } from './read-state';

type EventItem = Extract<WorkItem, { kind: 'helpdesk-event' }>;

/** What became of one helpdesk event (logs, tests). */
export type EventOutcome =
  | 'delivered'
  | 'assigned'
  | 'transferred'
  | 'same-team'
  | 'closed'
  | 'queued'
  | 'no-agent'
  | 'typing'
  | 'read'
  | 'duplicate'
  | 'unknown-ticket'
  | 'stale-ticket'
  | 'placed';

/**
 * A helpdesk event at the head of its lane. In a customer's lane: the one dedupe check and the conversation, read
 * together, then the event's own step (an agent's reply, an assignment, the close). In a ticket's lane (the ticket
 * was not indexed when the event came in): the event is placed in its customer's lane once the customer is known.
 */
export async function helpdeskEvent(h: Handoff, run: WorkRun): Promise<EventOutcome> {
  const { event } = run.head.item as EventItem;
  if (run.lane === ticketLane(event.ticket.vendor, event.ticket.id)) return place(h, event, run.head.item);
  const customerKey = run.lane;
  const meta = {
    vendor: event.ticket.vendor,
    ticket: event.ticket.id,
    eventId: event.eventId,
    kind: event.kind,
    customer: logTag(customerKey),
  };
  const dedupeKey = eventDedupeKey(event);
  // Typing repeats (and is never marked done): no dedupe read for it.
  const typing = event.kind === 'agent.typing';
  const [done, conversation] = await Promise.all([
    typing ? false : h.isProcessed(dedupeKey),
    h.store.get(customerKey),
  ]);
  if (done) {
    h.logger.debug('duplicate helpdesk event ignored', meta);
    return 'duplicate';
  }
  const ticket = conversation?.ticket;
  if (!conversation || ticket?.id !== event.ticket.id || ticket.vendor !== event.ticket.vendor) {
    // A second close of a ticket already handed back is routine (vendors report a solve, then a close); anything
    // else for a ticket no longer open is worth a warning.
    const log = event.kind === 'ticket.closed' || typing ? h.logger.debug : h.logger.warn;
    log.call(h.logger, 'helpdesk event for a ticket that is no longer open; ignored', {
      ...meta,
      code: 'STALE_TICKET',
    });
    return 'stale-ticket';
  }
  if (conversation.status === 'survey') {
    // The ticket is closed and the customer is rating it: a second close (solved, then closed) or a late event
    // changes nothing the customer should see now.
    h.logger.debug('helpdesk event during the satisfaction survey ignored', meta);
    return 'stale-ticket';
  }
  const outcome = await handle(h, conversation, event, run);
  if (!typing) await h.markProcessed(dedupeKey);
  return outcome;
}

/** The event's own step, by kind. */
async function handle(
  h: Handoff,
  conversation: Conversation,
  event: HelpdeskEvent,
  run: WorkRun,
): Promise<EventOutcome> {
  switch (event.kind) {
    case 'agent.message':
      await agentMessage(h, conversation, event, run.head.attempts === 0 && !run.lastAttempt);
      return 'delivered';
    case 'ticket.assigned':
      await assigned(h, conversation, event);
      return 'assigned';
    case 'ticket.transferred':
      return transferred(h, conversation, event);
    case 'ticket.closed': {
      // The agent closed it: what the customer wrote was seen (BRIDGE_READ_RECEIPTS=agent).
      const read = (await agentSaw(h, conversation)) ?? conversation;
      await handBack(h, { ...read, agent: event.agent ?? conversation.agent }, 'agent', event.reason);
      return 'closed';
    }
    case 'ticket.queued':
      await queued(h, conversation, event);
      return 'queued';
    case 'agent.unavailable':
      await noAgent(h, conversation, event);
      return 'no-agent';
    case 'agent.typing':
      await agentTyping(h, conversation, event, run);
      return 'typing';
    case 'agent.read': {
      const read = await agentSaw(h, conversation, event.upTo);
      if (read) await h.store.update(read);
      return 'read';
    }
  }
}

/**
 * An event for a ticket no index knew at intake (an agent faster than the open's bookkeeping, or a ticket the
 * bridge does not track at all): once its customer is known it moves to the customer's lane, behind what is queued
 * there, so it never runs beside that lane's work. A crash between the two steps queues it twice; the event's dedupe
 * mark makes the second a no-op.
 */
async function place(h: Handoff, event: HelpdeskEvent, item: WorkItem): Promise<EventOutcome> {
  const customerKey = await h.index.lookupAfterOpens(event);
  const meta = {
    vendor: event.ticket.vendor,
    ticket: event.ticket.id,
    eventId: event.eventId,
    kind: event.kind,
  };
  if (customerKey) {
    await h.deps.submit(customerKey, item);
    return 'placed';
  }
  // A redelivery for a handoff that has ended is common and harmless; a ticket never tracked is worth a warning.
  if (await h.isProcessed(eventDedupeKey(event))) {
    h.logger.debug('duplicate helpdesk event ignored', meta);
    return 'duplicate';
  }
  h.logger.warn('helpdesk event for a ticket the bridge does not track; ignored', {
    ...meta,
    code: 'UNKNOWN_TICKET',
  });
  return 'unknown-ticket';
}

async function agentMessage(
  h: Handoff,
  conversation: Conversation,
  event: AgentMessageEvent,
  retryFiles: boolean,
): Promise<void> {
  await deliverAgentMessage(h, conversation, event, retryFiles ? 'retry' : 'settle');
  // The agent answered: what the customer wrote before is read (BRIDGE_READ_RECEIPTS=agent).
  const read = await agentSaw(h, conversation);
  // A vendor with a "seen by the customer" marker: the LIME id, so the customer's `consumed` names this message.
  const sent = sentToCustomer(h, conversation, event, agentMessageId(event));
  const agent = event.agent && event.agent.id !== conversation.agent?.id ? event.agent : undefined;
  if (agent || !conversation.firstAgentReplyAt || read || sent.sentToCustomer) {
    await h.store.update({
      ...(read ?? conversation),
      ...sent,
      ...(agent ? { agent } : {}),
      firstAgentReplyAt: conversation.firstAgentReplyAt ?? h.now().toISOString(),
    });
  }
  await h.lifecycle?.agentAnswered(conversation, h.now());
}
