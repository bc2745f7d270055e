import { PermanentError } from '../errors';
import { logTag } from '../ids';
import type { ChatMessage, Conversation, TicketRef } from '../model';
import type { VendorGateway } from '../vendor-gateway';
import type { WorkRun } from '../work/runner';
import type { Handoff } from './context';
import type { FileFailures } from './files';
import { appendAfterResumed, emitStarted } from './started';
import { deliveredToHelpdesk } from './read-state';

/**
 * Reopen policy (`BRIDGE_REOPEN_WINDOW_MINUTES`): the customer's ticket closed less than the window ago, when its
 * helpdesk can reopen it. The ticket stays with the vendor that had it, whatever the routing would choose now.
 * Set on the `opening` conversation (`reopening`), which the caller saves before the reopen call.
 */
export async function reopenTarget(
  h: Handoff,
  conversation: Conversation,
  routed: VendorGateway,
): Promise<TicketRef | undefined> {
  const windowMs = h.settings.reopenWindowMs ?? 0;
  // `details`: an earlier attempt already took the new-ticket path.
  if (windowMs <= 0 || conversation.details) return undefined;
  if (conversation.reopening) return conversation.reopening;
  if (!routed.reopens && !h.vendors.all().some((v) => v.reopens)) return undefined;
  const last = await h.store.lastClosed(conversation.customer.key);
  if (!last || h.now().getTime() - Date.parse(last.closedAt) > windowMs) return undefined;
  if (!h.vendors.has(last.ticket.vendor) || !h.vendors.get(last.ticket.vendor).reopens) return undefined;
  Object.assign(conversation, {
    reopening: last.ticket,
    tags: last.tags,
    ...(last.team ? { team: last.team } : {}),
  });
  return last.ticket;
}

/**
 * Reopens `ticket` with the customer's message (a new session on the old ticket). Resolves undefined when the
 * vendor refused (PermanentError: a Zendesk ticket already `closed`, a ServiceNow record past resolved): the caller
 * then opens a new ticket with the same message. A passing failure keeps the `opening` conversation with its
 * `reopening` ticket, so the retry reopens again.
 */
export async function reopen(
  h: Handoff,
  conversation: Conversation,
  ticket: TicketRef,
  message: ChatMessage,
  run: WorkRun,
  unsaved: boolean,
  files: FileFailures,
): Promise<Conversation | undefined> {
  const key = conversation.customer.key;
  const vendor = h.vendorOf(ticket);
  const log = {
    customer: logTag(key),
    vendor: vendor.name,
    session: conversation.sessionId,
    ticket: ticket.id,
  };
  if (unsaved) await h.store.save(conversation);
  const given = conversation.first ?? message;
  const first = await h.files.attachFiles(given, log, vendor, ticket, files);
  // With the upload references (strings, never bytes) before the call: a retry sends the same request instead of
  // uploading the files again. (A refused reopen falls back to the message as given: the new ticket needs them.)
  if (first !== given) await h.store.save({ ...conversation, first });
  try {
    await h.step('reopenTicket', log, () =>
      vendor.reopenTicket(ticket, first, `reopen:${conversation.sessionId}`, {
        redelivered: run.redelivered,
      }),
    );
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
    h.logger.info('the previous ticket cannot be reopened; opening a new one', { ...log, code: err.code });
    await h.store.forgetClosed(key);
    conversation.reopening = undefined;
    await h.store.save(conversation);
    return undefined;
  }
  const opened: Conversation = {
    ...conversation,
    vendor: ticket.vendor,
    status: 'open',
    ticket,
    first: undefined,
    reopening: undefined,
    // Saved with the open state: a failure before the message is marked done must not post it again as a comment.
    openedWith: first.id,
    ...deliveredToHelpdesk(h, conversation, [first]),
  };
  // The no-agent timer before the open state is saved (see opening.ts).
  await h.lifecycle?.opened(opened, h.now());
  await h.store.save(opened);
  h.index.remember(ticket, key);
  await h.store.forgetClosed(key);
  h.logger.info('previous ticket reopened', log);
  emitStarted(h, opened, ticket, first, true);
  await appendAfterResumed(h, opened, first, message, run, files);
  return opened;
}
