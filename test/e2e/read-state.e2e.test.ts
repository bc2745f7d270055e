/**
 * The customer's read state through the real path (issue 20 item 2): blip-sdk against the sandbox LIME server, the
 * Zendesk emulator over HTTP, the bridge between them. With BRIDGE_READ_RECEIPTS=agent (the default) the customer's
 * app reads `received` once the bridge recorded a message and `consumed` only once an agent saw it: the agent's reply
 * here (none of Zendesk, Intercom, ServiceNow reports reads), or a vendor's read event. The sandbox checks every
 * notification as a real BLiP routes it (TO the message's sender, with its id, `received` before `consumed`); a
 * misrouted one fails the test at stop().
 *
 * The other way (live signals to the agent): the customer typing, and the customer's app showing an agent's message.
 * Zendesk, Intercom and ServiceNow have no API for either, so the test gives the running Zendesk adapter the two
 * optional methods a vendor with those APIs implements (`customerTyping`, `markReadByCustomer`).
 */
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import type { CustomerTypingState } from '../../src/core/model';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { Envelope, SentByBot } from '../../sandbox/lime-server';
import { captureLogs } from '../helpers/log-capture';

jest.setTimeout(30_000);

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

const ORIGINATOR = '5511987654321@wa.gw.msging.net';

function notificationsOf(s: Sandbox, id: string): Envelope[] {
  return s.lime.notifications.filter((n) => n.id === id);
}

describe('read state: BRIDGE_READ_RECEIPTS=agent (default)', () => {
  it('received once recorded; consumed only after the agent replied, TO the customer, with each message id', async () => {
    sandbox = await startSandbox({ logger: captureLogs().logger });
    const s = sandbox;
    const order: string[] = [];
    s.lime.on('sent', (m: SentByBot) => order.push(`sent ${String(m.envelope.content)}`));
    s.lime.on('notification', (n: Envelope) => order.push(`${String(n.event)} ${String(n.id)}`));
    const customer = s.customer(ORIGINATOR);
    const m1 = s.say(customer, 'meu boleto veio errado');
    expect(await s.lime.waitForNotification(m1, 'received')).toBe(true);
    const [ticket] = await s.helpdesk.waitFor(
      () => s.helpdesk.tickets().length === 1 && s.helpdesk.tickets(),
    );
    const m2 = s.say(customer, 'alguém aí?');
    expect(await s.lime.waitForNotification(m2, 'received')).toBe(true);
    await s.helpdesk.waitFor(() => s.helpdesk.tickets()[0]!.customerMessages.length === 2);
    await s.bridge.runner.idle();
    // The helpdesk has both; no agent has answered: nothing says they were read.
    expect(s.lime.notifications.filter((n) => n.event === 'consumed')).toEqual([]);

    await s.helpdesk.agentReply(ticket!.id, 'Olá! Vou verificar.');
    await s.lime.waitForSent((m) => m.envelope.content === 'Olá! Vou verificar.');
    expect(await s.lime.waitForNotification(m1, 'consumed')).toBe(true);
    expect(await s.lime.waitForNotification(m2, 'consumed')).toBe(true);
    for (const id of [m1, m2]) {
      expect(notificationsOf(s, id).map((n) => n.event)).toEqual(['received', 'consumed']);
      for (const n of notificationsOf(s, id)) expect(n.to).toBe(customer.address);
    }
    // Read after the agent's message reached the customer, not before.
    expect(order.indexOf('sent Olá! Vou verificar.')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(`consumed ${m1}`)).toBeGreaterThan(order.indexOf('sent Olá! Vou verificar.'));
    expect(s.lime.notificationProblems).toEqual([]);
  });

  it('a vendor that reports reads: consumed for what the agent saw, before any reply', async () => {
    sandbox = await startSandbox({ logger: captureLogs().logger });
    const s = sandbox;
    const customer = s.customer(ORIGINATOR);
    const m1 = s.say(customer, 'oi');
    const [ticket] = await s.helpdesk.waitFor(
      () => s.helpdesk.tickets().length === 1 && s.helpdesk.tickets(),
    );
    await s.bridge.runner.idle();
    // None of the three vendors reports reads: the event a live-chat adapter's webhook would parse, at the intake.
    await s.bridge.intake.acceptHelpdeskEvents([
      { kind: 'agent.read', ticket: { vendor: 'zendesk', id: ticket!.id }, eventId: 'read:1' },
    ]);
    expect(await s.lime.waitForNotification(m1, 'consumed')).toBe(true);
    expect(notificationsOf(s, m1).map((n) => [n.event, n.to])).toEqual([
      ['received', customer.address],
      ['consumed', customer.address],
    ]);
    expect(s.lime.sentTo(customer.address)).toEqual([]);
  });
});

