import Keyv from 'keyv';
import type { ClosedHandoff, Conversation } from '../core/model';
import type { ConversationStore } from '../core/ports';
import { storeCall } from './store-errors';

/**
 * The conversation store over one Keyv instance (memory or Redis):
 *   conv:<customer key>        -> Conversation
 *   ticket:<vendor>:<ticket>   -> customer key
 *   session:<session id>       -> customer key, until the ticket is open
 *   done:<dedupe key>          -> 1, with a TTL (processed message and event ids)
 *   cursor:<name>              -> where a polling adapter left off
 *   closed:<customer key>      -> the customer's last closed handoff, with a TTL (reopen policy)
 */
export class KeyvConversationStore implements ConversationStore {
  constructor(
    private readonly keyv: Keyv,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  // Every read and write goes through these three: Redis being away becomes UnavailableError (storeCall).
  private read<T>(key: string): Promise<T | undefined> {
    return storeCall(async () => (await this.keyv.get<T>(key)) ?? undefined);
  }

  private write(key: string, value: unknown, ttlMs?: number): Promise<unknown> {
    return storeCall(() => this.keyv.set(key, value, ttlMs));
  }

  private delete(key: string): Promise<unknown> {
    return storeCall(() => this.keyv.delete(key));
  }

  async get(customerKey: string): Promise<Conversation | undefined> {
    return this.read<Conversation>(`conv:${customerKey}`);
  }

  async save(conversation: Conversation): Promise<void> {
    await this.write(`conv:${conversation.customer.key}`, stripUndefined(conversation));
    if (conversation.status === 'opening') {
      await this.write(`session:${conversation.sessionId}`, conversation.customer.key);
    }
    if (conversation.ticket) {
      await this.write(
        ticketKey(conversation.ticket.vendor, conversation.ticket.id),
        conversation.customer.key,
      );
    }
    if (conversation.status === 'open' && conversation.ticket) {
      // Once the ticket is indexed, the index finds the customer: the session index (for events that arrive while
      // the ticket is being opened) would be dead weight for the rest of the handoff (184 B of Redis per open
      // conversation: npm run bench, scenario 3). Deleted after the ticket's index is written, never before: a
      // lookup that misses both reads the ticket's index again (TicketIndex.lookup).
      await this.delete(`session:${conversation.sessionId}`);
    }
  }

  async update(conversation: Conversation): Promise<void> {
    if (conversation.status !== 'open' || !conversation.ticket) return this.save(conversation);
    await this.write(`conv:${conversation.customer.key}`, stripUndefined(conversation));
  }

  async remove(conversation: Conversation): Promise<void> {
    if (conversation.ticket) await this.delete(ticketKey(conversation.ticket.vendor, conversation.ticket.id));
    await this.delete(`session:${conversation.sessionId}`);
    await this.delete(`conv:${conversation.customer.key}`);
  }

  async customerKeyForTicket(vendor: string, ticketId: string): Promise<string | undefined> {
    return this.read<string>(ticketKey(vendor, ticketId));
  }

  /**
   * Walks the store (Keyv's iterator: the Map in memory, SCAN on Redis) for `conv:` entries. An operator's
   * command, not a hot path: it reads every key of the namespace.
   */
  /**
   * Open conversations, oldest first. Keys are listed from the store and each conversation is read with `get`.
   * Keyv's own iterator deserializes every value of the namespace and stops the whole listing at the first it cannot
   * read: on Redis a key deleted between its SCAN and its MGET (the session index goes when the ticket is indexed)
   * comes back null, and the admin list failed with a 500 while a handoff was opening (seen once in CI).
   */
  async list(limit: number): Promise<Conversation[]> {
    const found: Conversation[] = [];
    for await (const key of this.keys()) {
      if (!key.startsWith('conv:')) continue;
      const value = await this.read<Conversation>(key);
      if (!value || typeof value !== 'object' || typeof value.openedAt !== 'string') continue;
      found.push(value);
      if (found.length >= limit) break;
    }
    return found.sort((a, b) => a.openedAt.localeCompare(b.openedAt));
  }

  /** The store's keys in this namespace, without the namespace prefix (memory Map or @keyv/redis). */
  private async *keys(): AsyncGenerator<string> {
    const store: unknown = this.keyv.store;
    const prefix = this.keyv.namespace ? `${this.keyv.namespace}:` : '';
    if (store instanceof Map) {
      for (const key of [...store.keys()]) {
        if (typeof key === 'string' && key.startsWith(prefix)) yield key.slice(prefix.length);
      }
      return;
    }
    const iterable = store as { iterator?: (namespace?: string) => AsyncIterable<[unknown, unknown]> };
    if (typeof iterable.iterator !== 'function') return;
    for await (const [key] of iterable.iterator(this.keyv.namespace)) {
      if (typeof key === 'string') yield key;
    }
  }

  async customerKeyForSession(sessionId: string): Promise<string | undefined> {
    return this.read<string>(`session:${sessionId}`);
  }

  async isProcessed(key: string): Promise<boolean> {
    return (await this.read(`done:${key}`)) !== undefined;
  }

  async markProcessed(key: string, ttlMs: number): Promise<void> {
    await this.write(`done:${key}`, 1, ttlMs);
  }

  async getCursor(name: string): Promise<string | undefined> {
    return this.read<string>(`cursor:${name}`);
  }

  async setCursor(name: string, value: string): Promise<void> {
    await this.write(`cursor:${name}`, value);
  }

  async rememberClosed(closed: ClosedHandoff, ttlMs: number): Promise<void> {
    await this.write(`closed:${closed.customerKey}`, stripUndefined(closed), ttlMs);
  }

  async lastClosed(customerKey: string): Promise<ClosedHandoff | undefined> {
    return this.read<ClosedHandoff>(`closed:${customerKey}`);
  }

  async forgetClosed(customerKey: string): Promise<void> {
    await this.delete(`closed:${customerKey}`);
  }

  async ping(): Promise<void> {
    await this.read('ping');
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

function ticketKey(vendor: string, ticketId: string): string {
  return `ticket:${vendor}:${ticketId}`;
}

/** Keeps stored JSON small and identical in both backends. */
function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
