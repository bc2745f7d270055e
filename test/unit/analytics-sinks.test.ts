/**
 * Each sink through the real hub (queue, worker) against a local HTTP receiver standing in for the tool:
 * the exact requests each tool gets (path, query, headers, body) and the webhook signature.
 */
import { AnalyticsHub, toAnalyticsEvent } from '../../src/analytics';
import { verifyWebhookSignature, webhookSignature } from '../../src/analytics/sinks/webhook';
import { DomainEvents } from '../../src/core/events';
import { stableId } from '../../src/core/ids';
import { silentLogger } from '../../src/core/logger';
import {
  analyticsConfig,
  customerKey,
  fastTuning,
  handoffEvents as h,
  testNow,
} from '../helpers/analytics-fixtures';
import { AnalyticsReceiver } from '../helpers/analytics-receiver';

const BOT = 'acmehelpdesk@msging.net';
const SECRET = 'webhook-secret-0123456789';

let receiver: AnalyticsReceiver;
let hub: AnalyticsHub | undefined;

beforeEach(async () => {
  receiver = await AnalyticsReceiver.start();
});
afterEach(async () => {
  await hub?.stop();
  hub = undefined;
  await receiver.stop();
});

function startHub(env: Record<string, string>): DomainEvents {
  hub = new AnalyticsHub(analyticsConfig(env), {
    logger: silentLogger,
    bot: BOT,
    now: testNow,
    ...fastTuning,
  });
  const events = new DomainEvents();
  hub.attach(events);
  return events;
}

/** The whole handoff, in the order the bridge emits it. */
function emitHandoff(events: DomainEvents): void {
  events.emit('handoff.started', h.started);
  events.emit('customer.message', h.customerMessage);
  events.emit('agent.message', h.agentMessage);
  events.emit('automatic.message', h.closing);
  events.emit('ticket.closed', h.closed);
  events.emit('redirect.sent', h.redirect);
}

const ms = (iso: string) => Date.parse(iso);

