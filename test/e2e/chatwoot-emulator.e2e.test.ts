/**
 * The Chatwoot emulator and adapter beyond the shared contract suite: the emulator really validates requests against
 * the OpenAPI file (and the token), and the adapter's retry rules hold against it over real HTTP: a retried open
 * finds the conversation an earlier try made, a retried message already there is not posted again, a refused
 * contact detail does not stop the handoff, and a webhook of the emulator has the fixtures' shape.
 */
import axios from 'axios';
import { ChatwootAdapter } from '../../src/adapters/chatwoot';
import { chatwootConfigSchema } from '../../src/adapters/chatwoot/config';
import { ChatwootEmulator, testKit } from '../../src/adapters/chatwoot/emulator';
import { setupChatwoot } from '../../src/adapters/chatwoot/setup';
import { silentLogger } from '../../src/core/logger';
import type { CustomerRef, OpenTicketRequest } from '../../src/core/model';
import { readFileSync } from 'node:fs';
import path from 'node:path';

jest.setTimeout(30_000);

const maria: CustomerRef = {
  key: 'a1b2c3@tunnel.msging.net',
  address: 'a1b2c3@tunnel.msging.net/instance',
  originator: '5511987654321@wa.gw.msging.net',
  name: 'Maria Oliveira',
};

let emulator: ChatwootEmulator;
beforeEach(async () => {
  emulator = await testKit.start();
});
afterEach(async () => {
  await emulator.stop();
});

const adapter = () => new ChatwootAdapter(chatwootConfigSchema.parse(emulator.bridgeEnv()), silentLogger);
const request = (over: Partial<OpenTicketRequest> = {}): OpenTicketRequest => ({
  customer: maria,
  sessionId: 's-1',
  subject: 'BLiP chat',
  tags: [],
  first: { id: 'm1', text: 'Olá, preciso de ajuda', at: new Date().toISOString() },
  ...over,
});
const api = (method: string, url: string, data?: unknown, token = 'sandbox-chatwoot-access-token') =>
  axios.request({
    method,
    url: `${emulator.url}/api/v1/accounts/3${url}`,
    data,
    headers: { api_access_token: token },
    validateStatus: () => true,
  });

