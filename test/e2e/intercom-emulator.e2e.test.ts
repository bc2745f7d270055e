/**
 * The Intercom emulator and adapter beyond the shared contract suite: the emulator really validates requests
 * against the OpenAPI file, its webhooks have the fixtures' shape, the adapter's fallbacks work against it, and a
 * genuinely old notification is refused by the bridge's replay window.
 */
import axios, { type AxiosRequestConfig } from 'axios';
import { IntercomAdapter } from '../../src/adapters/intercom';
import { intercomConfigSchema } from '../../src/adapters/intercom/config';
import { PermanentError, RetryableError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { CustomerRef } from '../../src/core/model';
import { IntercomEmulator } from '../../src/adapters/intercom/emulator';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { readJsonFixture } from '../helpers/fixtures';

jest.setTimeout(30_000);

const TOKEN = 'emulator-test-token';
const SECRET = 'test-intercom-client-secret';

const maria: CustomerRef = {
  key: 'a1b2c3@tunnel.msging.net',
  address: 'a1b2c3@tunnel.msging.net/instance',
  originator: '5511987654321@wa.gw.msging.net',
  name: 'Maria Oliveira',
};
const at = '2026-11-03T14:00:00.000Z';

function adapterFor(emulator: IntercomEmulator, env: Record<string, string> = {}): IntercomAdapter {
  return new IntercomAdapter(intercomConfigSchema.parse({ ...emulator.bridgeEnv(), ...env }), silentLogger);
}

async function open(adapter: IntercomAdapter, text = 'Olá, preciso de ajuda', customer = maria) {
  return adapter.openTicket(
    { customer, sessionId: 's-1', subject: 'BLiP chat', tags: [], first: { id: 'm1', text, at } },
    'open:s-1',
  );
}

describe('Intercom emulator: requests are validated against the OpenAPI file', () => {
  let emulator: IntercomEmulator;
  const call = (config: AxiosRequestConfig & { headers?: Record<string, string> }) =>
    axios.request({
      baseURL: emulator.url,
      validateStatus: () => true,
      ...config,
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        'Intercom-Version': '2.15',
        'Content-Type': 'application/json',
        ...config.headers,
      },
    });

  beforeAll(async () => {
    emulator = await IntercomEmulator.start({ accessToken: TOKEN, clientSecret: SECRET });
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it('accepts the requests the adapter makes (the two documented gaps are relaxed)', async () => {
    const contact = await call({
      method: 'POST',
      url: '/contacts',
      data: { role: 'user', external_id: 'x-1' },
    });
    expect(contact.status).toBe(200);
    // from.id is 24 characters: the file's `format: uuid` would refuse every real contact id.
    const conversation = await call({
      method: 'POST',
      url: '/conversations',
      data: { from: { type: 'user', id: contact.data.id }, body: 'oi' },
    });
    expect(conversation.status).toBe(200);
    const reply = await call({
      method: 'POST',
      url: `/conversations/${conversation.data.conversation_id}/reply`,
      data: { message_type: 'comment', type: 'user', intercom_user_id: contact.data.id, body: 'mais' },
    });
    expect(reply.status).toBe(200);
  });

  it('refuses a reply with an invalid message_type with 400, naming the problem', async () => {
    const { conversation_id: id, contactId } = await emulatorConversation();
    const response = await call({
      method: 'POST',
      url: `/conversations/${id}/reply`,
      data: { message_type: 'shout', type: 'user', intercom_user_id: contactId, body: 'oi' },
    });
    expect(response.status).toBe(400);
    expect(response.data).toMatchObject({ type: 'error.list', errors: [{ code: 'parameter_invalid' }] });
    expect(response.data.errors[0].message).toContain(
      'request/body/message_type must be equal to one of the allowed values: comment',
    );
    // The handler never saw it: no part was added.
    expect(emulator.conversations.get(id)?.parts).toHaveLength(0);
  });

  it.each([
    [
      'a conversation without body',
      '/conversations',
      { from: { type: 'user', id: '6712a4f0c3b9e20017d8a1f5' } },
    ],
    [
      'a conversation from an unknown role',
      '/conversations',
      { from: { type: 'bot', id: '6712a4f0c3b9e20017d8a1f5' }, body: 'x' },
    ],
    [
      'more than 10 attachment_urls',
      '/conversations',
      {
        from: { type: 'user', id: '6712a4f0c3b9e20017d8a1f5' },
        body: 'x',
        attachment_urls: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}.png`),
      },
    ],
    ['a search without query', '/contacts/search', { pagination: { per_page: 5 } }],
  ])('refuses %s with 400', async (_what, url, data) => {
    const response = await call({ method: 'POST', url, data });
    expect(response.status).toBe(400);
  });

  it('checks the token and the pinned Intercom-Version before anything else', async () => {
    const noToken = await call({
      method: 'POST',
      url: '/contacts',
      data: {},
      headers: { Authorization: 'Bearer nope' },
    });
    expect(noToken.status).toBe(401);
    expect(noToken.data.errors[0]).toEqual({ code: 'unauthorized', message: 'Access Token Invalid' });
    const unpinned = await call({
      method: 'POST',
      url: '/contacts',
      data: {},
      headers: { 'Intercom-Version': '2.9' },
    });
    expect(unpinned.status).toBe(400);
    expect(unpinned.data.errors[0].code).toBe('intercom_version_invalid');
  });

  async function emulatorConversation(): Promise<{ conversation_id: string; contactId: string }> {
    const contact = await call({
      method: 'POST',
      url: '/contacts',
      data: { role: 'user', external_id: `x-${Math.random()}` },
    });
    const conversation = await call({
      method: 'POST',
      url: '/conversations',
      data: { from: { type: 'user', id: contact.data.id }, body: 'oi' },
    });
    return { conversation_id: conversation.data.conversation_id, contactId: contact.data.id };
  }
});

describe('Intercom adapter against the emulator', () => {
  let emulator: IntercomEmulator;

  beforeEach(async () => {
    emulator = await IntercomEmulator.start({
      accessToken: TOKEN,
      clientSecret: SECRET,
      searchDelayMs: 60_000,
    });
  });
  afterEach(async () => {
    await emulator.stop();
  });

  it('opens a conversation as the contact, reuses the contact (409 then find_by_external_id), replies and closes', async () => {
    const adapter = adapterFor(emulator);
    const first = await open(adapter);
    expect(first).toEqual({
      vendor: 'intercom',
      id: expect.stringMatching(/^\d+$/),
      requesterId: expect.any(String),
    });
    expect(emulator.contacts.get(first.requesterId!)).toMatchObject({
      external_id: maria.originator,
      name: 'Maria Oliveira',
      role: 'user',
    });

    // The new contact is not searchable yet (Intercom's index delay): create answers 409, the adapter fetches it.
    const second = await open(adapter, 'de novo');
    expect(second.requesterId).toBe(first.requesterId);
    expect(emulator.contacts.size).toBe(1);
    expect(emulator.apiCalls().map((c) => `${c.method} ${c.path.split('?')[0]} ${c.status}`)).toEqual([
      'POST /contacts/search 200',
      'POST /contacts 200',
      'POST /conversations 200',
      `PUT /conversations/${first.id} 200`, // its title: the ticket subject
      'POST /contacts/search 200',
      'POST /contacts 409',
      `GET /contacts/find_by_external_id/${encodeURIComponent(maria.originator!)} 200`,
      'POST /conversations 200',
      `PUT /conversations/${second.id} 200`,
    ]);

    await adapter.appendCustomerMessage(first, { id: 'm2', text: 'mais uma coisa', at });
    await adapter.closeTicket(first, 'customer');
    const [view] = emulator.tickets();
    expect(view).toEqual({
      id: first.id,
      customerMessages: ['Olá, preciso de ajuda', 'mais uma coisa'],
      customerExternalId: maria.originator,
      customerFiles: [],
      closed: true,
      bridgeNotes: [],
    });
    const close = emulator.apiCalls().at(-1);
    expect(close?.body).toEqual({ message_type: 'close', type: 'admin', admin_id: emulator.bridgeAdmin.id });
    for (const c of emulator.apiCalls()) {
      expect(c.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(c.headers['intercom-version']).toBe('2.15');
    }
  });

  it('sends files as attachment_urls with their links in the body, and without them if Intercom refuses them', async () => {
    const adapter = adapterFor(emulator);
    const ticket = await open(adapter);
    const message = {
      id: 'm2',
      text: 'segue o comprovante',
      at,
      attachments: [
        {
          url: 'https://media.msging.net/comprovante.pdf',
          mimeType: 'application/pdf',
          name: 'comprovante.pdf',
        },
      ],
    };
    await adapter.appendCustomerMessage(ticket, message);
    expect(emulator.apiCalls().at(-1)?.body).toEqual({
      message_type: 'comment',
      type: 'user',
      intercom_user_id: ticket.requesterId,
      // Intercom bodies are HTML: the text escaped, its line breaks as <br> (issue 17.7).
      body: '<p>segue o comprovante<br>comprovante.pdf: https://media.msging.net/comprovante.pdf</p>',
      attachment_urls: ['https://media.msging.net/comprovante.pdf'],
    });

    emulator.failNext(1, 400);
    await adapter.appendCustomerMessage(ticket, { ...message, id: 'm3' });
    const [refused, retried] = emulator.apiCalls().slice(-2);
    expect(refused?.status).toBe(400);
    expect(retried?.status).toBe(200);
    expect(retried?.body).not.toHaveProperty('attachment_urls');
    expect((retried?.body as { body: string }).body).toContain('https://media.msging.net/comprovante.pdf');
  });

  it("maps errors: 401 permanent with Intercom's message, 429 retryable with the wait of X-RateLimit-Reset", async () => {
    const wrong = adapterFor(emulator, { INTERCOM_ACCESS_TOKEN: 'wrong' });
    const unauthorized = await open(wrong).catch((err: unknown) => err);
    expect(unauthorized).toBeInstanceOf(PermanentError);
    expect(unauthorized).toMatchObject({
      code: 'INTERCOM_HTTP_401',
      message: 'intercom search contact: HTTP 401: unauthorized (Access Token Invalid)',
    });

    const reset = Math.floor(Date.now() / 1000) + 8;
    emulator.failNext(1, 429, {
      'X-RateLimit-Limit': '10000',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String(reset),
    });
    const limited = await open(adapterFor(emulator)).catch((err: unknown) => err);
    expect(limited).toBeInstanceOf(RetryableError);
    expect((limited as RetryableError).code).toBe('INTERCOM_RATE_LIMITED');
    expect((limited as RetryableError).retryAfterMs).toBeGreaterThan(5_000);
    expect((limited as RetryableError).retryAfterMs).toBeLessThanOrEqual(8_000);
  });

  it('lists the public agent replies for the hand-back (not notes, not the customer), oldest first', async () => {
    const adapter = adapterFor(emulator);
    const ticket = await open(adapter);
    emulator.agentReplySilently(ticket.id, 'primeira resposta');
    emulator.agentReplySilently(ticket.id, 'nota interna', 'note');
    await adapter.appendCustomerMessage(ticket, { id: 'm2', text: 'obrigada', at });
    emulator.agentReplySilently(ticket.id, 'segunda resposta');
    const recent = await adapter.recentAgentMessages(ticket);
    expect(recent.map((e) => [e.eventId.startsWith('part:'), e.message.text, e.agent?.name])).toEqual([
      [true, 'primeira resposta', 'Ana Souza'],
      [true, 'segunda resposta', 'Ana Souza'],
    ]);
  });
});

describe('Intercom webhooks through the bridge', () => {
  let sandbox: Sandbox<'intercom'>;
  let logs: CapturedLogs;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ vendor: 'intercom', logger: logs.logger });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  async function ticketFor(originator: string, text: string) {
    const customer = sandbox.customer(originator);
    sandbox.say(customer, text);
    const ticket = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().find((t) => t.customerExternalId === originator),
      15_000,
      'the conversation',
    );
    return { customer, ticket };
  }

  it("sends notifications with the fixtures' shape, key for key", async () => {
    const { ticket } = await ticketFor('5511900000001@wa.gw.msging.net', 'oi');
    const delivery = await sandbox.helpdesk.agentReply(ticket.id, 'Olá!');
    const sent = JSON.parse(delivery.body) as Notification;
    const fixture = readJsonFixture<Notification>(
      'fixtures/vendors/intercom-conversation-admin-replied.json',
    );
    expect(Object.keys(sent)).toEqual(Object.keys(fixture));
    expect(Object.keys(sent.data.item).sort()).toEqual(Object.keys(fixture.data.item).sort());
    const [part] = sent.data.item.conversation_parts.conversation_parts;
    const [fixturePart] = fixture.data.item.conversation_parts.conversation_parts;
    expect(Object.keys(part!).sort()).toEqual(Object.keys(fixturePart!).sort());
    expect(sent.id).toMatch(/^notif_[0-9a-f-]{36}$/);
    expect(sent.data.item.conversation_parts.total_count).toBe(1);
    expect(delivery.headers).toMatchObject({ 'user-agent': 'intercom-parrot-service-client/1.0' });
  });

  it("echoes the customer's API replies as conversation.user.replied (with app_package_code), which the bridge drops", async () => {
    const { customer, ticket } = await ticketFor('5511900000002@wa.gw.msging.net', 'primeira');
    sandbox.say(customer, 'segunda');
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.deliveries.find((d) => d.body.includes('"conversation.user.replied"')),
      10_000,
      'the echo webhook',
    );
    const echo = sandbox.helpdesk.deliveries.find((d) => d.body.includes('"conversation.user.replied"'))!;
    expect(echo.status).toBe(200);
    const part = (JSON.parse(echo.body) as Notification).data.item.conversation_parts.conversation_parts[0];
    expect(part).toMatchObject({ author: { type: 'user' }, app_package_code: expect.any(String) });
    await new Promise((r) => setTimeout(r, 200));
    expect(sandbox.lime.sentTo(customer.address)).toHaveLength(0);
    expect(ticket.id).toMatch(/^\d+$/);
  });

  it('delivers a reply that also assigns the conversation', async () => {
    const { customer, ticket } = await ticketFor('5511900000003@wa.gw.msging.net', 'oi');
    await sandbox.helpdesk.selfAssign(ticket.id, 'Oi, sou a Ana e vou te atender.');
    const sent = await sandbox.lime.waitForSent(
      (s) => s.envelope.content === 'Oi, sou a Ana e vou te atender.',
    );
    expect(sent.envelope.to).toBe(customer.address);
  });

  it('refuses a genuinely old notification by its signed first_sent_at (the replay window), not by the signature', async () => {
    const { customer, ticket } = await ticketFor('5511900000004@wa.gw.msging.net', 'oi');
    const genuine = await sandbox.helpdesk.agentReply(ticket.id, 'resposta genuína');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'resposta genuína');
    // The genuine notification, as Intercom would have sent it an hour ago: correctly signed, but old.
    const replayed = sandbox.helpdesk.signedDeliveryAt(genuine.body, new Date(Date.now() - 60 * 60_000));
    const delivery = await sandbox.helpdesk.deliverRaw(replayed.body, replayed.headers);
    expect(delivery.status).toBe(401);
    const rejected = logs.lines().filter((l) => l.code === 'WEBHOOK_UNAUTHENTICATED');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reason).toBe('replay-window');
    expect(rejected[0]?.detail).toMatch(/^signature timestamp is 36\d\d s away \(max 300 s\)$/);
    expect(sandbox.lime.sentTo(customer.address).map((s) => s.envelope.content)).toEqual([
      'resposta genuína',
    ]);
  });

  it('accepts the one redelivery Intercom makes a minute later (same first_sent_at), and delivers once', async () => {
    const { customer, ticket } = await ticketFor('5511900000005@wa.gw.msging.net', 'oi');
    const reply = await sandbox.helpdesk.agentReply(ticket.id, 'uma vez');
    const retry = sandbox.helpdesk.signedDeliveryAt(reply.body, new Date(Date.now() - 61_000));
    expect((await sandbox.helpdesk.deliverRaw(retry.body, retry.headers)).status).toBe(200);
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'uma vez');
    await new Promise((r) => setTimeout(r, 200));
    expect(sandbox.lime.sentTo(customer.address)).toHaveLength(1);
  });
});

interface Notification {
  id: string;
  data: {
    item: Record<string, unknown> & {
      conversation_parts: { conversation_parts: Array<Record<string, unknown>>; total_count: number };
    };
  };
}