describe('webhook sink', () => {
  it('posts each event as versioned JSON with its id, type and a verifiable HMAC signature over timestamp.body', async () => {
    const events = startHub({
      ANALYTICS_WEBHOOK_ENABLED: 'true',
      ANALYTICS_WEBHOOK_URL: `${receiver.url}/hooks/bridge`,
      ANALYTICS_WEBHOOK_SECRET: SECRET,
    });
    emitHandoff(events);
    await receiver.waitFor(() => receiver.requests.length === 6, 10_000, 'six webhooks');

    expect(receiver.requests.map((r) => r.headers['x-bridge-event-type'])).toEqual([
      'handoff.started',
      'customer.message',
      'agent.message',
      'automatic.message',
      'ticket.closed',
      'redirect.sent',
    ]);
    const timestamp = String(Math.floor(testNow().getTime() / 1000));
    for (const r of receiver.requests) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/hooks/bridge');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-bridge-timestamp']).toBe(timestamp);
      expect(r.headers['x-bridge-signature']).toBe(webhookSignature(SECRET, timestamp, r.raw));
      expect(r.headers['x-bridge-event-id']).toBe((r.body as { id: string }).id);
      expect(verifyWebhookSignature(SECRET, r.headers, r.raw, 300, testNow().getTime())).toBe(true);
      expect(
        verifyWebhookSignature('another-secret-0123456', r.headers, r.raw, 300, testNow().getTime()),
      ).toBe(false);
      expect(verifyWebhookSignature(SECRET, r.headers, `${r.raw} `, 300, testNow().getTime())).toBe(false);
    }
    // Replays outside the window fail.
    const first = receiver.requests[0]!;
    expect(verifyWebhookSignature(SECRET, first.headers, first.raw, 300, testNow().getTime() + 301_000)).toBe(
      false,
    );

    // The documented schema, field by field, for a customer message.
    expect(receiver.requests[1]!.body).toEqual({
      version: 1,
      id: stableId('analytics:customer.message:sess-1:lime-1'),
      type: 'customer.message',
      occurredAt: '2026-11-25T12:00:01.000Z',
      sessionId: 'sess-1',
      customer: { id: customerKey, hashed: false },
      ticket: { vendor: 'zendesk', id: '48213' },
      message: {
        id: 'lime-1',
        direction: 'in',
        author: 'customer',
        text: 'Oi, meu boleto veio errado',
        contentType: 'text/plain',
        attachments: [
          {
            url: 'https://media.example/boleto.pdf',
            mimeType: 'application/pdf',
            name: 'boleto.pdf',
            size: 1234,
          },
        ],
      },
      data: { receivedAt: '2026-11-25T12:00:00.000Z' },
    });
    expect(receiver.requests[0]!.body).toEqual({
      version: 1,
      id: stableId('analytics:handoff.started:sess-1'),
      type: 'handoff.started',
      occurredAt: '2026-11-25T12:00:01.000Z',
      sessionId: 'sess-1',
      customer: {
        id: customerKey,
        hashed: false,
        address: `${customerKey}/default`,
        originator: '5511987654321@wa.gw.msging.net',
        owner: 'acmerouter@msging.net',
        name: 'Maria Souza',
        channel: 'whatsapp',
      },
      ticket: { vendor: 'zendesk', id: '48213' },
      data: { vendor: 'zendesk', openedAt: '2026-11-25T12:00:00.000Z', tags: ['blip_bridge'] },
    });
    expect(receiver.requests[4]!.body).toEqual(toAnalyticsEvent('ticket.closed', h.closed));
    expect((receiver.requests[4]!.body as { data: unknown }).data).toEqual({
      closedBy: 'agent',
      reason: 'solved',
      agentId: '30764510028417',
      agentName: 'Ana',
    });
  });

  it('omits text and file links, and hashes customer ids with the salt, when configured', async () => {
    const events = startHub({
      ANALYTICS_WEBHOOK_ENABLED: 'true',
      ANALYTICS_WEBHOOK_URL: receiver.url,
      ANALYTICS_WEBHOOK_SECRET: SECRET,
      ANALYTICS_WEBHOOK_OMIT_TEXT: 'true',
      ANALYTICS_HASH_CUSTOMER_IDS: 'true',
      ANALYTICS_HASH_SALT: 'salt-salt-salt-salt',
      ANALYTICS_WEBHOOK_EVENTS: 'handoff.started,customer.message',
    });
    emitHandoff(events);
    await receiver.waitFor(() => receiver.requests.length === 2, 10_000, 'two webhooks');
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests).toHaveLength(2);
    for (const r of receiver.requests) {
      expect(r.raw).not.toContain('5511987654321');
      expect(r.raw).not.toContain(customerKey);
      expect(r.raw).not.toContain('Maria');
      expect(r.raw).not.toContain('boleto');
    }
    const [started, message] = receiver.requests.map(
      (r) => r.body as { customer: { id: string }; message?: unknown },
    );
    expect(started!.customer).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      hashed: true,
      address: expect.stringMatching(/^[0-9a-f]{32}$/),
      originator: expect.stringMatching(/^[0-9a-f]{32}$/),
      owner: 'acmerouter@msging.net',
      channel: 'whatsapp',
    });
    // The same customer gets the same id on every event.
    expect(message!.customer).toEqual({ id: started!.customer.id, hashed: true });
    expect(message!.message).toEqual({
      id: 'lime-1',
      direction: 'in',
      author: 'customer',
      textOmitted: true,
      contentType: 'text/plain',
      attachments: [{ mimeType: 'application/pdf', size: 1234 }],
    });
  });
});

