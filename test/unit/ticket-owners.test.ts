import { TicketOwners } from '../../src/core/handoff/ticket-owners';

describe('TicketOwners', () => {
  it('keeps the most recent tickets up to its bound, per vendor, and forgets on request', () => {
    const owners = new TicketOwners(2);
    owners.remember('zendesk', '1', 'ana');
    owners.remember('intercom', '1', 'bia');
    owners.remember('zendesk', '1', 'ana'); // seen again: now the most recent
    owners.remember('zendesk', '2', 'cid'); // over the bound: the oldest (intercom 1) goes
    expect(owners.get('zendesk', '1')).toBe('ana');
    expect(owners.get('intercom', '1')).toBeUndefined();
    expect(owners.get('zendesk', '2')).toBe('cid');
    owners.forget('zendesk', '1');
    expect(owners.get('zendesk', '1')).toBeUndefined();
  });
});
