/**
 * Which customer each recently seen ticket belongs to, in this process: a webhook for a known ticket goes to its
 * customer's lane without first reading the ticket index from the store (one round trip to Redis less before the
 * webhook is answered, on every agent reply).
 *
 * Safe to keep without invalidation across instances: a ticket belongs to one customer for its whole life (tickets
 * are never handed to another customer; a reopen is the same customer's). What can change is whether that customer
 * still has the ticket open, and the worker checks that against the conversation, as it does for any event.
 * Bounded: the oldest entry goes first.
 */
export class TicketOwners {
  private readonly owners = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  get(vendor: string, ticketId: string): string | undefined {
    return this.owners.get(key(vendor, ticketId));
  }

  remember(vendor: string, ticketId: string, customerKey: string): void {
    const k = key(vendor, ticketId);
    this.owners.delete(k);
    this.owners.set(k, customerKey);
    if (this.owners.size > this.max) this.owners.delete(this.owners.keys().next().value!);
  }

  forget(vendor: string, ticketId: string): void {
    this.owners.delete(key(vendor, ticketId));
  }
}

function key(vendor: string, ticketId: string): string {
  return `${vendor}\u0000${ticketId}`;
}