describe('dashbot sink', () => {
  it('tracks customer messages as incoming, agent and bridge messages as outgoing, the rest as custom events', async () => {
    const events = startHub({
      ANALYTICS_DASHBOT_ENABLED: 'true',
      ANALYTICS_DASHBOT_API_KEY: 'dashbot-key',
      ANALYTICS_DASHBOT_URL: `${receiver.url}/track`,
    });
    emitHandoff(events);
    await receiver.waitFor(() => receiver.requests.length === 6, 10_000, 'six dashbot calls');
    const r = receiver.requests;
    expect(r.map((x) => x.query.type)).toEqual([
      'event',
      'incoming',
      'outgoing',
      'outgoing',
      'event',
      'event',
    ]);
    for (const x of r) {
      expect(x.path).toBe('/track');
      expect(x.query).toMatchObject({ platform: 'universal', v: '11.1.0-rest', apiKey: 'dashbot-key' });
    }
    const startedId = stableId('analytics:handoff.started:sess-1');
    expect(r[0]!.body).toEqual({
      name: 'handoff.started',
      type: 'customEvent',
      userId: customerKey,
      conversationId: 'sess-1',
      dashbot_timestamp: ms('2026-11-25T12:00:01.000Z'),
      extraInfo: {
        eventId: startedId,
        occurredAt: '2026-11-25T12:00:01.000Z',
        ticket: { vendor: 'zendesk', id: '48213' },
        channel: 'whatsapp',
        vendor: 'zendesk',
        openedAt: '2026-11-25T12:00:00.000Z',
        tags: ['blip_bridge'],
      },
    });
    expect(r[1]!.body).toEqual({
      text: 'Oi, meu boleto veio errado',
      userId: customerKey,
      sessionId: 'sess-1',
      dashbot_timestamp: ms('2026-11-25T12:00:01.000Z'),
      platformJson: {
        eventId: stableId('analytics:customer.message:sess-1:lime-1'),
        eventType: 'customer.message',
        messageId: 'lime-1',
        author: 'customer',
        occurredAt: '2026-11-25T12:00:01.000Z',
        ticket: { vendor: 'zendesk', id: '48213' },
        contentType: 'text/plain',
        attachments: [
          {
            url: 'https://media.example/boleto.pdf',
            mimeType: 'application/pdf',
            name: 'boleto.pdf',
            size: 1234,
          },
        ],
      },
    });
    expect(r[2]!.body).toEqual({
      text: 'Olá Maria! Corrigi o boleto.',
      userId: customerKey,
      sessionId: 'sess-1',
      dashbot_timestamp: ms('2026-11-25T12:00:05.000Z'),
      platformJson: {
        eventId: stableId('analytics:agent.message:sess-1:comment-77'),
        eventType: 'agent.message',
        messageId: 'comment-77',
        author: 'agent',
        occurredAt: '2026-11-25T12:00:05.000Z',
        ticket: { vendor: 'zendesk', id: '48213' },
        agent: { id: '30764510028417', name: 'Ana' },
      },
    });
    expect(r[4]!.body).toMatchObject({
      name: 'ticket.closed',
      type: 'customEvent',
      extraInfo: { closedBy: 'agent', reason: 'solved' },
    });
  });

  it('leaves dashbot_timestamp out for events older than Dashbot accepts (an hour), after an outage', async () => {
    hub = new AnalyticsHub(
      analyticsConfig({
        ANALYTICS_DASHBOT_ENABLED: 'true',
        ANALYTICS_DASHBOT_API_KEY: 'k',
        ANALYTICS_DASHBOT_URL: receiver.url,
      }),
      { logger: silentLogger, bot: BOT, now: () => new Date('2026-11-25T14:00:00.000Z'), ...fastTuning },
    );
    hub.publish('customer.message', h.customerMessage);
    await receiver.waitFor(() => receiver.requests.length === 1);
    expect(receiver.requests[0]!.body).not.toHaveProperty('dashbot_timestamp');
  });
});

