import { logTag, stableId } from '../ids';
import type { ChatMessage, Conversation, CustomerRef } from '../model';
import type { Handoff } from './context';
import { textsOf } from './texts';

/**
 * The waiting text ("you are in the queue") of a handoff, once: before the first helpdesk call, so neither a slow
 * helpdesk nor its rate limit delays it, and skipped by every later attempt (`conversation.waitingSent`, saved with
 * the `opening` conversation before that call). A new handoff is saved before the send, so a crash between the send
 * and the flag's save sends it again under the same LIME id: the one case where a customer can read it twice.
 */
export async function sendWaitingText(h: Handoff, conversation: Conversation): Promise<void> {
  const text = textsOf(h, conversation).waiting;
  if (!text || !waitingTextDue(h, conversation)) return;
  await h.sendAutomatic(conversation, 'waiting', text);
  conversation.waitingSent = true;
}

/** The handoff's waiting text is configured and has not gone out yet. */
export function waitingTextDue(h: Handoff, conversation: Conversation): boolean {
  return !!textsOf(h, conversation).waiting && !conversation.waitingSent;
}

/**
 * A new attendance outside the attendance hours: the customer is told, then it opens anyway or the customer is
 * handed back (`out_of_hours`) without a ticket. Returns false when it was handed back.
 */
export async function admitted(
  h: Handoff,
  customer: CustomerRef,
  message: ChatMessage,
  locale: string | undefined,
): Promise<boolean> {
  const lifecycle = h.lifecycle;
  if (!lifecycle) return true;
  const gate = lifecycle.admits(h.now());
  if (gate.open) return true;
  const vendor = h.deps.routing.choose(customer, message, h.now()).vendor;
  const transient: Conversation = {
    sessionId: stableId(`out_of_hours:${customer.key}:${message.id}`),
    customer,
    vendor,
    status: 'opening',
    openedAt: h.now().toISOString(),
    tags: h.settings.tags,
    ...(locale ? { locale } : {}),
  };
  const text = textsOf(h, transient).outOfHours;
  if (text) await h.sendAutomatic(transient, 'out_of_hours', text);
  const log = { customer: logTag(customer.key), vendor };
  if (!gate.redirect) {
    h.logger.info('attendance opened outside attendance hours', log);
    return true;
  }
  const closedAt = h.now().toISOString();
  const { address } = await h.step('send redirect', log, () =>
    h.channel.handBack(
      { conversation: transient, closedBy: 'out_of_hours', closedAt, reason: 'outside attendance hours' },
      stableId(`redirect:${transient.sessionId}`),
    ),
  );
  h.logger.info('outside attendance hours: customer handed back to the bot', {
    ...log,
    redirectTo: address ?? '(router default)',
  });
  return false;
}
