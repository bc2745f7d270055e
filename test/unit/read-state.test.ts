/**
 * The customer's read state through the core as production runs it (BRIDGE_READ_RECEIPTS): with `agent`, a
 * customer's message is marked `consumed` only once an agent has seen it (the agent's next reply, or a read event
 * from a vendor that reports reads), in the order of the customer's lane.
 */
import type { AgentReadEvent, TicketRef } from '../../src/core/model';
import { type CoreHarness, type CoreHarnessOptions, startCore } from '../helpers/core-harness';
import { agentMessage, closed, customer, message, NOW, openedTicket } from '../helpers/handoff-fixtures';

const started: CoreHarness[] = [];
let clock = NOW.getTime();
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({
    now: () => new Date(clock),
    ...options,
    settings: { readReceipts: 'agent', ...options.settings },
  });
  started.push(h);
  return h;
}
beforeEach(() => {
  clock = NOW.getTime();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

function read(ticket: TicketRef, eventId: string, upTo?: string): AgentReadEvent {
  return { kind: 'agent.read', ticket, eventId, ...(upTo ? { upTo } : {}) };
}

describe('read state: BRIDGE_READ_RECEIPTS=agent', () => {
  it('marks nothing read until the agent replies, then every message before the reply, once', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    await h.write(customer(), message('m2'));
    expect(h.timeline.of('consumed')).toEqual([]);

    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    expect(h.timeline.of('consumed')).toEqual([
      { what: 'consumed', to: customer().address, messageIds: ['m1', 'm2'] },
    ]);
    // The read marks go after the agent's message, not before it.
    const kinds = h.timeline.steps.map((s) => s.what);
    expect(kinds.lastIndexOf('send')).toBeLessThan(kinds.indexOf('consumed'));

    await h.helpdeskSends(agentMessage(ticket, 'c2'));
    expect(h.timeline.of('consumed')).toHaveLength(1);
    await h.write(customer(), message('m3'));
    await h.helpdeskSends(agentMessage(ticket, 'c3'));
    expect(h.timeline.of('consumed').map((c) => c.messageIds)).toEqual([['m1', 'm2'], ['m3']]);
    expect((await h.state.store.get(customer().key))?.unreadByAgent).toBeUndefined();
  });

  it('a read event marks what the helpdesk had up to its time; later messages wait', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    clock += 60_000;
    await h.write(customer(), message('m2'));
    const between = new Date(clock - 1_000).toISOString();
    clock += 60_000;
    await h.helpdeskSends(read(ticket, 'read:1', between));
    expect(h.timeline.of('consumed').map((c) => c.messageIds)).toEqual([['m1']]);
    // Without a time, everything delivered so far; a redelivered read event is deduped like any other.
    await h.helpdeskSends(read(ticket, 'read:2'), read(ticket, 'read:2'));
    expect(h.timeline.of('consumed').map((c) => c.messageIds)).toEqual([['m1'], ['m2']]);
    expect(h.timeline.of('send')).toEqual([]);
  });

  it('keeps the marks when BLiP is away and sends them with the next reply; the reply itself is not failed', async () => {
    const h = core();
    const ticket = await openedTicket(h);
    const markConsumed = h.channel.markConsumed.bind(h.channel);
    let away = true;
    h.channel.markConsumed = async (who, ids) => {
      if (away) throw new Error('BLiP session not established');
      return markConsumed(who, ids);
    };
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    expect(h.timeline.of('send')).toHaveLength(1);
    expect(h.timeline.of('consumed')).toEqual([]);
    expect(await h.deadLetters()).toEqual([]);
    away = false;
    await h.helpdeskSends(agentMessage(ticket, 'c2'));
    expect(h.timeline.of('consumed').map((c) => c.messageIds)).toEqual([['m1']]);
  });

  it('the message that reopens a closed ticket waits for the agent too', async () => {
    const h = core({ settings: { reopenWindowMs: 3_600_000 } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(closed(ticket));
    // The agent closed the ticket: what the customer wrote was seen.
    expect(h.timeline.of('consumed').map((c) => c.messageIds)).toEqual([['m1']]);
    await h.write(customer(), message('m2'));
    expect(h.timeline.of('reopen')).toHaveLength(1);
    await h.helpdeskSends(agentMessage(ticket, 'c1'));
    expect(h.timeline.of('consumed').map((c) => c.messageIds)).toEqual([['m1'], ['m2']]);
  });
});

describe('read state: BRIDGE_READ_RECEIPTS=queued (or unset)', () => {
  it('keeps nothing and marks nothing: the edge said consumed when it recorded the message', async () => {
    const h = core({ settings: { readReceipts: 'queued' } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1'), read(ticket, 'read:1'));
    expect(h.timeline.of('consumed')).toEqual([]);
    expect((await h.state.store.get(customer().key))?.unreadByAgent).toBeUndefined();
  });
});
