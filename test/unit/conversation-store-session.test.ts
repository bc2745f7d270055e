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

describe('KeyvConversationStore.update', () => {
  const ticket = { vendor: 'zendesk', id: '48213', requesterId: '7' };

  /** A Keyv whose writes and deletes are listed, to see which keys a call touches. */
  function watched() {
    const keyv = new Keyv({ namespace: 'bhb' });
    const touched: string[] = [];
    const set = keyv.set.bind(keyv);
    const del = keyv.delete.bind(keyv);
    keyv.set = ((key: string, ...rest: unknown[]) => {
      touched.push(`set ${key}`);
      return (set as (...a: unknown[]) => Promise<boolean>)(key, ...rest);
    }) as typeof keyv.set;
    keyv.delete = ((key: string | string[]) => {
      touched.push(`delete ${String(key)}`);
      return del(key as string);
    }) as typeof keyv.delete;
    return { store: new KeyvConversationStore(keyv), touched };
  }

  it('writes only the record of an open conversation whose ticket the open indexed', async () => {
    const { store, touched } = watched();
    const open: Conversation = { ...opening, status: 'open', ticket };
    await store.save(open);
    touched.length = 0;
    await store.update({ ...open, unreadByAgent: [{ id: 'm1', at: '2026-11-25T12:01:00.000Z' }] });
    expect(touched).toEqual([`set conv:${customer.key}`]);
    expect((await store.get(customer.key))?.unreadByAgent).toEqual([
      { id: 'm1', at: '2026-11-25T12:01:00.000Z' },
    ]);
    expect(await store.customerKeyForTicket('zendesk', '48213')).toBe(customer.key);
  });

  it('is a full save for a conversation that is not open with a ticket (its indexes are written)', async () => {
    const { store, touched } = watched();
    await store.update(opening);
    expect(touched).toEqual([`set conv:${customer.key}`, 'set session:s1']);
    expect(await store.customerKeyForSession('s1')).toBe(customer.key);
  });
});
