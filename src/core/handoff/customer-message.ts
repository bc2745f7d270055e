import { logTag } from '../ids';
import type { ChatMessage, Conversation } from '../model';
import type { QueuedWork, WorkItem } from '../work/queue';
import type { WorkRun } from '../work/runner';
import { appendMessages } from './append';
import { customerDedupeKey, type Handoff } from './context';
import type { FileFailures } from './files';
import { endHandoff, endOrphaned } from './hand-back';
import { openHandoff } from './opening';
import { surveyReply } from './survey-reply';

type MessageItem = Extract<WorkItem, { kind: 'customer-message' }>;

/** Items read when the head's neighbours are wanted for coalescing. */
const PEEK_MORE = 20;

/**
 * A customer's message at the head of their lane: it opens a ticket (or reopens one), or it is appended to the open
 * one. While the vendor's rate limit would make it wait anyway, the messages queued behind it wait with it and go as
 * ONE comment (a burst costs one call). A keyword that ends the attendance goes alone, after the messages before
 * it, then the ticket is closed and the customer handed back. Resolves with how many items, from the head, are done.
 */
export async function customerMessages(h: Handoff, run: WorkRun): Promise<number> {
  const { customer, message: head } = run.head.item as MessageItem;
  const lifecycle = h.lifecycle;
  // Read together (one round trip to Redis): the conversation, and whether the head was handled (the dedupe check).
  const [stored, headDone] = await Promise.all([
    h.store.get(customer.key),
    h.isProcessed(customerDedupeKey(customer, head)),
  ]);
  // The ticket is closed and the customer is asked for a rating: the message is their answer (or ends the survey).
  if (stored?.status === 'survey') return (await surveyReply(h, stored, head, run), 1);
  const existing = await unlessOrphaned(h, stored);
  const open = existing?.status === 'open' && existing.ticket ? existing : undefined;
  const { messages, coalesce } = open
    ? await queuedMessages(h, run, open, head)
    : { messages: [head], coalesce: false };
  // A batch recorded before a crash is sent again exactly as it was, so its idempotency key still matches.
  let batch = open ? batchToSend(open, messages, coalesce) : messages.slice(0, 1);
  const ending = open && lifecycle ? batch.findIndex((m) => lifecycle.ends(m)) : -1;
  if (ending >= 0) batch = batch.slice(0, Math.max(1, ending));
  // The batch recorded before an earlier try was appended whole once any of it is marked processed (messages are
  // marked only after the append): the rest must not go again, under another key.
  const resumedBatch = !!open?.pendingBatch && batch.length > 1 && open.pendingBatch[0] === batch[0]!.id;
  const fresh: ChatMessage[] = [];
  let markedProcessed = 0;
  for (const message of batch) {
    // The same message can be queued twice (a customer's client re-sends what BLiP did not see consumed) and both
    // copies can wait together behind the rate limit: one batch must not post it twice (chaos suite).
    let seen = open?.openedWith === message.id || fresh.some((m) => m.id === message.id);
    if (!seen && (message === head ? headDone : await h.isProcessed(customerDedupeKey(customer, message)))) {
      seen = true;
      markedProcessed++;
    }
    if (seen) {
      h.logger.debug('customer message already processed', {
        customer: logTag(customer.key),
        messageId: message.id,
      });
    } else fresh.push(message);
  }
  if (resumedBatch && markedProcessed > 0) fresh.length = 0;
  // Files are retried with the work on its first attempt only: a broken link holds the lane for one retry at most.
  const files: FileFailures = run.head.attempts === 0 && !run.lastAttempt ? 'retry' : 'settle';
  let conversation: Conversation | undefined = open;
  if (fresh.length > 0 && open) {
    await lifecycle?.customerWrote(open);
    await appendMessages(h, open, fresh, run.redelivered, files);
    if (ending === 0) await endHandoff(h, open, 'customer', 'the customer ended the conversation');
  } else if (fresh.length > 0) {
    conversation = await openHandoff(h, existing, customer, fresh[0]!, run);
  }
  for (const message of fresh) {
    if (!message.unsupported) continue;
    const { type, raw } = message.unsupported;
    await h.noteForAgents(
      conversation,
      `The customer sent content the bridge cannot show (${type}). Raw content:\n${raw}`,
    );
  }
  for (const message of fresh) await h.markProcessed(customerDedupeKey(customer, message));
  return batch.length;
}

/**
 * The customer's handoff, unless its helpdesk is one this deployment no longer enables (`BRIDGE_VENDORS` changed
 * while it was open or opening): that handoff ends there, on the bridge's side, and the message starts a new one.
 */
async function unlessOrphaned(
  h: Handoff,
  stored: Conversation | undefined,
): Promise<Conversation | undefined> {
  if (!stored || h.vendors.has(stored.ticket?.vendor ?? stored.vendor)) return stored;
  if (stored.status === 'open' && stored.ticket) await endOrphaned(h, stored);
  else await h.store.remove(stored);
  return undefined;
}

/**
 * The customer messages at the head of the lane to consider together: only while the vendor's rate limit makes
 * this one wait anyway (a burst then costs one call); otherwise the head alone. A head handed out before is offered
 * with the messages behind it but without coalescing: the batch an earlier try recorded is sent again, or the head.
 */
async function queuedMessages(
  h: Handoff,
  run: WorkRun,
  open: Conversation,
  head: ChatMessage,
): Promise<{ messages: ChatMessage[]; coalesce: boolean }> {
  const max = h.settings.coalesceMax ?? 1;
  if (max <= 1) return { messages: [head], coalesce: false };
  if (run.redelivered) return { messages: messagesIn(await run.more(max), max), coalesce: false };
  const wait = await h.vendorOf(open).rateLimitDelay('normal');
  if (wait <= 0) return { messages: [head], coalesce: false };
  await new Promise((resolve) => setTimeout(resolve, wait));
  return { messages: messagesIn(await run.more(Math.max(PEEK_MORE, max)), max), coalesce: true };
}

/** The customer messages from the head of `items`, up to the first other kind of work, at most `max`. */
function messagesIn(items: QueuedWork[], max: number): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const w of items) {
    if (w.item.kind !== 'customer-message' || messages.length >= max) break;
    messages.push(w.item.message);
  }
  return messages;
}

/**
 * The messages to send as one comment: the batch recorded before an earlier try when `messages` starts with it (so
 * the retry is the same request, under the same key), else all of `messages` (or, without `coalesce`, the first).
 */
function batchToSend(conversation: Conversation, messages: ChatMessage[], coalesce: boolean): ChatMessage[] {
  const pending = conversation.pendingBatch;
  if (!pending || pending[0] !== messages[0]?.id) return coalesce ? messages : messages.slice(0, 1);
  const same = messages.slice(0, pending.length);
  return same.length === pending.length && same.every((m, i) => m.id === pending[i])
    ? same
    : messages.slice(0, 1);
}
