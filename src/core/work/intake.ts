import type { TicketIndex } from '../handoff/ticket-index';
import { logTag } from '../ids';
import type { LiveSignals, SignalOutcome } from '../handoff/live-signals';
import type { ChatMessage, CustomerRef, CustomerTypingState, HelpdeskEvent } from '../model';
import type { FailurePolicy } from './failure-policy';
import { ticketLane } from './queue';
import type { LaneRunner } from './runner';

/**
 * Takes every unit of work in and records it in its lane before the sender is answered (DESIGN.md §4.2): a
 * customer's LIME message or delivery failure, helpdesk events from a webhook or a poll, an operator's close. Each
 * resolves once the work is recorded; none waits for the work itself. Intake reads nothing but the ticket index:
 * redeliveries are found by the handler, under the lane (the one dedupe check).
 */
export class Intake {
  constructor(
    private readonly runner: Pick<LaneRunner, 'submit'>,
    private readonly index: Pick<TicketIndex, 'known' | 'lookup'>,
    private readonly failures: Pick<FailurePolicy, 'untilRecorded'>,
    private readonly signals?: Pick<LiveSignals, 'customerTyping' | 'customerRead'>,
  ) {}

  /**
   * The customer is typing, or stopped (a LIME chat state). NOT recorded: a late typing signal is worthless, so it
   * goes to the vendor now (where its API takes it) or is dropped (../handoff/live-signals.ts). Never rejects.
   */
  async acceptCustomerTyping(customer: CustomerRef, state: CustomerTypingState): Promise<SignalOutcome> {
    return (await this.signals?.customerTyping(customer, state)) ?? 'unsupported';
  }

  /**
   * The customer's app showed a message the bridge sent (`consumed` from the customer): relayed to the vendor's
   * read marker where there is one, or dropped; not recorded, as typing. Never rejects.
   */
  async acceptCustomerRead(customerKey: string, messageId: string): Promise<SignalOutcome> {
    return (await this.signals?.customerRead(customerKey, messageId)) ?? 'unsupported';
  }

  /**
   * A customer's message, in their lane. BLiP does not deliver a message twice, so while the queue cannot record it
   * (Redis restarting) it is held here and recording is tried again, for a bounded time (the failure policy's);
   * only then does this reject.
   */
  async acceptCustomerMessage(customer: CustomerRef, message: ChatMessage): Promise<void> {
    await this.failures.untilRecorded(
      () => this.runner.submit(customer.key, { kind: 'customer-message', customer, message }),
      { customer: logTag(customer.key), messageId: message.id },
    );
  }

  /**
   * Events from one webhook delivery or poll, oldest first, each in its customer's lane; an event for a ticket no
   * index knows yet goes to the ticket's own lane, whose handler places it once the customer is known (or drops it:
   * a ticket the bridge does not track). Resolves with how many were queued. Rejects (the webhook then answers 503
   * and the vendor delivers again) when the queue cannot record them.
   */
  async acceptHelpdeskEvents(events: HelpdeskEvent[]): Promise<number> {
    for (const event of events) {
      const customerKey = this.index.known(event.ticket) ?? (await this.index.lookup(event));
      const lane = customerKey ?? ticketLane(event.ticket.vendor, event.ticket.id);
      await this.runner.submit(lane, { kind: 'helpdesk-event', event });
    }
    return events.length;
  }

  /** A LIME `failed` notification for a message the bridge sent the customer. */
  async acceptDeliveryFailure(
    customerKey: string,
    messageId: string,
    code: string,
    reason: string,
  ): Promise<void> {
    await this.failures.untilRecorded(
      () =>
        this.runner.submit(customerKey, { kind: 'delivery-failure', customerKey, messageId, code, reason }),
      { customer: logTag(customerKey), messageId },
    );
  }

  /** An operator's close (admin API, CLI), in the customer's lane after what is already queued. */
  async acceptOperatorClose(customerKey: string, reason: string): Promise<void> {
    await this.runner.submit(customerKey, { kind: 'force-close', customerKey, reason });
  }
}
