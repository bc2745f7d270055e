/**
 * The BLiP connection is ours to keep: when the LIME server goes away the bridge reports not-ready, keeps
 * reconnecting (blip-sdk's own loop would give up after 10 tries with an uncaught exception), and carries on
 * when the server is back.
 */
import { startSandbox, SANDBOX_ACCESS_KEY, SANDBOX_BOT, type Sandbox } from '../../sandbox/harness';
import { LimeServer } from '../../sandbox/lime-server';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(40_000);

async function readiness(sandbox: Sandbox): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${sandbox.bridge.url}/readyz`);
  return { status: response.status, body: await response.json() };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('BLiP reconnection', () => {
  let sandbox: Sandbox;
  let logs: CapturedLogs;
  let replacement: LimeServer | undefined;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
  });
  afterEach(async () => {
    await sandbox.stop();
    await replacement?.stop();
  });

  it('is not ready while the LIME server is down, reconnects when it is back, and the loop goes on', async () => {
    const port = sandbox.lime.port;
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654321@wa.gw.msging.net',
      'before the outage',
    );

    await sandbox.lime.stop();
    await until(async () => (await readiness(sandbox)).status === 503, 5_000, 'not ready');
    expect((await readiness(sandbox)).body).toMatchObject({
      ready: false,
      checks: { blip: 'not connected' },
    });

    // Down long enough for several failed attempts.
    await until(
      async () => logs.lines().filter((l) => l.code === 'BLIP_RECONNECT_FAILED').length >= 3,
      15_000,
      'failed reconnect attempts',
    );

    replacement = await LimeServer.start({ port, accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    await until(async () => (await readiness(sandbox)).status === 200, 20_000, 'ready again');
    expect(logs.lines().some((l) => l.message === 'BLiP session re-established')).toBe(true);

    // Customer -> helpdesk and agent -> customer both work over the new session.
    replacement.sendFromCustomer(sandbox.bot, maria, 'text/plain', 'after the outage');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets()[0]!.customerMessages.length === 2);
    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual([
      'before the outage',
      'after the outage',
    ]);
    await sandbox.helpdesk.agentReply(ticket.id, 'welcome back');
    const sent = await replacement.waitForSent((s) => s.envelope.content === 'welcome back');
    expect(sent.envelope.to).toBe(maria.address);
  });

  it('sends again, once and in order, the agent replies written into a socket that died before BLiP took them', async () => {
    const customers = [
      sandbox.customer('5511987654321@wa.gw.msging.net'),
      sandbox.customer('5511912345678@wa.gw.msging.net'),
    ];
    for (const customer of customers) sandbox.say(customer, 'hello');
    const tickets = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().length === 2 && sandbox.helpdesk.tickets(),
    );
    // The same texts on both tickets: whichever ticket is whose, each customer must get every one once, in order.
    const replies = [0, 1, 2, 3, 4, 5].map((n) => `reply ${n}`);
    await sandbox.helpdesk.agentReply(tickets[0]!.id, replies[0]!);
    await sandbox.helpdesk.agentReply(tickets[1]!.id, replies[0]!);
    await sandbox.lime.waitForSent(
      (s) => s.envelope.content === 'reply 0' && s.envelope.to === customers[1]!.address,
    );

    // The next two frames (one per customer's lane) vanish with the socket, as frames written just before a
    // connection drop do; the bridge learns of it only from the close.
    sandbox.lime.loseMessagesThenDrop(2);
    for (const text of replies.slice(1)) {
      await Promise.all([
        sandbox.helpdesk.agentReply(tickets[0]!.id, text),
        sandbox.helpdesk.agentReply(tickets[1]!.id, text),
      ]);
    }
    for (const customer of customers) {
      await sandbox.lime.waitForSent(
        (s) => s.envelope.content === 'reply 5' && s.envelope.to === customer.address,
        20_000,
      );
    }
    for (const customer of customers) {
      expect(sandbox.lime.sentTo(customer.address).map((s) => s.envelope.content)).toEqual(replies);
    }
    expect(logs.lines().some((l) => l.code === 'BLIP_DISCONNECTED')).toBe(true);
    expect(logs.lines().some((l) => l.code === 'BLIP_SEND_UNCONFIRMED')).toBe(false);
  });
});

describe('BLiP that does not acknowledge messages', () => {
  let sandbox: Sandbox;
  let logs: CapturedLogs;

  afterEach(() => sandbox.stop());

  const REDIRECT = 'application/vnd.lime.redirect+json';

  it('confirms each send by the socket instead: nothing waits for the confirm timeout, and the loop completes', async () => {
    logs = captureLogs();
    // A wait this long would hold every reply and the Redirect for a minute if sends waited for `accepted`.
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_SEND_CONFIRM_TIMEOUT_MS: '60000' } });
    sandbox.lime.acknowledgeMessages(false);
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654321@wa.gw.msging.net',
      'hello',
    );
    await sandbox.helpdesk.agentReply(ticket.id, 'first');
    await sandbox.helpdesk.agentReply(ticket.id, 'second');
    await sandbox.helpdesk.solve(ticket.id);
    // Closing text and Redirect each wait for the send before them: 3 sends in a row after the replies.
    await sandbox.lime.waitForSent(
      (s) => s.envelope.to === maria.address && s.envelope.type === REDIRECT,
      15_000,
    );
    expect(sandbox.lime.sentTo(maria.address).map((s) => s.envelope.content)).toEqual([
      'first',
      'second',
      'Seu atendimento foi encerrado. Obrigado pelo contato!',
      expect.objectContaining({ context: expect.anything() }),
    ]);
    expect(logs.lines().filter((l) => l.code === 'BLIP_SEND_UNCONFIRMED')).toEqual([]);
    const metrics = await (await fetch(`${sandbox.bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/^bhb_blip_sends_confirmed_total\{by="socket"\} [4-9]/m);
    expect(metrics).not.toMatch(/^bhb_blip_sends_confirmed_total\{by="notification"\}/m);
  });

  it('says once per session that the server does not acknowledge', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_SEND_CONFIRM_TIMEOUT_MS: '200' } });
    sandbox.lime.acknowledgeMessages(false);
    const { ticket } = await openFirstTicket(sandbox, '5511987654321@wa.gw.msging.net', 'hello');
    for (const text of ['a', 'b', 'c']) await sandbox.helpdesk.agentReply(ticket.id, text);
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'c');
    await until(async () => logs.lines().some((l) => l.code === 'BLIP_NO_ACCEPTED'), 5_000, 'the line');
    expect(logs.lines().filter((l) => l.code === 'BLIP_NO_ACCEPTED')).toHaveLength(1);
  });

  it("on a session that acknowledged before, takes the socket's word after the wait, logs it and counts it", async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_SEND_CONFIRM_TIMEOUT_MS: '300' } });
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654321@wa.gw.msging.net',
      'hello',
    );
    await sandbox.helpdesk.agentReply(ticket.id, 'acknowledged');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'acknowledged');
    await until(
      async () =>
        sandbox.lime.sentTo(maria.address).length === 1 && (await sandbox.bridge.runner.idle(), true),
      5_000,
      'the first reply confirmed',
    );
    sandbox.lime.acknowledgeMessages(false);
    await sandbox.helpdesk.agentReply(ticket.id, 'first');
    await sandbox.helpdesk.agentReply(ticket.id, 'second');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'second');
    await until(
      async () => logs.lines().filter((l) => l.code === 'BLIP_SEND_UNCONFIRMED').length >= 2,
      5_000,
      'two unacknowledged sends logged',
    );
    expect(sandbox.lime.sentTo(maria.address).map((s) => s.envelope.content)).toEqual([
      'acknowledged',
      'first',
      'second',
    ]);
    const metrics = await (await fetch(`${sandbox.bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/^bhb_blip_sends_unacknowledged_total [2-9]/m);
  });

  it('sends again, after the reconnect, a reply written into a socket that died before answering the ping', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
    sandbox.lime.acknowledgeMessages(false);
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654321@wa.gw.msging.net',
      'hello',
    );
    await sandbox.helpdesk.agentReply(ticket.id, 'reply 0');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'reply 0');
    // The next frame vanishes with the socket, which answers no ping before it drops.
    sandbox.lime.loseMessagesThenDrop(1);
    await sandbox.helpdesk.agentReply(ticket.id, 'reply 1');
    await sandbox.helpdesk.agentReply(ticket.id, 'reply 2');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'reply 2', 20_000);
    expect(sandbox.lime.sentTo(maria.address).map((s) => s.envelope.content)).toEqual([
      'reply 0',
      'reply 1',
      'reply 2',
    ]);
    expect(logs.lines().some((l) => l.code === 'BLIP_DISCONNECTED')).toBe(true);
  });

  it('drops a socket that stops answering pings, and sends the reply again on a new session', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_COMMAND_TIMEOUT_MS: '1000' } });
    sandbox.lime.acknowledgeMessages(false);
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654321@wa.gw.msging.net',
      'hello',
    );
    sandbox.lime.answerPings(false);
    await sandbox.helpdesk.agentReply(ticket.id, 'are you there?');
    await until(
      async () => logs.lines().some((l) => l.code === 'BLIP_PING_TIMEOUT'),
      10_000,
      'the ping timeout',
    );
    sandbox.lime.answerPings(true);
    // Sent on the dead socket (the server kept it) and again, same id, on the new session: at least once.
    await until(async () => sandbox.lime.sentTo(maria.address).length === 2, 15_000, 'the reply sent again');
    const [first, again] = sandbox.lime.sentTo(maria.address);
    expect(again!.envelope.id).toBe(first!.envelope.id);
    expect(again!.envelope.content).toBe('are you there?');
    expect(logs.lines().some((l) => l.message === 'BLiP session re-established')).toBe(true);
  });
});
