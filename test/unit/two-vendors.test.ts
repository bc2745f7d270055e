/**
 * One core serving two helpdesks at once (issue 18), in memory and on Redis: customers routed at their first
 * message by the Redirect context's team, each ticket staying with the vendor that opened it until it closes (even
 * when both vendors number tickets alike), a close on one vendor while the other's customer is mid-conversation,
 * and each vendor's calls measured under its own name.
 */
import type { GatewayObserver } from '../../src/core/vendor-gateway';
import { type CoreHarness, FakeHelpdesk, startCore, until } from '../helpers/core-harness';
import { agentMessage, closed, customer, logged, message } from '../helpers/handoff-fixtures';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

const billing = (id: string, text?: string) => ({ ...message(id, text), handoff: { team: 'billing' } });

describeEachState(['memory', 'redis'] as const)('two helpdesks in one core (%s)', (backend) => {
  let redis: RedisServer | undefined;
  let h: CoreHarness;
  let zendesk: FakeHelpdesk;
  let servicenow: FakeHelpdesk;
  let calls: Array<[string, string]>;
  const ana = customer(1); // asks for billing: ServiceNow
  const bia = customer(2); // the default: Zendesk

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    calls = [];
    const observer: GatewayObserver = {
      onRateLimitWait: () => {},
      onCall: (vendor, method) => void calls.push([vendor, method]),
    };
    h = startCore({
      ...(redis ? { redisUrl: redis.url } : {}),
      helpdesks: (timeline) => [
        (zendesk = new FakeHelpdesk(timeline, 'zendesk')),
        (servicenow = new FakeHelpdesk(timeline, 'servicenow')),
      ],
      rules: [{ vendor: 'servicenow', team: 'billing' }],
      settings: { reopenWindowMs: 60_000 },
      observer,
    });
  });
  afterEach(async () => {
    await h.stop();
  });

  /** Both customers write their first message: two tickets, one per helpdesk, numbered alike by each. */
  async function bothOpen() {
    await Promise.all([h.accept(ana, billing('a1')), h.accept(bia, message('b1'))]);
    await h.idle();
    const anaTicket = (await h.state.store.get(ana.key))!.ticket!;
    const biaTicket = (await h.state.store.get(bia.key))!.ticket!;
    return { anaTicket, biaTicket };
  }

  it('routes each customer at the first message and keeps the ticket with its vendor', async () => {
    const { anaTicket, biaTicket } = await bothOpen();
    expect(anaTicket).toMatchObject({ vendor: 'servicenow', id: '1001' });
    expect(biaTicket).toMatchObject({ vendor: 'zendesk', id: '1001' });
    expect(logged(h, 'helpdesk chosen').map((l) => [l.vendor, l.rule])).toEqual(
      expect.arrayContaining([
        ['servicenow', 1],
        ['zendesk', 'default'],
      ]),
    );
    // Later messages are not routed again, whatever they ask for.
    await h.write(ana, message('a2'));
    await h.write(bia, billing('b2'));
    expect(servicenow.commentsOf(ana.key)).toEqual([billing('a1').text, message('a2').text]);
    expect(zendesk.commentsOf(bia.key)).toEqual([message('b1').text, billing('b2').text]);
    expect(zendesk.commentsOf(ana.key)).toEqual([]);
    expect(servicenow.commentsOf(bia.key)).toEqual([]);
    // Agents' replies find their customer by vendor and ticket: the same number means another ticket elsewhere.
    await h.helpdeskSends(
      agentMessage(anaTicket, 'sn-1', 'Fatura enviada'),
      agentMessage(biaTicket, 'zd-1', 'Oi Bia'),
    );
    expect(h.timeline.of('send').map((s) => [s.to, s.text])).toEqual(
      expect.arrayContaining([
        [ana.address, 'Fatura enviada'],
        [bia.address, 'Oi Bia'],
      ]),
    );
    expect(h.timeline.of('send')).toHaveLength(2);
    // Each vendor's calls are measured under its own name.
    expect(calls.filter(([vendor]) => vendor === 'servicenow').map(([, method]) => method)).toEqual([
      'openTicket',
      'appendCustomerMessage',
    ]);
    expect(calls.filter(([vendor]) => vendor === 'zendesk').map(([, method]) => method)).toEqual([
      'openTicket',
      'appendCustomerMessage',
    ]);
  });

  it('closes one vendor’s ticket while the other’s customer is mid-conversation', async () => {
    const { anaTicket, biaTicket } = await bothOpen();
    // Bia's comment is in flight at Zendesk when ServiceNow closes Ana's ticket.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inZendesk = false;
    zendesk.gate = () => {
      inZendesk = true;
      return held;
    };
    await h.accept(bia, message('b2'));
    await until(() => inZendesk, 'Bia’s comment at Zendesk');
    await h.core.intake.acceptHelpdeskEvents([closed(anaTicket)]);
    // `redirect.sent` is emitted once the hand-back is complete (the Redirect sent, then the state removed): the
    // Redirect alone can be seen before the removal reached Redis.
    await until(() => h.emitted.some((e) => e.name === 'redirect.sent'), 'Ana handed back');
    expect(h.timeline.of('handBack')).toHaveLength(1);
    expect(h.timeline.of('handBack')[0]!.handback.conversation.customer.key).toBe(ana.key);
    expect(await h.state.store.get(ana.key)).toBeUndefined();
    expect(await h.state.store.customerKeyForTicket('servicenow', anaTicket.id)).toBeUndefined();
    // Bia's handoff goes on untouched, on Zendesk, under the same ticket number.
    release();
    await h.helpdeskSends(agentMessage(biaTicket, 'zd-2', 'Ainda aqui'));
    expect(zendesk.commentsOf(bia.key)).toEqual([message('b1').text, message('b2').text]);
    expect(await h.state.store.get(bia.key)).toMatchObject({ status: 'open', ticket: biaTicket });
    expect(
      h.timeline
        .of('send')
        .filter((s) => s.to === bia.address)
        .map((s) => s.text),
    ).toEqual(['Ainda aqui']);
    // A close for Zendesk's ticket of the same number is Bia's, not Ana's.
    await h.helpdeskSends(closed(biaTicket, 'zd-close'));
    expect(h.timeline.of('handBack').map((s) => s.handback.conversation.customer.key)).toEqual([
      ana.key,
      bia.key,
    ]);
  });

  it('reopens with the vendor that had the ticket, whatever the routing says, and routes anew after the window', async () => {
    const { anaTicket } = await bothOpen();
    await h.helpdeskSends(closed(anaTicket));
    // Ana comes back within the reopen window without asking for billing: the routing would say Zendesk, but her
    // ticket is reopened where it is.
    await h.write(ana, message('a2'));
    expect(servicenow.timeline.of('reopen').map((r) => [r.vendor, r.ticket.id, r.message.id])).toEqual([
      ['servicenow', anaTicket.id, 'a2'],
    ]);
    expect(await h.state.store.get(ana.key)).toMatchObject({ vendor: 'servicenow', ticket: anaTicket });
    expect(zendesk.commentsOf(ana.key)).toEqual([]);
    // Closed again and out of the window (forgotten): a new handoff, routed by the rules (the default now).
    await h.helpdeskSends(closed(anaTicket, 'close-2'));
    await h.state.store.forgetClosed(ana.key);
    await h.write(ana, message('a3'));
    expect(await h.state.store.get(ana.key)).toMatchObject({
      vendor: 'zendesk',
      ticket: { vendor: 'zendesk' },
    });
    expect(zendesk.commentsOf(ana.key)).toEqual([message('a3').text]);
  });
});

