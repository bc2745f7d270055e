import { attachmentLinks, conversationEventBase } from '../events';
import type { ChatMessage, Conversation, TicketRef } from '../model';
import { conversationLog, type Handoff } from './context';
import type { FileFailures } from './files';
import { deliveredToHelpdesk } from './read-state';

/**
 * Appends one or more customer messages to the conversation's ticket as ONE comment, in order, authored by the
 * customer. Files are uploaded first, and the messages with their upload references recorded (`prepared`) before
 * the call, so a retry of the comment (the lane's, after a failure or a crash) reuses them instead of uploading
 * again. A batch of several is recorded (`pendingBatch`) likewise, so a retry sends the same comment under the same
 * idempotency key. `redelivered`: an earlier attempt may have posted it (the vendor is asked first).
 */
export async function appendMessages(
  h: Handoff,
  conversation: Conversation,
  messages: ChatMessage[],
  redelivered: boolean,
  files: FileFailures,
): Promise<void> {
  const ticket = conversation.ticket as TicketRef;
  const vendor = h.vendorOf(ticket);
  const log = conversationLog(conversation);
  const earlier = new Map((conversation.prepared ?? []).map((m) => [m.id, m]));
  const prepared: ChatMessage[] = [];
  let uploaded = false;
  for (const message of messages) {
    const reused = earlier.get(message.id);
    const ready = reused ?? (await h.files.attachFiles(message, log, vendor, ticket, files));
    if (!reused && ready !== message) uploaded = true;
    prepared.push(ready);
  }
  const comment = mergeMessages(prepared);
  let saved = conversation;
  if (messages.length > 1 || uploaded) {
    saved = {
      ...conversation,
      ...(messages.length > 1 ? { pendingBatch: messages.map((m) => m.id) } : {}),
      ...(uploaded ? { prepared: prepared.filter((m, i) => m !== messages[i]) } : {}),
    };
    await h.store.update(saved);
  }
  await h.step('appendCustomerMessage', log, () =>
    vendor.appendCustomerMessage(ticket, comment, `msg:${conversation.sessionId}:${comment.id}`, {
      redelivered,
    }),
  );
  // BRIDGE_READ_RECEIPTS=agent: the helpdesk has them now; `consumed` once an agent has seen them.
  const unread = deliveredToHelpdesk(h, saved, messages);
  if (unread.unreadByAgent) await h.store.update({ ...saved, ...unread });
  // `pendingBatch` stays after the append: it only matters while its first message is at the head of the lane
  // (a retry), and until the messages are marked processed a retry must send the same batch under the same key.
  if (messages.length > 1) {
    h.logger.debug('customer messages coalesced into one comment', { ...log, messages: messages.length });
  }
  h.logger.debug('customer message appended', { ...log, messageId: comment.id });
  const at = h.now().toISOString();
  for (const message of prepared) emitCustomerMessage(h, conversation, ticket, message, at);
}

export function emitCustomerMessage(
  h: Handoff,
  conversation: Conversation,
  ticket: TicketRef,
  message: ChatMessage,
  at: string,
): void {
  h.events.emit('customer.message', {
    ...conversationEventBase(conversation),
    ticket,
    messageId: message.id,
    contentType: message.contentType,
    text: message.text,
    attachments: attachmentLinks(message.attachments),
    receivedAt: message.at,
    at,
  });
}

/** Several customer messages as one: texts in order, one per paragraph, and every attachment. */
export function mergeMessages(messages: ChatMessage[]): ChatMessage {
  if (messages.length === 1) return messages[0]!;
  const first = messages[0]!;
  const last = messages[messages.length - 1]!;
  const attachments = messages.flatMap((m) => m.attachments ?? []);
  return {
    id: `${first.id}..${last.id}`,
    text: messages
      .map((m) => m.text)
      .filter((t) => t.trim() !== '')
      .join('\n\n'),
    ...(attachments.length ? { attachments } : {}),
    contentType: first.contentType,
    at: first.at,
  };
}
