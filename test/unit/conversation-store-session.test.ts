import Keyv from 'keyv';
import type { Conversation } from '../../src/core/model';
import { KeyvConversationStore } from '../../src/state/keyv-conversation-store';

const customer = { key: 'c1@tunnel.msging.net', address: 'c1@tunnel.msging.net' };
const opening: Conversation = {
  sessionId: 's1',
  customer,
  vendor: 'zendesk',
  status: 'opening',
  openedAt: '2026-11-25T12:00:00.000Z',
  tags: ['blip_bridge'],
};

describe('KeyvConversationStore session index', () => {
  it('finds the customer by session while the ticket opens, and by ticket only once it is open', async () => {
    const store = new KeyvConversationStore(new Keyv({ namespace: 'bhb' }));
    await store.save(opening);
    expect(await store.customerKeyForSession('s1')).toBe(customer.key);

    const ticket = { vendor: 'zendesk', id: '48213', requesterId: '7' };
    await store.save({ ...opening, status: 'open', ticket });
    expect(await store.customerKeyForTicket('zendesk', '48213')).toBe(customer.key);
    // Dead weight once the ticket is indexed: 184 B of Redis per open conversation (npm run bench, scenario 3).
    expect(await store.customerKeyForSession('s1')).toBeUndefined();
    expect((await store.get(customer.key))?.ticket).toEqual(ticket);
  });
});
