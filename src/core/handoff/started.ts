import { conversationEventBase } from '../events';
import type { ChatMessage, Conversation, TicketRef } from '../model';
import type { WorkRun } from '../work/runner';
import { appendMessages, emitCustomerMessage } from './append';
import { customerDedupeKey, type Handoff } from './context';
import type { FileFailures } from './files';

/** The ticket (re)opened: `handoff.started`, and the first message as the customer's. */
export function emitStarted(
  h: Handoff,
  opened: Conversation,
  ticket: TicketRef,
  first: ChatMessage,
  reopened: boolean,
): void {
  const at = h.now().toISOString();
  h.events.emit('handoff.started', {
    ...conversationEventBase(opened),
    ticket,
    customer: opened.customer,
    vendor: opened.vendor,
    openedAt: opened.openedAt,
    tags: opened.tags,
    ...(opened.team ? { team: opened.team } : {}),
    ...(reopened ? { reopened: true } : {}),
    ...(opened.locale ? { locale: opened.locale } : {}),
    at,
  });
  emitCustomerMessage(h, opened, ticket, first, at);
}

/**
 * When the (re)open resumed an earlier first message, the message being handled now follows it as a comment. The
 * resumed one is delivered now, even if its own work item gave up (dead letter): a replay must not post it twice.
 */
export async function appendAfterResumed(
  h: Handoff,
  opened: Conversation,
  first: ChatMessage,
  message: ChatMessage,
  run: WorkRun,
  files: FileFailures,
): Promise<void> {
  if (first.id === message.id) return;
  await h.markProcessed(customerDedupeKey(opened.customer, first));
  await appendMessages(h, opened, [message], run.redelivered, files);
}