describe('a handoff on a helpdesk that is no longer enabled', () => {
  let h: CoreHarness;
  const ana = customer(1);
  afterEach(async () => {
    await h.stop();
  });

  async function openedOnRetiredVendor(): Promise<void> {
    h = startCore();
    // Ana's ticket was opened when `retireddesk` was still in BRIDGE_VENDORS.
    await h.state.store.save({
      sessionId: 'old-session',
      customer: ana,
      vendor: 'retireddesk',
      status: 'open',
      ticket: { vendor: 'retireddesk', id: '77' },
      openedAt: '2026-11-03T13:00:00.000Z',
      tags: [],
    });
  }

  it('hands the customer back when they write, and opens their new message on an enabled helpdesk', async () => {
    await openedOnRetiredVendor();
    await h.write(ana, message('m1'));
    expect(h.timeline.of('handBack')).toHaveLength(1);
    expect(h.timeline.of('handBack')[0]!.handback).toMatchObject({
      closedBy: 'expired',
      conversation: { sessionId: 'old-session' },
    });
    expect(h.timeline.of('openTicket').map((o) => [o.vendor, o.req.first.id])).toEqual([['fakedesk', 'm1']]);
    expect((await h.state.store.get(ana.key))?.ticket?.vendor).toBe('fakedesk');
    expect(await h.deadLetters()).toEqual([]);
    expect(h.logs.lines().filter((l) => l.code === 'VENDOR_NOT_ENABLED')).toHaveLength(1);
  });

  it("an operator's close hands the customer back instead of failing", async () => {
    await openedOnRetiredVendor();
    await h.core.intake.acceptOperatorClose(ana.key, 'cleanup');
    await h.idle();
    expect(h.timeline.of('handBack')).toHaveLength(1);
    expect(h.timeline.of('closeTicket')).toEqual([]);
    expect(await h.state.store.get(ana.key)).toBeUndefined();
    expect(await h.deadLetters()).toEqual([]);
  });
});