describe('chatbase sink', () => {
  it('sends the batch format: user messages with not_handled false, agent and bridge messages as agent', async () => {
    receiver.setMode(() => ({ status: 200, body: { all_succeeded: true, status: 200, responses: [] } }));
    const events = startHub({
      ANALYTICS_CHATBASE_ENABLED: 'true',
      ANALYTICS_CHATBASE_API_KEY: 'chatbase-key',
      ANALYTICS_CHATBASE_URL: `${receiver.url}/api/messages`,
    });
    emitHandoff(events);
    await receiver.waitFor(
      () => receiver.requests.flatMap((r) => (r.body as { messages: unknown[] }).messages).length === 3,
      10_000,
      'three messages',
    );
    const messages = receiver.requests.flatMap((r) => (r.body as { messages: unknown[] }).messages);
    expect(receiver.requests.every((r) => r.path === '/api/messages')).toBe(true);
    expect(messages).toEqual([
      {
        api_key: 'chatbase-key',
        type: 'user',
        user_id: customerKey,
        time_stamp: ms('2026-11-25T12:00:01.000Z'),
        platform: 'BLiP',
        message: 'Oi, meu boleto veio errado',
        not_handled: false,
        session_id: 'sess-1',
      },
      {
        api_key: 'chatbase-key',
        type: 'agent',
        user_id: customerKey,
        time_stamp: ms('2026-11-25T12:00:05.000Z'),
        platform: 'BLiP',
        message: 'Olá Maria! Corrigi o boleto.',
        session_id: 'sess-1',
      },
      {
        api_key: 'chatbase-key',
        type: 'agent',
        user_id: customerKey,
        time_stamp: ms('2026-11-25T12:00:09.000Z'),
        platform: 'BLiP',
        message: 'Seu atendimento foi encerrado.',
        session_id: 'sess-1',
      },
    ]);
  });

  it('resends a partly rejected batch message by message and drops only the rejected one', async () => {
    receiver.setMode('hang');
    hub = new AnalyticsHub(
      analyticsConfig({
        ANALYTICS_CHATBASE_ENABLED: 'true',
        ANALYTICS_CHATBASE_API_KEY: 'k',
        ANALYTICS_CHATBASE_URL: receiver.url,
      }),
      { logger: silentLogger, bot: BOT, now: testNow, ...fastTuning },
    );
    hub.publish('customer.message', { ...h.customerMessage, messageId: 'first' });
    await receiver.waitFor(() => receiver.holding === 1);
    hub.publish('customer.message', { ...h.customerMessage, messageId: 'bad', text: 'REJECT ME' });
    hub.publish('agent.message', h.agentMessage);
    receiver.setMode((req) => {
      const msgs = (req.body as { messages: Array<{ message: string }> }).messages;
      return msgs.some((m) => m.message === 'REJECT ME')
        ? { status: 200, body: { all_succeeded: false, status: 200 } }
        : { status: 200, body: { all_succeeded: true, status: 200 } };
    });
    await receiver.waitFor(() => hub!.stats().chatbase!.sent === 2 && hub!.stats().chatbase!.failed === 1);
    // first (alone), then [bad, agent] rejected, then bad alone (rejected), then agent alone.
    expect(receiver.requests.map((r) => (r.body as { messages: unknown[] }).messages.length)).toEqual([
      1, 2, 1, 1,
    ]);
    expect(hub.stats().chatbase).toMatchObject({ sent: 2, failed: 1, queueDepth: 0 });
  });
});

