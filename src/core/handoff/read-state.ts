import { errorCode, errorMessage } from '../errors';
import type { ChatMessage, Conversation } from '../model';
import { conversationLog, type Handoff } from './context';

/**
 * The customer's read state (`BRIDGE_READ_RECEIPTS`). With `agent`, the BLiP edge sends `received` once a message
 * is recorded, and the core sends `consumed` only once an agent has seen it: on a read event from a vendor that
 * reports reads (`agent.read`), else on the agent's first reply after the message. The messages the helpdesk has
 * and no agent saw yet are kept on the conversation (`unreadByAgent`), in the customer's lane, so the order of
 * "delivered to the helpdesk" and "the agent answered" is the lane's. With `queued` (or a channel that cannot send
 * read marks), nothing is kept: the edge says `consumed` as soon as a message is recorded, as blip-sdk does.
 */

/** At most this many unread ids are kept per handoff (a customer writing to nobody for hours); oldest dropped. */
export const UNREAD_KEPT = 200;

/** Whether the core tracks what agents have seen (the setting, and a channel that can say so). */
export function tracksReads(h: Handoff): boolean {
  return h.settings.readReceipts === 'agent' && typeof h.channel.markConsumed === 'function';
}

/**
 * The conversation's fields once `messages` reached the helpdesk: their ids join the unread ones. Spread into the
 * save the caller makes anyway (the open), or saved on its own after an append.
 */
export function deliveredToHelpdesk(
  h: Handoff,
  conversation: Conversation,
  messages: ChatMessage[],
): Pick<Conversation, 'unreadByAgent'> {
  if (!tracksReads(h)) return {};
  const at = h.now().toISOString();
  const known = new Set((conversation.unreadByAgent ?? []).map((u) => u.id));
  // Messages without a LIME id (`noid:`) get no notification.
  const added = messages
    .filter((m) => !m.id.startsWith('noid:') && !known.has(m.id))
    .map((m) => ({ id: m.id, at }));
  if (added.length === 0) return {};
  return { unreadByAgent: [...(conversation.unreadByAgent ?? []), ...added].slice(-UNREAD_KEPT) };
}

/**
 * An agent saw the customer's messages delivered up to `upTo` (all of them when absent): each is marked `consumed`
 * for the customer. Resolves with the conversation as it should be saved, or undefined when nothing changed. A mark
 * that cannot be sent (BLiP away) is logged and kept for the next time: a late read mark is better than none, and
 * never worth failing the agent's reply for.
 */
export async function agentSaw(
  h: Handoff,
  conversation: Conversation,
  upTo?: string,
): Promise<Conversation | undefined> {
  const unread = conversation.unreadByAgent ?? [];
  const markConsumed = h.channel.markConsumed;
  if (!tracksReads(h) || unread.length === 0 || !markConsumed) return undefined;
  const limit = upTo === undefined ? Infinity : Date.parse(upTo);
  const seen = unread.filter((u) => !(Date.parse(u.at) > limit));
  if (seen.length === 0) return undefined;
  try {
    await markConsumed.call(
      h.channel,
      conversation.customer,
      seen.map((u) => u.id),
    );
  } catch (err) {
    h.logger.warn('read marks for the customer not sent; they go with the next agent reply', {
      ...conversationLog(conversation),
      code: errorCode(err),
      error: errorMessage(err),
      messages: seen.length,
    });
    return undefined;
  }
  const rest = unread.filter((u) => !seen.includes(u));
  h.logger.debug('customer messages marked read by the agent', {
    ...conversationLog(conversation),
    messages: seen.length,
  });
  return { ...conversation, unreadByAgent: rest.length > 0 ? rest : undefined };
}

/**
 * A message the bridge itself answers (a satisfaction survey's answer): no agent will see it, the bridge has, so it
 * is marked `consumed` at once. Best effort: a mark that cannot be sent is logged, never a reason to fail the work.
 */
export async function bridgeRead(
  h: Handoff,
  conversation: Conversation,
  message: ChatMessage,
): Promise<void> {
  const markConsumed = h.channel.markConsumed;
  if (!tracksReads(h) || !markConsumed || message.id.startsWith('noid:')) return;
  try {
    await markConsumed.call(h.channel, conversation.customer, [message.id]);
  } catch (err) {
    h.logger.warn('read mark for the customer not sent', {
      ...conversationLog(conversation),
      code: errorCode(err),
      error: errorMessage(err),
    });
  }
}
