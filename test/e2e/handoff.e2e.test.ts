/**
 * Zendesk-specific checks of the whole loop (what every vendor must do is in test/adapters/contract.test.ts).
 * The whole loop through real processes: the real blip-sdk client against the local LIME server, real HTTP to the
 * Zendesk emulator (validating against the OpenAPI file), real signed webhooks, and real Redis for the Redis run.
 */
import axios from 'axios';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

jest.setTimeout(30_000);

const REDIRECT = 'application/vnd.lime.redirect+json';

describeEachState([['memory'], ['redis']])('handoff loop with %s state', (mode) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox;
  let logs: CapturedLogs;

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  beforeEach(async () => {
    await redis?.flush();
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, redisUrl: redis?.url });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const ticketsOf = (s: Sandbox) => [...s.helpdesk.ticketsById.values()];
  const waitTicketCount = (n: number) =>
    sandbox.helpdesk.waitFor(
      () => ticketsOf(sandbox).length >= n && ticketsOf(sandbox),
      10_000,
      `${n} ticket(s)`,
    );
  const textsTo = (c: SandboxCustomer) =>
    sandbox.lime
      .sentTo(c.address)
      .map((s) => (s.envelope.type === 'text/plain' ? String(s.envelope.content) : s.envelope.type));

  it('opens a ticket, appends in order, delivers the agent reply, hands back on solve, and starts over', async () => {
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(maria, 'first');
    const [ticket] = await waitTicketCount(1);
    sandbox.say(maria, 'second');
    sandbox.say(maria, 'third');
    await sandbox.helpdesk.waitFor(() => ticket!.comments.length === 3, 10_000, 'three comments');

    // Every comment is the customer's, authored by the requester (not the API agent), in order.
    expect(ticket!.comments.map((c) => c.body)).toEqual(['first', 'second', 'third']);
    expect(new Set(ticket!.comments.map((c) => c.author_id))).toEqual(new Set([ticket!.requester_id]));
    const requester = sandbox.helpdesk.users.get(ticket!.requester_id);
    expect(requester?.external_id).toBe('5511987654321@wa.gw.msging.net');
    expect(ticket!.tags).toContain('blip_bridge');
    // Ticket creation carried an idempotency key.
    expect(
      sandbox.helpdesk.apiCallsTo('POST', /^\/api\/v2\/tickets$/)[0]?.headers['idempotency-key'],
    ).toMatch(/^open:/);

    // The echo webhooks of the customer's own comments never came back to the customer.
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.deliveries.length >= 3, 10_000, 'echo webhooks');
    expect(sandbox.lime.sentTo(maria.address)).toHaveLength(0);

    const reply = await sandbox.helpdesk.agentReply(ticket!.id, 'Hello Maria, checking now.');
    expect(reply.status).toBe(200);
    const delivered = await sandbox.lime.waitForSent(
      (s) => s.envelope.content === 'Hello Maria, checking now.',
    );
    expect(delivered.envelope.to).toBe(maria.address);
    expect(delivered.envelope.type).toBe('text/plain');

    await sandbox.helpdesk.agentNote(ticket!.id, 'internal: customer is VIP');
    await sandbox.helpdesk.solve(ticket!.id);
    const redirect = await sandbox.lime.waitForSent(
      (s) => s.envelope.to === maria.address && s.envelope.type === REDIRECT,
    );

    expect(textsTo(maria)).toEqual([
      'Hello Maria, checking now.',
      'Seu atendimento foi encerrado. Obrigado pelo contato!',
      REDIRECT,
    ]);
    const content = redirect.envelope.content as {
      address?: string;
      context: { type: string; value: Record<string, unknown> };
    };
    expect(content.address).toBeUndefined();
    expect(content.context.type).toBe('application/vnd.iris.ticket+json');
    expect(content.context.value).toMatchObject({
      sequentialId: ticket!.id,
      customerIdentity: maria.address,
      status: 'ClosedAttendant',
      endedBy: 'agent',
      closed: true,
      provider: 'zendesk',
      externalId: String(ticket!.id),
      agentIdentity: expect.stringContaining('30764510028417'),
    });

    // State cleared: the next message opens a new ticket.
    sandbox.say(maria, 'one more question');
    const tickets = await waitTicketCount(2);
    expect(tickets[1]!.id).not.toBe(ticket!.id);
    expect(tickets[1]!.comments[0]!.body).toBe('one more question');
  });

  it('delivers an instant auto-reply whose webhook arrives before the ticket creation returns', async () => {
    sandbox.helpdesk.setAutoReply('Recebemos sua mensagem, já vamos atender.');
    const ivo = sandbox.customer('5511900000009@wa.gw.msging.net');
    sandbox.say(ivo, 'oi');
    const sent = await sandbox.lime.waitForSent((s) => s.envelope.to === ivo.address);
    expect(sent.envelope.content).toBe('Recebemos sua mensagem, já vamos atender.');
    expect(logs.lines().filter((l) => l.code === 'UNKNOWN_TICKET')).toHaveLength(0);
  });

  it('keeps two customers apart', async () => {
    const ana = sandbox.customer('5511900000001@wa.gw.msging.net');
    const bia = sandbox.customer('5511900000002@wa.gw.msging.net');
    sandbox.say(ana, 'ana 1');
    sandbox.say(bia, 'bia 1');
    sandbox.say(ana, 'ana 2');
    sandbox.say(bia, 'bia 2');
    await sandbox.helpdesk.waitFor(
      () => ticketsOf(sandbox).reduce((n, t) => n + t.comments.length, 0) === 4,
      10_000,
      'four comments',
    );
    const byRequester = new Map(
      ticketsOf(sandbox).map((t) => [sandbox.helpdesk.users.get(t.requester_id)?.external_id, t]),
    );
    expect(byRequester.get(ana.originator)!.comments.map((c) => c.body)).toEqual(['ana 1', 'ana 2']);
    expect(byRequester.get(bia.originator)!.comments.map((c) => c.body)).toEqual(['bia 1', 'bia 2']);

    await sandbox.helpdesk.agentReply(byRequester.get(bia.originator)!.id, 'for bia');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'for bia');
    expect(textsTo(bia)).toEqual(['for bia']);
    expect(textsTo(ana)).toEqual([]);
  });

  it('opens exactly one ticket for two simultaneous first messages', async () => {
    const carla = sandbox.customer('5511900000003@wa.gw.msging.net');
    sandbox.say(carla, 'hello?');
    sandbox.say(carla, 'anyone there?');
    await sandbox.helpdesk.waitFor(
      () => ticketsOf(sandbox)[0]?.comments.length === 2,
      10_000,
      'two comments',
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(ticketsOf(sandbox)).toHaveLength(1);
    expect(sandbox.helpdesk.apiCallsTo('POST', /^\/api\/v2\/tickets$/)).toHaveLength(1);
    expect(ticketsOf(sandbox)[0]!.comments.map((c) => c.body)).toEqual(['hello?', 'anyone there?']);
  });

  it('delivers an agent reply whose webhook lost the race against the solve, before the hand-back', async () => {
    const fabi = sandbox.customer('5511900000006@wa.gw.msging.net');
    sandbox.say(fabi, 'hi');
    const [ticket] = await waitTicketCount(1);
    sandbox.helpdesk.agentReplySilently(ticket!.id, 'last words before solving');
    await sandbox.helpdesk.solve(ticket!.id);
    await sandbox.lime.waitForSent((s) => s.envelope.to === fabi.address && s.envelope.type === REDIRECT);
    expect(textsTo(fabi)).toEqual([
      'last words before solving',
      'Seu atendimento foi encerrado. Obrigado pelo contato!',
      REDIRECT,
    ]);
  });

  it('survives malformed envelopes and webhook bodies with a clear log line', async () => {
    sandbox.lime.sendRaw(
      sandbox.bot,
      JSON.stringify({ id: 'bad-1', to: sandbox.bot, type: 'text/plain', content: 'no from' }),
    );
    sandbox.lime.sendRaw(
      sandbox.bot,
      JSON.stringify({
        id: 'bad-2',
        from: 'x@tunnel.msging.net',
        to: sandbox.bot,
        type: 'not a mime',
        content: 1,
      }),
    );
    const body = JSON.stringify({ hello: 'world' });
    const webhook = await sandbox.helpdesk.deliverRaw(body, sandbox.helpdesk.signedHeaders(body));
    expect(webhook.status).toBe(400);

    // The bridge still works for everybody else.
    const gil = sandbox.customer('5511900000007@wa.gw.msging.net');
    sandbox.say(gil, 'still there?');
    await waitTicketCount(1);
    const codes = logs.lines().map((l) => l.code);
    expect(codes.filter((c) => c === 'LIME_BAD_ENVELOPE')).toHaveLength(2);
    expect(codes).toContain('ZENDESK_BAD_WEBHOOK');
  });

  it('reports ready with BLiP connected and the store reachable', async () => {
    const response = await axios.get(`${sandbox.bridge.url}/readyz`);
    expect(response.data).toEqual({ ready: true, checks: { blip: 'ok', state: 'ok' } });
    expect((await axios.get(`${sandbox.bridge.url}/healthz`)).status).toBe(200);
  });
});

describe('the Zendesk emulator', () => {
  it('rejects requests that do not match the official OpenAPI file', async () => {
    const sandbox = await startSandbox({ logger: captureLogs('error').logger });
    try {
      expect(sandbox.helpdesk.validating).toBe(true);
      const auth = { username: 'bridge@acme.example/token', password: 'sandbox-token' };
      const bad = await axios.put(
        `${sandbox.helpdesk.url}/api/v2/tickets/1`,
        { ticket: { status: 'bogus' } },
        { auth, validateStatus: () => true },
      );
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.data)).toMatch(/status/);
    } finally {
      await sandbox.stop();
    }
  });
});