describe('the Chatwoot emulator', () => {
  it('refuses requests the OpenAPI file does not allow, and a wrong token', async () => {
    const ticket = await adapter().openTicket(request(), 'open:s-1');
    expect(
      (await api('post', `/conversations/${ticket.id}/toggle_status`, { status: 'closed' })).status,
    ).toBe(400);
    expect((await api('post', '/contacts', { name: 'no inbox' })).status).toBe(400);
    expect((await api('post', `/conversations/${ticket.id}/messages`, { private: true })).status).toBe(400);
    expect((await api('get', '/contacts/search?q=x', undefined, 'wrong-token')).status).toBe(401);
    expect(
      (await api('post', `/conversations/${ticket.id}/toggle_status`, { status: 'resolved' })).status,
    ).toBe(200);
  });

  it("sends webhooks with the fixtures' shape", async () => {
    const ticket = await adapter().openTicket(request(), 'open:s-1');
    emulator.setWebhookTarget('http://127.0.0.1:9/unreachable');
    const delivery = await emulator.agentReply(ticket.id, 'Olá!');
    const fixture = JSON.parse(
      readFileSync(path.resolve(__dirname, '../fixtures/chatwoot/message-created-outgoing.json'), 'utf8'),
    ) as Record<string, unknown>;
    const body = JSON.parse(delivery.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(Object.keys(fixture).sort());
    expect(Object.keys(body.conversation as object).sort()).toEqual(
      Object.keys(fixture.conversation as object).sort(),
    );
    expect(Object.keys(delivery.headers).sort()).toEqual(
      expect.arrayContaining(['x-chatwoot-delivery', 'x-chatwoot-signature', 'x-chatwoot-timestamp']),
    );
  });
});

describe('the Chatwoot adapter against the emulator', () => {
  it('a retried open returns the conversation the earlier try made', async () => {
    const first = await adapter().openTicket(request(), 'open:s-1');
    const again = await adapter().openTicket(request(), 'open:s-1');
    expect(again).toEqual(first);
    expect(emulator.tickets()).toHaveLength(1);
    // Another session of the same customer is another conversation, for the same contact.
    const next = await adapter().openTicket(request({ sessionId: 's-2' }), 'open:s-2');
    expect(next.id).not.toBe(first.id);
    expect(next.requesterId).toBe(first.requesterId);
    expect(emulator.contacts.size).toBe(1);
  });

  it('a retried message already in the conversation is not posted again; one that is not, is', async () => {
    const cw = adapter();
    const ticket = await cw.openTicket(request(), 'open:s-1');
    const message = { id: 'm2', text: 'segunda via', at: new Date(Date.now() - 1000).toISOString() };
    await cw.appendCustomerMessage(ticket, message, 'msg:s-1:m2');
    await cw.appendCustomerMessage(ticket, message, 'msg:s-1:m2', { again: true });
    const lost = { id: 'm3', text: 'nunca chegou', at: new Date().toISOString() };
    await cw.appendCustomerMessage(ticket, lost, 'msg:s-1:m3', { again: true });
    expect(emulator.tickets()[0]!.customerMessages).toEqual([
      'Olá, preciso de ajuda',
      'segunda via',
      'nunca chegou',
    ]);
  });

  it('opens without the contact details Chatwoot refuses', async () => {
    const ticket = await adapter().openTicket(
      request({ contact: { name: 'Maria Oliveira', phone: '11 98765-4321', email: 'maria@example.com' } }),
      'open:s-1',
    );
    const contact = [...emulator.contacts.values()][0]!;
    expect(contact).toMatchObject({ identifier: maria.originator, phone_number: null, email: null });
    expect(emulator.tickets()[0]).toMatchObject({
      id: ticket.id,
      customerMessages: ['Olá, preciso de ajuda'],
    });
  });

  it('reopens a resolved conversation with the message', async () => {
    const cw = adapter();
    const ticket = await cw.openTicket(request(), 'open:s-1');
    await cw.closeTicket(ticket, 'customer');
    expect(emulator.tickets()[0]!.closed).toBe(true);
    await cw.reopenTicket(ticket, { id: 'm9', text: 'voltei', at: new Date().toISOString() }, 'msg:s-1:m9');
    expect(emulator.tickets()[0]).toMatchObject({
      closed: false,
      customerMessages: ['Olá, preciso de ajuda', 'voltei'],
    });
  });
});

describe('live signals through the public client API (issue 20.2)', () => {
  const publicPath = (ticketId: string) =>
    `/public/api/v1/inboxes/${emulator.inboxIdentifier}/contacts/${encodeURIComponent(maria.originator!)}/conversations/${ticketId}`;

  it('the customer typing: toggle_typing on / off as the contact, without the access token', async () => {
    const cw = adapter();
    const ticket = await cw.openTicket(request(), 'open:s-1');
    const from = emulator.requests.length;
    await cw.customerTyping(ticket, 'composing');
    await cw.customerTyping(ticket, 'paused');
    await cw.customerTyping(ticket, 'composing');
    const conversation = emulator.conversations.get(Number(ticket.id))!;
    expect(conversation.contactTypingLog).toEqual(['on', 'off', 'on']);
    expect(conversation.contactTyping).toBe(true);
    const calls = emulator.requests.slice(from);
    // The inbox identifier is read once; the contact's source_id is known from the open.
    expect(calls.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /api/v1/accounts/3/inboxes/7/ 200',
      `POST ${publicPath(ticket.id)}/toggle_typing 200`,
      `POST ${publicPath(ticket.id)}/toggle_typing 200`,
      `POST ${publicPath(ticket.id)}/toggle_typing 200`,
    ]);
    expect(calls.slice(1).map((r) => r.body)).toEqual([
      { typing_status: 'on' },
      { typing_status: 'off' },
      { typing_status: 'on' },
    ]);
    expect(calls.slice(1).every((r) => r.headers.api_access_token === undefined)).toBe(true);
  });

  it('the customer saw the agent’s message: update_last_seen, and the dashboard shows it read', async () => {
    const cw = adapter();
    const ticket = await cw.openTicket(request(), 'open:s-1');
    // No bridge listens here: the agent's message is stored, its webhook has nowhere to go (not the point).
    await emulator.agentReply(ticket.id, 'Oi! Já vejo isso.').catch(() => undefined);
    const statuses = async () =>
      (
        (await api('GET', `/conversations/${ticket.id}/messages`)).data as {
          payload: Array<{ message_type: number; status: string }>;
        }
      ).payload
        .filter((m) => m.message_type === 1)
        .map((m) => m.status);
    expect(await statuses()).toEqual(['sent']);
    await cw.markReadByCustomer(ticket, { messageId: 'x', at: new Date().toISOString() });
    expect(emulator.conversations.get(Number(ticket.id))!.contactLastSeenAt).toBeGreaterThan(0);
    expect(await statuses()).toEqual(['read']);
    expect(emulator.requests.at(-2)).toMatchObject({
      method: 'POST',
      path: `${publicPath(ticket.id)}/update_last_seen`,
      status: 200,
    });
  });

  it('another process (nothing remembered) finds the contact’s source_id through GET contacts/{id}', async () => {
    const ticket = await adapter().openTicket(request(), 'open:s-1');
    const other = adapter();
    const from = emulator.requests.length;
    await other.customerTyping(ticket, 'composing');
    await other.customerTyping(ticket, 'paused');
    expect(emulator.requests.slice(from).map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        `GET /api/v1/accounts/3/contacts/${ticket.requesterId}`,
        'GET /api/v1/accounts/3/inboxes/7/',
      ]),
    );
    expect(emulator.requests.slice(from)).toHaveLength(4);
    expect(emulator.conversations.get(Number(ticket.id))!.contactTypingLog).toEqual(['on', 'off']);
  });

  it('fails (for the core to drop) on a conversation that is not the contact’s', async () => {
    const cw = adapter();
    const ticket = await cw.openTicket(request(), 'open:s-1');
    await expect(cw.customerTyping({ ...ticket, id: '999' }, 'composing')).rejects.toMatchObject({
      code: expect.stringMatching(/./),
    });
    expect(emulator.conversations.get(Number(ticket.id))!.contactTypingLog).toEqual([]);
  });
});

