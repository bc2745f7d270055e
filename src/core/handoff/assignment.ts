import { errorCode, errorMessage, PermanentError } from '../errors';
import { conversationEventBase } from '../events';
import type { Conversation, TicketAssignedEvent, TicketTransferredEvent } from '../model';
import { conversationLog, type Handoff } from './context';
import { textsOf } from './texts';

/**
 * An agent took the ticket: remembered, the "joined" text once per agent and handoff, and nobody waits for a
 * pick-up. An event that names the agent by id only is completed by the vendor (`nameOf`) when it can.
 */
export async function assigned(
  h: Handoff,
  conversation: Conversation,
  event: TicketAssignedEvent,
): Promise<void> {
  const agent = event.agent.name?.trim()
    ? event.agent
    : { ...event.agent, ...(await nameOf(h, conversation, 'agent', event.agent.id)) };
  const now = h.now().toISOString();
  const joined = conversation.joined ?? [];
  const first = !conversation.firstAssignedAt;
  const updated: Conversation = {
    ...conversation,
    agent,
    firstAssignedAt: conversation.firstAssignedAt ?? now,
    joined: joined.includes(agent.id) ? joined : [...joined, agent.id],
  };
  const lifecycle = h.lifecycle;
  const texts = textsOf(h, conversation);
  const assignedText = texts.assigned;
  if (assignedText && !joined.includes(agent.id)) {
    const name = agent.name?.trim() || texts.unnamedAgent || 'An agent';
    await h.sendAutomatic(
      conversation,
      'assigned',
      assignedText.replace(/\{agent\}/g, () => name),
      `assigned:${agent.id}`,
    );
  }
  await h.store.update(updated);
  await lifecycle?.pickedUp(conversation);
  h.events.emit('ticket.assigned', {
    ...conversationEventBase(conversation),
    ticket: event.ticket,
    agentId: agent.id,
    agentName: agent.name,
    ...(first ? { first: true } : {}),
    at: now,
  });
}

/**
 * The ticket moved to another team: the customer is told where (`{team}`, when the helpdesk names the team), the
 * conversation remembers the team and counts the transfer. A move to the team the ticket is already in is no
 * transfer (helpdesks report a re-save of the same group).
 */
export async function transferred(
  h: Handoff,
  conversation: Conversation,
  event: TicketTransferredEvent,
): Promise<'transferred' | 'same-team'> {
  if (event.team.id === conversation.teamId) return 'same-team';
  const name =
    event.team.name?.trim() || (await nameOf(h, conversation, 'team', event.team.id)).name || undefined;
  // The team the ticket opened with, as configured (a name, in any case, or the vendor's id).
  const current = conversation.team?.toLowerCase();
  if (current && [name, event.team.id].some((v) => v?.toLowerCase() === current)) return 'same-team';
  const transfers = (conversation.transfers ?? 0) + 1;
  const text = textsOf(h, conversation).transferred;
  if (text && name) {
    await h.sendAutomatic(
      conversation,
      'transferred',
      text.replace(/\{team\}/g, () => name),
      `transferred:${event.eventId}`,
    );
  }
  await h.store.update({ ...conversation, team: name ?? event.team.id, teamId: event.team.id, transfers });
  h.events.emit('ticket.transferred', {
    ...conversationEventBase(conversation),
    ticket: event.ticket,
    teamId: event.team.id,
    ...(name ? { teamName: name } : {}),
    ...(conversation.team ? { previousTeam: conversation.team } : {}),
    transfers,
    at: h.now().toISOString(),
  });
  return 'transferred';
}

/**
 * A name the event left out, asked of the vendor; nothing when it cannot say (the texts have a fallback). A refusal
 * (the API user may not read users or groups) is logged and the handoff goes on without the name; a passing failure
 * (timeout, 5xx, 429) fails the event, and the failure policy tries it again.
 */
async function nameOf(
  h: Handoff,
  conversation: Conversation,
  what: 'agent' | 'team',
  id: string,
): Promise<{ name?: string }> {
  const vendor = h.vendorOf(conversation);
  const log = conversationLog(conversation);
  try {
    const name = await h.step(`name the ${what}`, log, () => vendor.nameOf(what, id));
    return name?.trim() ? { name: name.trim() } : {};
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
    h.logger.warn(`the helpdesk would not name the ${what}; going on without the name`, {
      ...log,
      code: errorCode(err),
      error: errorMessage(err),
    });
    return {};
  }
}
