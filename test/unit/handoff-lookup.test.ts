import Keyv from 'keyv';
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { DomainEvents } from '../../src/core/events';
import { HandoffService } from '../../src/core/handoff';
import { silentLogger } from '../../src/core/logger';
import type { AgentMessageEvent, Conversation } from '../../src/core/model';
import type { CustomerChannel } from '../../src/core/ports';
import { KeyvConversationStore } from '../../src/state/keyv-conversation-store';

const customer = { key: 'c1@tunnel.msging.net', address: 'c1@tunnel.msging.net' };
const ticket = { vendor: 'zendesk', id: '48213', requesterId: '7' };
const opening: Conversation = {
  sessionId: 's1',
  customer,
  vendor: 'zendesk',
  status: 'opening',
  openedAt: '2026-11-25T12:00:00.000Z',
  tags: [],
};
const reply: AgentMessageEvent = {
  kind: 'agent.message',
  ticket: { vendor: 'zendesk', id: '48213' },
  sessionId: 's1',
  eventId: 'comment:1',
  message: { id: '1', text: 'Olá', at: '2026-11-25T12:00:01.000Z' },
};

/** The open finishes right after the event's first look at the ticket index (it indexes the ticket, drops the session). */
class RacingStore extends KeyvConversationStore {
  private raced = false;

  override async customerKeyForTicket(vendor: string, ticketId: string): Promise<string | undefined> {
    const found = await super.customerKeyForTicket(vendor, ticketId);
    if (!this.raced) {
      this.raced = true;
      await this.save({ ...opening, status: 'open', ticket });
    }
    return found;
  }
}

describe('HandoffService.customerKeyOf', () => {
  it('finds the customer of an event that raced the open (ticket not indexed yet, then session dropped)', async () => {
    const store = new RacingStore(new Keyv());
    await store.save(opening);
    const service = new HandoffService(
      store,
      { name: 'zendesk', limits: { requestsPerMinute: 1 } } as HelpdeskAdapter,
      {} as CustomerChannel,
      new DomainEvents(),
      silentLogger,
      { tags: [], dedupeTtlMs: 1_000 },
    );
    expect(await service.customerKeyOf(reply)).toBe(customer.key);
  });
});
