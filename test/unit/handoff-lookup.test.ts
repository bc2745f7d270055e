/**
 * Finding the customer of a helpdesk event at intake (the ticket index), when the event races the open: the ticket
 * is not indexed yet at the first look, and the open finishes (indexing the ticket, dropping the session index)
 * before the second.
 */
import { type CoreHarness, startCore, until } from '../helpers/core-harness';
import { agentMessage, customer, message, VENDOR } from '../helpers/handoff-fixtures';

let h: CoreHarness;
afterEach(async () => {
  await h.stop();
});

describe('the ticket index at intake', () => {
  it('finds the customer of an event that raced the open (ticket not indexed yet, then session dropped)', async () => {
    h = startCore();
    const who = customer(3);
    // The helpdesk creates the ticket, then holds its answer: the bridge has the session indexed, not the ticket.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const open = h.helpdesk.openTicket.bind(h.helpdesk);
    h.helpdesk.openTicket = async (req, key) => {
      const ticket = await open(req, key);
      await held;
      return ticket;
    };
    await h.accept(who, message('m1'));
    await until(() => h.helpdesk.tickets.size === 1, 'the ticket created at the helpdesk');
    const session = (await h.state.store.get(who.key))!.sessionId;
    const ticketId = [...h.helpdesk.tickets.keys()][0]!;

    // The event's first look at the ticket index misses; the open then finishes before the session is looked up.
    const store = h.state.store;
    const byTicket = store.customerKeyForTicket.bind(store);
    let raced = false;
    store.customerKeyForTicket = async (vendor, id) => {
      const found = await byTicket(vendor, id);
      if (!raced) {
        raced = true;
        release();
        await until(async () => (await byTicket(vendor, id)) !== undefined, 'the open indexed');
      }
      return found;
    };
    const bySession = jest.spyOn(store, 'customerKeyForSession');
    const lanes = jest.spyOn(h.core.runner, 'submit');
    const reply = { ...agentMessage({ vendor: VENDOR, id: ticketId }, 'c1', 'Olá'), sessionId: session };
    await h.core.intake.acceptHelpdeskEvents([reply]);
    expect(bySession).toHaveBeenCalledWith(session);
    expect(await bySession.mock.results[0]!.value).toBeUndefined(); // dropped by the open
    // Placed straight in the customer's lane, not in the ticket's lane to wait for opens.
    expect(lanes.mock.calls.map(([lane]) => lane)).toEqual([who.key]);
    await h.idle();
    expect(h.timeline.of('send').map((s) => [s.to, s.text])).toEqual([[who.address, 'Olá']]);
  });
});