describe('botanalytics sink', () => {
  it('v2: posts Universal messages with user, human-agent and virtual-agent senders and a Bearer key', async () => {
    const events = startHub({
      ANALYTICS_BOTANALYTICS_ENABLED: 'true',
      ANALYTICS_BOTANALYTICS_TOKEN: 'header.payload.sig',
      ANALYTICS_BOTANALYTICS_URL: `${receiver.url}/v2/messages`,
    });
    emitHandoff(events);
    await receiver.waitFor(
      () => receiver.requests.flatMap((r) => (r.body as { messages: unknown[] }).messages).length === 3,
    );
    expect(receiver.requests.every((r) => r.headers.authorization === 'Bearer header.payload.sig')).toBe(
      true,
    );
    expect(receiver.requests.every((r) => r.path === '/v2/messages')).toBe(true);
    const messages = receiver.requests.flatMap((r) => (r.body as { messages: unknown[] }).messages);
    expect(messages).toEqual([
      {
        message: {
          id: 'lime-1',
          thread: { id: customerKey },
          conversation: { id: 'sess-1' },
          timestamp: ms('2026-11-25T12:00:01.000Z'),
          sender: { id: customerKey, type: 'user' },
          content: { texts: [{ text: 'Oi, meu boleto veio errado' }] },
        },
      },
      {
        message: {
          id: 'comment-77',
          thread: { id: customerKey },
          conversation: { id: 'sess-1' },
          timestamp: ms('2026-11-25T12:00:05.000Z'),
          sender: { id: '30764510028417', type: 'human-agent' },
          recipient: { id: customerKey },
          content: { texts: [{ text: 'Olá Maria! Corrigi o boleto.' }] },
        },
      },
      {
        message: {
          id: stableId('automatic:sess-1:closing:2026-11-25T12:00:09.000Z'),
          thread: { id: customerKey },
          conversation: { id: 'sess-1' },
          timestamp: ms('2026-11-25T12:00:09.000Z'),
          sender: { id: BOT, type: 'virtual-agent' },
          recipient: { id: customerKey },
          content: { texts: [{ text: 'Seu atendimento foi encerrado.' }] },
        },
      },
    ]);
  });

  it('v1: posts the generic format, one message per request, with a Token header', async () => {
    const events = startHub({
      ANALYTICS_BOTANALYTICS_ENABLED: 'true',
      ANALYTICS_BOTANALYTICS_TOKEN: 'legacy-token',
      ANALYTICS_BOTANALYTICS_API: 'v1',
      ANALYTICS_BOTANALYTICS_URL: `${receiver.url}/api/v1/messages/generic/`,
    });
    emitHandoff(events);
    await receiver.waitFor(() => receiver.requests.length === 3);
    expect(receiver.requests.every((r) => r.headers.authorization === 'Token legacy-token')).toBe(true);
    expect(receiver.requests.map((r) => r.body)).toEqual([
      {
        is_sender_bot: false,
        user: { id: customerKey, name: customerKey },
        message: { timestamp: ms('2026-11-25T12:00:01.000Z'), text: 'Oi, meu boleto veio errado' },
      },
      {
        is_sender_bot: true,
        user: { id: customerKey, name: customerKey },
        message: { timestamp: ms('2026-11-25T12:00:05.000Z'), text: 'Olá Maria! Corrigi o boleto.' },
      },
      {
        is_sender_bot: true,
        user: { id: customerKey, name: customerKey },
        message: { timestamp: ms('2026-11-25T12:00:09.000Z'), text: 'Seu atendimento foi encerrado.' },
      },
    ]);
  });
});

describe('segment sink', () => {
  it('sends track calls to /v1/batch with Basic auth, messageId = event id, userId = customer', async () => {
    const events = startHub({
      ANALYTICS_SEGMENT_ENABLED: 'true',
      ANALYTICS_SEGMENT_WRITE_KEY: 'write-key',
      ANALYTICS_SEGMENT_URL: `${receiver.url}/v1/batch`,
    });
    emitHandoff(events);
    const calls = () => receiver.requests.flatMap((r) => (r.body as { batch: unknown[] }).batch);
    await receiver.waitFor(() => calls().length === 6);
    for (const r of receiver.requests) {
      expect(r.path).toBe('/v1/batch');
      expect(r.headers.authorization).toBe(`Basic ${Buffer.from('write-key:').toString('base64')}`);
      expect((r.body as { sentAt: string }).sentAt).toBe(testNow().toISOString());
    }
    const track = calls() as Array<Record<string, unknown>>;
    expect(track.map((t) => t.event)).toEqual([
      'Handoff Started',
      'Customer Message Sent',
      'Agent Message Sent',
      'Automatic Message Sent',
      'Ticket Closed',
      'Redirect Sent',
    ]);
    expect(track[1]).toEqual({
      type: 'track',
      messageId: stableId('analytics:customer.message:sess-1:lime-1'),
      userId: customerKey,
      event: 'Customer Message Sent',
      properties: {
        schemaVersion: 1,
        eventType: 'customer.message',
        sessionId: 'sess-1',
        ticketVendor: 'zendesk',
        ticketId: '48213',
        receivedAt: '2026-11-25T12:00:00.000Z',
        messageId: 'lime-1',
        direction: 'in',
        author: 'customer',
        text: 'Oi, meu boleto veio errado',
        contentType: 'text/plain',
        attachmentCount: 1,
        attachments: [
          {
            url: 'https://media.example/boleto.pdf',
            mimeType: 'application/pdf',
            name: 'boleto.pdf',
            size: 1234,
          },
        ],
      },
      timestamp: '2026-11-25T12:00:01.000Z',
      context: { library: { name: 'blip-helpdesk-bridge' } },
    });
    expect(track[0]!.properties).toMatchObject({ channel: 'whatsapp', vendor: 'zendesk' });
  });
});
