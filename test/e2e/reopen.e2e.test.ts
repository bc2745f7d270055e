/**
 * The reopen policy through the sandbox (issue 6, BRIDGE_REOPEN_WINDOW_MINUTES): a customer handed to the bridge
 * again soon after a close gets the same ticket reopened (Zendesk solved -> open, Intercom conversation opened,
 * ServiceNow resolved -> In Progress) instead of a new one; the agent's replies reach them again; a ticket the
 * vendor no longer lets reopen (Zendesk closed) gives a new ticket; outside the window, a new ticket too.
 */
import type { VendorName } from '../../src/adapters/registry';
import type { DomainEventMap } from '../../src/core/events';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { IntercomEmulator } from '../../src/adapters/intercom/emulator';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import type { ServiceNowEmulator } from '../../src/adapters/servicenow/emulator';
import type { ZendeskEmulator } from '../../src/adapters/zendesk/emulator';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { itWithRedis } from '../helpers/requirements';

jest.setTimeout(90_000);

const REDIRECT = 'application/vnd.lime.redirect+json';

let redis: RedisServer;
let sandbox: Sandbox<VendorName> | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  await redis.flush();
});

async function start<V extends VendorName>(vendor: V, env: Record<string, string> = {}): Promise<Sandbox<V>> {
  const started = await startSandbox({
    vendor,
    logger: captureLogs('warn').logger,
    redisUrl: redis.url,
    env: { BRIDGE_REOPEN_WINDOW_MINUTES: '30', ...env },
  });
  sandbox = started as Sandbox<VendorName>;
  return started;
}

const redirects = (s: Sandbox<VendorName>, c: SandboxCustomer) =>
  s.lime.sentTo(c.address).filter((m) => m.envelope.type === REDIRECT).length;

/** The customer writes, the agent answers and closes: the customer is handed back. Returns the ticket id. */
async function firstAttendance(s: Sandbox<VendorName>, c: SandboxCustomer): Promise<string> {
  s.say(c, 'primeira conversa');
  const ticket = await s.helpdesk.waitFor(
    () => s.helpdesk.tickets().find((t) => t.customerExternalId === c.originator),
    20_000,
    'the first ticket',
  );
  await s.helpdesk.closeTicket(ticket.id);
  await s.lime.waitForSent((m) => m.envelope.to === c.address && m.envelope.type === REDIRECT, 20_000);
  return ticket.id;
}

/** The reopened ticket answers again: the agent's reply reaches the customer. */
async function agentAnswers(s: Sandbox<VendorName>, c: SandboxCustomer, ticketId: string): Promise<void> {
  await s.helpdesk.agentReply(ticketId, 'De volta, como posso ajudar?');
  await s.lime.waitForSent(
    (m) => m.envelope.to === c.address && m.envelope.content === 'De volta, como posso ajudar?',
    20_000,
    'the agent reply on the reopened ticket',
  );
}

function nextStart(s: Sandbox<VendorName>): Promise<DomainEventMap['handoff.started']> {
  return new Promise((resolve) => {
    const off = s.bridge.events.on('handoff.started', (e) => {
      off();
      resolve(e);
    });
  });
}

itWithRedis(
  'Zendesk: a solved ticket is reopened with the customer’s message; a closed one gives a new ticket',
  async () => {
    const s = await start('zendesk');
    const zendesk = s.helpdesk as ZendeskEmulator;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    const id = await firstAttendance(s, maria);

    const reopened = nextStart(s);
    s.say(maria, 'voltei, ainda tenho uma dúvida');
    const ticket = zendesk.ticketsById.get(Number(id))!;
    await zendesk.waitFor(() => ticket.status === 'open', 20_000, 'the ticket reopened');
    expect(await reopened).toMatchObject({ ticket: { id }, reopened: true });
    expect(zendesk.tickets()).toHaveLength(1);
    expect(zendesk.tickets()[0]!.customerMessages).toEqual([
      'primeira conversa',
      'voltei, ainda tenho uma dúvida',
    ]);
    await agentAnswers(s, maria, id);

    // Closed for good (Zendesk closes solved tickets after some days): the next return opens a new ticket.
    await zendesk.solve(id);
    await zendesk.waitFor(() => redirects(s, maria) === 2, 20_000, 'the second hand-back');
    zendesk.closeForGood(id);
    s.say(maria, 'mais uma coisa');
    const fresh = await zendesk.waitFor(
      () => zendesk.tickets().find((t) => t.id !== id),
      20_000,
      'a new ticket after the closed one',
    );
    expect(fresh.customerMessages).toEqual(['mais uma coisa']);
  },
);

itWithRedis('Intercom: the closed conversation is opened again and the customer’s reply added', async () => {
  const s = await start('intercom');
  const intercom = s.helpdesk as IntercomEmulator;
  const maria = s.customer('5511987654321@wa.gw.msging.net');
  const id = await firstAttendance(s, maria);
  s.say(maria, 'voltei');
  const conversation = intercom.conversations.get(id)!;
  await intercom.waitFor(
    () => conversation.state === 'open' && intercom.tickets()[0]!.customerMessages.includes('voltei'),
    20_000,
    'the conversation reopened with the reply',
  );
  expect(conversation.parts.map((p) => p.part_type)).toEqual(expect.arrayContaining(['close', 'open']));
  expect(intercom.conversations.size).toBe(1);
  await agentAnswers(s, maria, id);
});

itWithRedis('ServiceNow: the resolved record goes back to In Progress with the comment', async () => {
  const s = await start('servicenow');
  const sn = s.helpdesk as ServiceNowEmulator;
  const maria = s.customer('5511987654321@wa.gw.msging.net');
  const id = await firstAttendance(s, maria);
  s.say(maria, 'voltei');
  await sn.waitFor(
    () => sn.records.get(id)?.state === '2' && sn.tickets()[0]!.customerMessages.includes('voltei'),
    20_000,
    'the record back in progress',
  );
  expect(sn.records.size).toBe(1);
  await agentAnswers(s, maria, id);
});

itWithRedis('opens a new ticket outside the window (and with the policy off)', async () => {
  const s = await start('zendesk', { BRIDGE_REOPEN_WINDOW_MINUTES: '0.0005' }); // 30 ms
  const zendesk = s.helpdesk as ZendeskEmulator;
  const maria = s.customer('5511987654321@wa.gw.msging.net');
  const id = await firstAttendance(s, maria);
  await new Promise((resolve) => setTimeout(resolve, 200));
  s.say(maria, 'voltei bem depois');
  const fresh = await zendesk.waitFor(
    () => zendesk.tickets().find((t) => t.id !== id),
    20_000,
    'a new ticket',
  );
  expect(fresh.customerMessages).toEqual(['voltei bem depois']);
  expect(zendesk.ticketsById.get(Number(id))!.status).toBe('solved');
});
