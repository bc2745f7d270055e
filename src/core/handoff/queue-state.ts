import type { Conversation, AgentUnavailableEvent, TicketQueuedEvent } from '../model';
import { sendWaitingText, waitingTextDue } from './automatic-texts';
import { conversationLog, type Handoff } from './context';
import { textsOf } from './texts';
import { noAgentPath } from './timer';

/**
 * The helpdesk put the ticket in its queue: with a position, the queue-position text when the position changed (the
 * last one told is kept on the conversation; the LIME id is the session's and the position's, so a retry is the same
 * message); without one, the waiting text if it has not gone out yet.
 */
export async function queued(
  h: Handoff,
  conversation: Conversation,
  event: TicketQueuedEvent,
): Promise<void> {
  const template = textsOf(h, conversation).queuePosition;
  if (event.position !== undefined && template) {
    if (conversation.queuePosition === event.position) return;
    const text = template.replace(/\{position\}/g, () => String(event.position));
    await h.sendAutomatic(conversation, 'queue_position', text, `queue_position:${event.position}`);
    await h.store.save({ ...conversation, queuePosition: event.position });
    return;
  }
  if (!waitingTextDue(h, conversation)) return;
  await sendWaitingText(h, conversation);
  await h.store.save(conversation);
}

/**
 * The helpdesk says no agent can take the ticket: the no-agent timer's path (`BRIDGE_NO_AGENT_ACTION`), unless an
 * agent already took it or answered.
 */
export async function noAgent(
  h: Handoff,
  conversation: Conversation,
  event: AgentUnavailableEvent,
): Promise<void> {
  if (conversation.agent || conversation.firstAgentReplyAt) return;
  const options = h.lifecycle?.options;
  const action = options?.noAgentAction ?? options?.noAgent?.action ?? 'message';
  await noAgentPath(h, conversation, action, { ...conversationLog(conversation), eventId: event.eventId });
}
