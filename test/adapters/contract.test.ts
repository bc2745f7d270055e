/**
 * The adapter contract suite: the same scenarios, unchanged, against every adapter in src/adapters/registry.ts and
 * its emulator in sandbox/emulators.ts, with the real bridge, the real blip-sdk client and the LIME server,
 * in memory and on a real Redis. A new vendor passes this suite before it is called done (docs/adding-an-adapter.md).
 */
import { vendorNames, type VendorName } from '../../src/adapters/registry';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

jest.setTimeout(30_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const CLOSING = 'Seu atendimento foi encerrado. Obrigado pelo contato!';
const states = ['memory', 'redis'] as const;
const cases = vendorNames.flatMap((vendor) =>
  states.map((state) => [vendor, state] as [VendorName, (typeof states)[number]]),
);

describe.each(cases)('adapter contract: %s (%s state)', (vendor, state) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox<VendorName>;
  let logs: CapturedLogs;
  let customerNo = 0;

  beforeAll(async () => {
    if (state === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    logs = captureLogs();
    sandbox = await startSandbox({ vendor, logger: logs.logger, redisUrl: redis?.url });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const newCustomer = (): SandboxCustomer =>
    sandbox.customer(`55119${String(++customerNo).padStart(8, '0')}@wa.gw.msging.net`);
  const tickets = () => sandbox.helpdesk.tickets();
  const received = (c: SandboxCustomer) =>
    sandbox.lime
      .sentTo(c.address)
      .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type));

  /**
   * The customer writes `texts`; resolves with their open ticket once it holds `total` customer messages
   * (all of `texts` by default; more when earlier messages are already on the ticket).
   */
  async function converse(customer: SandboxCustomer, texts: string[], total = texts.length) {
    for (const text of texts) sandbox.say(customer, text);
    const mine = () =>
      tickets().find(
        (t) =>
          t.customerExternalId === customer.originator && !t.closed && t.customerMessages.length >= total,
      );
    return sandbox.helpdesk.waitFor(mine, 15_000, `a ${vendor} ticket with ${total} customer message(s)`);
  }

  it('opens a ticket for a new customer, identified by the real customer behind the tunnel', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['I need a human']);
    expect(ticket.customerMessages).toEqual(['I need a human']);
    expect(ticket.customerExternalId).toBe(c.originator);
    expect(tickets()).toHaveLength(1);
  });

  it('appends later messages in order', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['one', 'two', 'three', 'four']);
    expect(ticket.customerMessages).toEqual(['one', 'two', 'three', 'four']);
    expect(tickets()).toHaveLength(1);
  });

  it("delivers the agent's public reply TO the customer's address, and never a note or the customer's own echo", async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello', 'are you there?']);
    await sandbox.helpdesk.agentNote(ticket.id, 'internal: check the invoice');
    const reply = await sandbox.helpdesk.agentReply(ticket.id, 'Hi! Looking into it.');
    expect(reply.status).toBe(200);
    const sent = await sandbox.lime.waitForSent((s) => s.envelope.content === 'Hi! Looking into it.');
    expect(sent.envelope.to).toBe(c.address);
    await new Promise((r) => setTimeout(r, 300)); // let any stray echo or note arrive
    expect(received(c)).toEqual(['Hi! Looking into it.']);
  });

  it('delivers a redelivered webhook once', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    await sandbox.helpdesk.agentReply(ticket.id, 'just once');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'just once');
    expect((await sandbox.helpdesk.redeliverLast()).status).toBe(200);
    expect((await sandbox.helpdesk.redeliverLast()).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(received(c)).toEqual(['just once']);
  });

  it('on close: closing text, then the Redirect, then a new ticket for the next message', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    await sandbox.helpdesk.closeTicket(ticket.id);
    const redirect = await sandbox.lime.waitForSent(
      (s) => s.envelope.to === c.address && s.envelope.type === REDIRECT,
    );
    expect(received(c)).toEqual([CLOSING, REDIRECT]);
    const context = (
      redirect.envelope.content as { context: { type: string; value: Record<string, unknown> } }
    ).context;
    expect(context.type).toBe('application/vnd.iris.ticket+json');
    expect(context.value).toMatchObject({
      customerIdentity: c.address,
      endedBy: 'agent',
      closed: true,
      provider: vendor,
      externalId: ticket.id,
    });

    const next = await converse(c, ['me again']);
    expect(next.id).not.toBe(ticket.id);
    expect(next.customerMessages).toEqual(['me again']);
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    sandbox.helpdesk.failNext(1, 429, { 'Retry-After': '1' });
    const c = newCustomer();
    const ticket = await converse(c, ['throttled']);
    expect(ticket.customerMessages).toEqual(['throttled']);
    expect(sandbox.helpdesk.apiCalls().filter((r) => r.status === 429)).toHaveLength(1);
    const retry = logs.lines().find((l) => l.code === `${vendor.toUpperCase()}_RATE_LIMITED`);
    expect(retry?.delayMs).toBe(1000);
  });

  it('retries after 5xx, then succeeds, keeping the order', async () => {
    const c = newCustomer();
    await converse(c, ['before the outage']);
    sandbox.helpdesk.failNext(2, 503);
    const ticket = await converse(c, ['during the outage'], 2);
    expect(ticket.customerMessages).toEqual(['before the outage', 'during the outage']);
    expect(sandbox.helpdesk.apiCalls().filter((r) => r.status === 503)).toHaveLength(2);
  });

  it('rejects a webhook with a bad or stale signature and changes nothing', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    const genuine = await sandbox.helpdesk.agentReply(ticket.id, 'genuine reply');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'genuine reply');
    const forged = genuine.body.replace('genuine reply', 'forged reply!');

    const tampered = await sandbox.helpdesk.deliverRaw(forged, genuine.headers);
    expect(tampered.status).toBe(401);
    // Correctly signed, but as the vendor would have sent it an hour ago: a replay outside the window.
    const old = sandbox.helpdesk.signedDeliveryAt(forged, new Date(Date.now() - 60 * 60_000));
    const stale = await sandbox.helpdesk.deliverRaw(old.body, old.headers);
    expect(stale.status).toBe(401);
    const unsigned = await sandbox.helpdesk.deliverRaw(forged, { 'content-type': 'application/json' });
    expect(unsigned.status).toBe(401);

    await new Promise((r) => setTimeout(r, 200));
    expect(received(c)).toEqual(['genuine reply']);
    expect(logs.lines().filter((l) => l.code === 'WEBHOOK_UNAUTHENTICATED')).toHaveLength(3);
    expect(logs.text()).not.toContain('forged reply!');
  });

  it('tells the agents, in an internal note, when their reply did not reach the customer', async () => {
    const c = newCustomer();
    const ticket = await converse(c, ['hello']);
    sandbox.lime.failDeliveriesTo(c.address); // the gateway times out, as in fixture 13c
    await sandbox.helpdesk.agentReply(ticket.id, 'this one gets lost');
    const noted = await sandbox.helpdesk.waitFor(
      () => tickets().find((t) => t.id === ticket.id && t.bridgeNotes.length > 0),
      10_000,
      'an internal note',
    );
    expect(noted.bridgeNotes[0]).toMatch(/not delivered \(BLiP 86: The gateway switch operation timed out/);
    expect(noted.customerMessages).toEqual(['hello']);
    await new Promise((r) => setTimeout(r, 200)); // the note's own webhook must not reach the customer either
    expect(received(c)).toEqual(['this one gets lost']);
  });

  it('shows content it cannot render as a placeholder, with the raw content in an internal note', async () => {
    const c = newCustomer();
    await converse(c, ['hello']);
    sandbox.lime.sendFromCustomer(sandbox.bot, c, 'application/vnd.acme.poll+json', { question: 'Plano?' });
    const ticket = await sandbox.helpdesk.waitFor(
      () => tickets().find((t) => t.customerExternalId === c.originator && t.bridgeNotes.length > 0),
      10_000,
      'the placeholder and the note',
    );
    expect(ticket.customerMessages).toEqual([
      'hello',
      '[unsupported content: application/vnd.acme.poll+json]',
    ]);
    expect(ticket.bridgeNotes[0]).toContain('{"question":"Plano?"}');
    expect(logs.lines().some((l) => l.code === 'LIME_UNSUPPORTED_CONTENT')).toBe(true);
  });

  it('ignores an event for a ticket it does not know, with a log line', async () => {
    const body = sandbox.helpdesk.agentReplyBodyForUnknownTicket('who is this for?');
    const delivery = await sandbox.helpdesk.deliverRaw(body, sandbox.helpdesk.signedHeaders(body));
    expect(delivery.status).toBe(200);
    expect(sandbox.lime.sent).toHaveLength(0);
    expect(logs.lines().some((l) => l.code === 'UNKNOWN_TICKET' && l.vendor === vendor)).toBe(true);
  });
});