describe('read state: BRIDGE_READ_RECEIPTS=queued', () => {
  it('consumed as soon as the message is recorded, as blip-sdk does by itself', async () => {
    sandbox = await startSandbox({
      logger: captureLogs().logger,
      env: { BRIDGE_READ_RECEIPTS: 'queued' },
    });
    const s = sandbox;
    const customer = s.customer(ORIGINATOR);
    const m1 = s.say(customer, 'oi');
    expect(await s.lime.waitForNotification(m1, 'consumed')).toBe(true);
    expect(notificationsOf(s, m1).map((n) => [n.event, n.to])).toEqual([
      ['received', customer.address],
      ['consumed', customer.address],
    ]);
    await s.helpdesk.waitFor(() => s.helpdesk.tickets().length === 1);
  });
});

describe('live signals to a vendor whose API takes them', () => {
  /** The running adapter with the two optional methods; each call is recorded and announced. */
  function live(s: Sandbox) {
    const calls: string[] = [];
    const waiters: Array<{ n: number; wake: () => void }> = [];
    const record = (call: string) => {
      calls.push(call);
      for (const w of waiters.filter((x) => calls.length >= x.n)) w.wake();
    };
    const adapter = s.bridge.adapter as HelpdeskAdapter;
    adapter.customerTyping = async (ticket, state: CustomerTypingState) =>
      record(`typing ${ticket.id} ${state}`);
    adapter.markReadByCustomer = async (ticket, upTo) => record(`seen ${ticket.id} ${upTo.messageId}`);
    const count = (n: number) =>
      new Promise<void>((resolve, reject) => {
        if (calls.length >= n) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`only ${calls.length} calls: ${calls.join(', ')}`)),
          10_000,
        );
        waiters.push({ n, wake: () => (clearTimeout(timer), resolve()) });
      });
    return { calls, count };
  }

  it('the customer typing reaches the vendor: one composing per few seconds, then paused', async () => {
    sandbox = await startSandbox({ logger: captureLogs().logger });
    const s = sandbox;
    const { calls, count } = live(s);
    const customer = s.customer(ORIGINATOR);
    const chatstate = (state: string) =>
      s.lime.sendFromCustomer(s.bot, customer, 'application/vnd.lime.chatstate+json', { state });
    // No ticket yet: nothing to show it on.
    chatstate('composing');
    s.say(customer, 'oi');
    const [ticket] = await s.helpdesk.waitFor(
      () => s.helpdesk.tickets().length === 1 && s.helpdesk.tickets(),
    );
    await s.bridge.runner.idle();
    for (let i = 0; i < 5; i++) chatstate('composing');
    chatstate('paused');
    await count(2);
    expect(calls).toEqual([`typing ${ticket!.id} composing`, `typing ${ticket!.id} paused`]);
    // A chat state is nothing for the agent to read: no comment, and taken at once.
    expect(s.helpdesk.tickets()[0]!.customerMessages).toEqual(['oi']);
    expect(s.lime.notificationProblems).toEqual([]);
  });

  it('the customer’s app showed the agent’s message: the vendor’s read marker names that message', async () => {
    sandbox = await startSandbox({ logger: captureLogs().logger });
    const s = sandbox;
    const { calls, count } = live(s);
    const customer = s.customer(ORIGINATOR);
    s.say(customer, 'oi');
    const [ticket] = await s.helpdesk.waitFor(
      () => s.helpdesk.tickets().length === 1 && s.helpdesk.tickets(),
    );
    const delivery = await s.helpdesk.agentReply(ticket!.id, 'Olá, aqui é a Ana');
    const reply = await s.lime.waitForSent((m) => m.envelope.content === 'Olá, aqui é a Ana');
    await s.bridge.runner.idle();
    s.lime.notifyFromCustomer(s.bot, customer, String(reply.envelope.id), 'received');
    s.lime.notifyFromCustomer(s.bot, customer, String(reply.envelope.id), 'consumed');
    await count(1);
    expect(calls).toHaveLength(1);
    const [, ticketId, messageId] = calls[0]!.split(' ');
    expect(ticketId).toBe(ticket!.id);
    // The Zendesk comment the agent wrote (its id in the webhook the bridge took).
    const webhook = JSON.parse(delivery.body) as { event: { comment: { id: string } } };
    expect(messageId).toBe(webhook.event.comment.id);
  });
});