describe('setup chatwoot', () => {
  it('prints the webhook URL to enter, checks the token and the inbox, and fails on a wrong token', async () => {
    const config = chatwootConfigSchema.parse(emulator.bridgeEnv());
    emulator.setWebhookTarget('https://bridge.acme.com.br/webhooks/chatwoot');
    const steps = await setupChatwoot(config, { endpoint: 'https://bridge.acme.com.br/webhooks/chatwoot' });
    expect(steps.map((s) => [s.status, s.item])).toEqual([
      ['info', 'webhook'],
      ['ok', 'access token'],
      ['ok', 'inbox 7'],
    ]);
    expect(steps[0]!.detail).toContain('Webhook URL:  https://bridge.acme.com.br/webhooks/chatwoot');
    expect(steps[0]!.detail).not.toContain(config.CHATWOOT_WEBHOOK_SECRET);
    const elsewhere = await setupChatwoot(config, { endpoint: 'https://other.example/webhooks/chatwoot' });
    expect(elsewhere.at(-1)).toMatchObject({ status: 'warn', item: 'inbox 7' });
    const wrong = await setupChatwoot({ ...config, CHATWOOT_API_ACCESS_TOKEN: 'wrong' }, { endpoint: 'x' });
    expect(wrong.map((s) => s.status)).toEqual(['info', 'fail']);
  });
});

describe('the team on open', () => {
  it("gives the conversation the handoff's team, mapped by name in CHATWOOT_TEAMS", async () => {
    const cw = new ChatwootAdapter(
      chatwootConfigSchema.parse({ ...emulator.bridgeEnv(), CHATWOOT_TEAMS: 'financeiro:11' }),
      silentLogger,
    );
    const ticket = await cw.openTicket(request({ fields: { team: 'Financeiro' } }), 'open:s-1');
    expect(emulator.conversations.get(Number(ticket.id))?.team).toEqual({ id: 11, name: 'Financeiro' });
  });
});
