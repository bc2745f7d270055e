import { errorCode, errorMessage } from '../errors';
import type { AgentMessageEvent, Conversation, CustomerRef, CustomerTypingState } from '../model';
import { conversationLog, type Handoff } from './context';

/** At most one `composing` per customer this often reaches the vendor (a typing customer signals every few s). */
export const TYPING_INTERVAL_MS = 3_000;
/** Agent messages remembered per handoff for the customer's read marks (the newest). */
export const SENT_KEPT = 20;
/** Customers whose last typing signal is remembered (in this process; the oldest forgotten first). */
const TYPING_KEPT = 10_000;

export type SignalOutcome = 'sent' | 'unsupported' | 'no-ticket' | 'throttled' | 'rate-limited' | 'failed';

/**
 * Live signals from the customer's app to the agent, where the vendor's API takes them (issue 20.2): the customer
 * typing (`customerTyping`), and the customer's app showing an agent's message (`markReadByCustomer`). They are not
 * work: never recorded in a lane, never queued behind messages, never retried. A signal that is late is worthless,
 * so each one is sent right away or dropped: when no enabled vendor takes it (nothing is even read), when the
 * customer has no open ticket, when the vendor's rate limit would make it wait, or when the call fails (logged at
 * debug). Typing is lightly limited per customer: one `composing` per TYPING_INTERVAL_MS, and `paused` only after a
 * `composing` that went.
 */
export class LiveSignals {
  private readonly typing = new Map<string, { state: CustomerTypingState; at: number }>();

  constructor(
    private readonly h: Handoff,
    private readonly typingIntervalMs = TYPING_INTERVAL_MS,
  ) {}

  async customerTyping(customer: CustomerRef, state: CustomerTypingState): Promise<SignalOutcome> {
    if (!this.h.vendors.all().some((v) => v.takesTyping)) return 'unsupported';
    const now = this.h.now().getTime();
    const last = this.typing.get(customer.key);
    const repeated =
      state === 'composing'
        ? last?.state === 'composing' && now - last.at < this.typingIntervalMs
        : last?.state !== 'composing';
    if (repeated) return 'throttled';
    const conversation = await this.h.store.get(customer.key).catch(() => undefined);
    const ticket = conversation?.status === 'open' ? conversation.ticket : undefined;
    if (!conversation || !ticket || !this.h.vendors.has(ticket.vendor)) return 'no-ticket';
    const vendor = this.h.vendorOf(ticket);
    if (!vendor.takesTyping) return 'unsupported';
    this.remember(customer.key, { state, at: now });
    return this.attempt(conversation, 'customer typing', () => vendor.customerTyping(ticket, state));
  }

  /** The customer's app showed the message the bridge sent with LIME id `id` (a `consumed` from the customer). */
  async customerRead(customerKey: string, id: string): Promise<SignalOutcome> {
    if (!this.h.vendors.all().some((v) => v.takesReadMarks)) return 'unsupported';
    const conversation = await this.h.store.get(customerKey).catch(() => undefined);
    const ticket = conversation?.status === 'open' ? conversation.ticket : undefined;
    // Not an agent message of this handoff (an automatic text, an older handoff's, a part after the first).
    const sent = conversation?.sentToCustomer?.find((s) => s.id === id);
    if (!conversation || !ticket || !sent || !this.h.vendors.has(ticket.vendor)) return 'no-ticket';
    const vendor = this.h.vendorOf(ticket);
    if (!vendor.takesReadMarks) return 'unsupported';
    return this.attempt(conversation, 'read mark', () =>
      vendor.markReadByCustomer(ticket, { messageId: sent.messageId, at: this.h.now().toISOString() }),
    );
  }

  private async attempt(
    conversation: Conversation,
    what: string,
    call: () => Promise<boolean>,
  ): Promise<SignalOutcome> {
    try {
      return (await call()) ? 'sent' : 'rate-limited';
    } catch (err) {
      this.h.logger.debug(`${what} not passed to the helpdesk; dropped`, {
        ...conversationLog(conversation),
        code: errorCode(err),
        error: errorMessage(err),
      });
      return 'failed';
    }
  }

  private remember(customerKey: string, last: { state: CustomerTypingState; at: number }): void {
    this.typing.delete(customerKey);
    this.typing.set(customerKey, last);
    if (this.typing.size > TYPING_KEPT) {
      const oldest = this.typing.keys().next().value;
      if (oldest !== undefined) this.typing.delete(oldest);
    }
  }
}

/**
 * The conversation's fields once an agent's message went to the customer with LIME id `limeId`, for a vendor with a
 * read marker (else nothing to keep): spread into the save the agent's reply makes.
 */
export function sentToCustomer(
  h: Handoff,
  conversation: Conversation,
  event: AgentMessageEvent,
  limeId: string,
): Pick<Conversation, 'sentToCustomer'> {
  if (!h.vendors.has(event.ticket.vendor) || !h.vendorOf(event.ticket).takesReadMarks) return {};
  const entry = { id: limeId, messageId: event.message.id, at: h.now().toISOString() };
  const kept = (conversation.sentToCustomer ?? []).filter((s) => s.id !== limeId);
  return { sentToCustomer: [...kept, entry].slice(-SENT_KEPT) };
}
