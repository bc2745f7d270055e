import type { HelpdeskEvent, TicketRef } from '../model';
import type { ConversationStore } from '../ports';
import { TicketOwners } from './ticket-owners';

/** How long an event for a ticket not indexed yet waits for this instance's opens in flight. */
const OPENS_WAIT_MS = 15_000;

/**
 * Which customer a ticket belongs to: the store's ticket index (written when the ticket opens), the session index
 * (while it is being opened: vendors that echo the bridge's reference let an instant event find its customer), and
 * a bounded in-process cache of the tickets this process opened or looked up (see ./ticket-owners.ts), so an agent's
 * reply reaches its customer's lane without a store read first. It also knows the opens in flight in this process,
 * so an event faster than the open's bookkeeping can wait for them.
 */
export class TicketIndex {
  private readonly owners = new TicketOwners();
  private readonly opening = new Set<Promise<unknown>>();

  constructor(private readonly store: ConversationStore) {}

  /** The customer of a ticket this process has seen, without reading the store. */
  known(ticket: TicketRef): string | undefined {
    return this.owners.get(ticket.vendor, ticket.id);
  }

  /** The customer an event is for, from the state alone (no waiting); undefined when no index knows the ticket. */
  async lookup(event: HelpdeskEvent): Promise<string | undefined> {
    const cached = this.known(event.ticket);
    if (cached) return cached;
    const { vendor, id } = event.ticket;
    const byTicket = async () => {
      const found = await this.store.customerKeyForTicket(vendor, id);
      if (found) this.owners.remember(vendor, id, found);
      return found;
    };
    const found = await byTicket();
    if (found || !event.sessionId) return found;
    // The store forgets the session index once the ticket's index is written (after writing it): an open that
    // finished between the two reads is found by reading the ticket's index again (only on this miss path).
    return (await this.store.customerKeyForSession(event.sessionId)) ?? (await byTicket());
  }

  /**
   * `lookup`, and when it misses while this process has opens in flight, again once they settled (at most 15 s): a
   * vendor may announce a ticket (an auto-reply, an agent faster than our bookkeeping) before its open returned.
   */
  async lookupAfterOpens(event: HelpdeskEvent): Promise<string | undefined> {
    const found = await this.lookup(event);
    if (found || this.opening.size === 0) return found;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.opening]),
      new Promise((resolve) => (timer = setTimeout(resolve, OPENS_WAIT_MS))),
    ]);
    clearTimeout(timer);
    return this.lookup(event);
  }

  /** Tracks an open in flight until it settles (the ticket is indexed by then). */
  async tracking<T>(open: Promise<T>): Promise<T> {
    this.opening.add(open);
    try {
      return await open;
    } finally {
      this.opening.delete(open);
    }
  }

  remember(ticket: TicketRef, customerKey: string): void {
    this.owners.remember(ticket.vendor, ticket.id, customerKey);
  }

  forget(ticket: TicketRef): void {
    this.owners.forget(ticket.vendor, ticket.id);
  }
}
