import { createHmac } from 'node:crypto';
import type { RawRequest } from '../../src/adapters/adapter';
import { partContent } from '../../src/adapters/intercom';
import { intercomConfigSchema } from '../../src/adapters/intercom/config';
import { IntercomWebhook, intercomSignature } from '../../src/adapters/intercom/webhook';
import { PermanentError } from '../../src/core/errors';
import type { AgentMessageEvent, HelpdeskEvent } from '../../src/core/model';
import { readFixture, readJsonFixture } from '../helpers/fixtures';

const SECRET = 'test-intercom-client-secret';
const BRIDGE_ADMIN = '8823001';
const SIGNED_BODY = 'fixtures/vendors/intercom-conversation-admin-replied.json';
const fixtureHeaders = readJsonFixture<Record<string, string>>(
  'fixtures/vendors/intercom-webhook-headers.json',
);
/** The fixture's headers as the HTTP edge hands them over: names in lower case. */
const headers = Object.fromEntries(Object.entries(fixtureHeaders).map(([k, v]) => [k.toLowerCase(), v]));

function request(body: Buffer | string, hdrs: Record<string, string | undefined> = headers): RawRequest {
  return {
    method: 'POST',
    path: '/webhooks/intercom',
    headers: hdrs,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    receivedAt: new Date('2026-11-03T14:22:06Z'),
  };
}

function vendorFixture(name: string): RawRequest {
  return request(readFixture(`fixtures/vendors/${name}`));
}

type Json = Record<string, unknown> & {
  topic: string;
  data: { item: { conversation_parts: { conversation_parts: Array<Record<string, unknown>> } } };
};

/** A fixture as JSON, changed by `edit`, as a request (parse does not look at the signature). */
function edited(name: string, edit: (json: Json) => void): RawRequest {
  const json = readJsonFixture<Json>(`fixtures/vendors/${name}`);
  edit(json);
  return request(JSON.stringify(json));
}

function firstPart(json: Json): Record<string, unknown> {
  const part = json.data.item.conversation_parts.conversation_parts[0];
  if (!part) throw new Error('fixture without a part');
  return part;
}

function onlyAgentMessage(events: HelpdeskEvent[]): AgentMessageEvent {
  expect(events).toHaveLength(1);
  const [event] = events;
  if (event?.kind !== 'agent.message') throw new Error(`expected agent.message, got ${event?.kind}`);
  return event;
}

describe('IntercomWebhook.verify', () => {
  const webhook = new IntercomWebhook(SECRET, BRIDGE_ADMIN);
  const body = readFixture(SIGNED_BODY);

  it('accepts the exact fixture bytes, and reports when Intercom sent them (first_sent_at, in the signed body)', () => {
    expect(webhook.verify(request(body))).toEqual({
      ok: true,
      // first_sent_at 1793715726; created_at is 1793715725.
      signedAt: new Date('2026-11-03T14:22:06Z'),
    });
  });

  it('computes the documented signature: sha1=<hex HMAC-SHA1(client secret, raw body)>', () => {
    const hex = createHmac('sha1', SECRET).update(body).digest('hex');
    expect(`sha1=${hex}`).toBe(fixtureHeaders['X-Hub-Signature']);
    expect(intercomSignature(SECRET, body)).toBe(fixtureHeaders['X-Hub-Signature']);
  });

  it('rejects a body that differs by one byte', () => {
    const tampered = Buffer.from(body);
    tampered[tampered.indexOf('88231')] = '9'.charCodeAt(0);
    expect(webhook.verify(request(tampered))).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('rejects the body re-serialised (the signature is over the raw bytes)', () => {
    const reserialised = JSON.stringify(JSON.parse(body.toString('utf8')));
    expect(webhook.verify(request(reserialised)).ok).toBe(false);
  });

  it('rejects an old notification made to look fresh: its time is inside the signed bytes', () => {
    const json = JSON.parse(body.toString('utf8')) as Json;
    const refreshed = JSON.stringify({ ...json, first_sent_at: 1793719999, created_at: 1793719999 });
    expect(webhook.verify(request(refreshed))).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('rejects the right body verified with a wrong secret', () => {
    expect(new IntercomWebhook(`${SECRET}x`).verify(request(body))).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
  });

  it('rejects a request without X-Hub-Signature', () => {
    const result = webhook.verify(request(body, { ...headers, 'x-hub-signature': undefined }));
    expect(result).toEqual({ ok: false, reason: 'missing X-Hub-Signature header' });
  });

  it.each([
    ['without the sha1= prefix', fixtureHeaders['X-Hub-Signature']!.slice(5)],
    ['as sha256', `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`],
    ['as base64', `sha1=${createHmac('sha1', SECRET).update(body).digest('base64')}`],
    ['truncated', fixtureHeaders['X-Hub-Signature']!.slice(0, 30)],
  ])('rejects the signature %s', (_what, signature) => {
    expect(webhook.verify(request(body, { ...headers, 'x-hub-signature': signature })).ok).toBe(false);
  });

  it('accepts the hex digest in upper case', () => {
    const upper = `sha1=${fixtureHeaders['X-Hub-Signature']!.slice(5).toUpperCase()}`;
    expect(webhook.verify(request(body, { ...headers, 'x-hub-signature': upper })).ok).toBe(true);
  });

  it('falls back to created_at when first_sent_at is missing or 0', () => {
    const other = JSON.stringify({ type: 'notification_event', created_at: 1793714000, first_sent_at: 0 });
    const result = webhook.verify(request(other, { 'x-hub-signature': intercomSignature(SECRET, other) }));
    expect(result).toEqual({ ok: true, signedAt: new Date(1793714000 * 1000) });
  });

  it.each([
    ['no timestamps', '{"type":"notification_event","topic":"ping"}'],
    ['a string timestamp', '{"type":"notification_event","created_at":"2026-11-03T14:22:06Z"}'],
    ['a body that is not JSON', 'not json'],
  ])('rejects a correctly signed body with %s (no replay check possible)', (_what, other) => {
    const result = webhook.verify(request(other, { 'x-hub-signature': intercomSignature(SECRET, other) }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/first_sent_at/);
  });
});

describe('IntercomWebhook.parse', () => {
  const webhook = new IntercomWebhook(SECRET, BRIDGE_ADMIN);

  it('turns conversation.admin.replied into one agent.message with both attachments', () => {
    const event = onlyAgentMessage(webhook.parse(vendorFixture('intercom-conversation-admin-replied.json')));
    expect(event.ticket).toEqual({ vendor: 'intercom', id: '215472899104387' });
    expect(event.eventId).toBe('part:37360122451');
    expect(event.agent).toEqual({ id: '8823104', name: 'Ana Souza' });
    expect(event.message).toEqual({
      id: '37360122451',
      text: 'Olá Maria! Localizei seu pedido 88231: ele saiu para entrega hoje às 9h e deve chegar até as 18h. Segue o comprovante.',
      attachments: [
        {
          url: expect.stringMatching(
            /^https:\/\/acme-3f9a1c7e5b2d\.intercom-attachments-2\.com\/.*comprovante-entrega-88231\.png\?expires=/,
          ),
          mimeType: 'image/png',
          name: 'comprovante-entrega-88231.png',
          size: 184233,
        },
        {
          url: expect.stringMatching(/nota-fiscal-88231\.pdf\?expires=/),
          mimeType: 'application/pdf',
          name: 'nota-fiscal-88231.pdf',
          size: 48213,
        },
      ],
      at: '2026-11-03T14:22:05.000Z',
    });
  });

  it('drops conversation.admin.noted (internal note)', () => {
    expect(webhook.parse(vendorFixture('intercom-conversation-admin-noted.json'))).toEqual([]);
  });

  it('drops a note part even when it comes under the replied topic', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-noted.json', (json) => (json.topic = 'conversation.admin.replied')),
    );
    expect(events).toEqual([]);
  });

  it('turns conversation.admin.assigned into ticket.assigned for the assignee (not the admin who assigned)', () => {
    expect(webhook.parse(vendorFixture('intercom-conversation-admin-assigned.json'))).toEqual([
      {
        kind: 'ticket.assigned',
        ticket: { vendor: 'intercom', id: '215472899104387' },
        eventId: 'assign:37360071186',
        agent: { id: '8823104' },
      },
    ]);
  });

  it('turns conversation.admin.closed into ticket.closed, with the agent who closed', () => {
    expect(webhook.parse(vendorFixture('intercom-conversation-admin-closed.json'))).toEqual([
      {
        kind: 'ticket.closed',
        ticket: { vendor: 'intercom', id: '215472899104387' },
        eventId: 'close:37360167029',
        reason: 'closed',
        agent: { id: '8823104', name: 'Ana Souza' },
      },
    ]);
  });

  it('delivers a closing message carried by the close part before the close', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-closed.json', (json) => {
        firstPart(json).body = 'Pedido entregue. Obrigada, Maria!';
      }),
    );
    expect(events.map((e) => [e.kind, e.eventId])).toEqual([
      ['agent.message', 'part:37360167029'],
      ['ticket.closed', 'close:37360167029'],
    ]);
  });

  it('closes on a closed notification without a close part, keyed by the notification id', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-closed.json', (json) => {
        json.data.item.conversation_parts.conversation_parts = [];
      }),
    );
    expect(events).toEqual([
      expect.objectContaining({
        kind: 'ticket.closed',
        eventId: 'close:notif_e8f03a6b-7c21-4d95-a0b4-3f1e6c9d2b57',
      }),
    ]);
  });

  it("leaves out the bridge's own close (made through the API as INTERCOM_ADMIN_ID)", () => {
    const own = edited('intercom-conversation-admin-closed.json', (json) => {
      const part = firstPart(json);
      part.author = { type: 'admin', id: BRIDGE_ADMIN, name: 'BLiP Bridge' };
      part.app_package_code = 'blip-helpdesk-bridge';
    });
    expect(webhook.parse(own)).toEqual([]);
    // The same admin closing by hand in the inbox is a real close.
    const byHand = edited('intercom-conversation-admin-closed.json', (json) => {
      firstPart(json).author = { type: 'admin', id: BRIDGE_ADMIN, name: 'BLiP Bridge' };
    });
    expect(webhook.parse(byHand).map((e) => e.kind)).toEqual(['ticket.closed']);
  });

  it('drops ping (id null)', () => {
    expect(webhook.parse(vendorFixture('intercom-ping.json'))).toEqual([]);
  });

  it("drops conversation.user.replied (the customer's own message: the bridge's echo)", () => {
    const echo = edited('intercom-conversation-admin-replied.json', (json) => {
      json.topic = 'conversation.user.replied';
      const part = firstPart(json);
      part.author = { type: 'user', id: '6712a4f0c3b9e20017d8a1f5', name: 'Maria Oliveira', email: '' };
      part.app_package_code = 'blip-helpdesk-bridge';
    });
    expect(webhook.parse(echo)).toEqual([]);
  });

  it('drops a part written by the contact even under an admin topic', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-replied.json', (json) => {
        firstPart(json).author = { type: 'user', id: '6712a4f0c3b9e20017d8a1f5', name: 'Maria Oliveira' };
      }),
    );
    expect(events).toEqual([]);
  });

  it('turns an HTML body (API versions before 2.15) into clean text', () => {
    const event = onlyAgentMessage(
      webhook.parse(
        edited('intercom-conversation-admin-replied.json', (json) => {
          firstPart(json).body =
            '<p>Olá Maria!</p><p>Seu pedido saiu às 9h &amp; chega até as 18h.<br>Rastreio: <a href="https://rastreio.example/88231">aqui</a></p>';
          firstPart(json).attachments = [];
        }),
      ),
    );
    expect(event.message.text).toBe(
      'Olá Maria!\nSeu pedido saiu às 9h & chega até as 18h.\nRastreio: aqui (https://rastreio.example/88231)',
    );
    expect(event.message.attachments).toBeUndefined();
  });

  it('delivers a reply that also assigns (an assignment part carrying the text) and records the assignment', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-assigned.json', (json) => {
        json.topic = 'conversation.admin.replied';
        const part = firstPart(json);
        part.body = '<p>Oi Maria, sou a Ana e vou cuidar do seu pedido.</p>';
        part.author = { type: 'admin', id: '8823104', name: 'Ana Souza' };
      }),
    );
    expect(events).toEqual([
      expect.objectContaining({
        kind: 'agent.message',
        eventId: 'part:37360071186',
        agent: { id: '8823104', name: 'Ana Souza' },
        message: expect.objectContaining({ text: 'Oi Maria, sou a Ana e vou cuidar do seu pedido.' }),
      }),
      {
        kind: 'ticket.assigned',
        ticket: { vendor: 'intercom', id: '215472899104387' },
        eventId: 'assign:37360071186',
        agent: { id: '8823104', name: 'Ana Souza' },
      },
    ]);
  });

  it('turns an assignment to a team into ticket.transferred, the team by id (team_assignee_id)', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-assigned.json', (json) => {
        firstPart(json).assigned_to = { type: 'team', id: '5017691' };
      }),
    );
    expect(events).toEqual([
      {
        kind: 'ticket.transferred',
        ticket: { vendor: 'intercom', id: '215472899104387' },
        eventId: 'team:37360071186',
        team: { id: '5017691' },
      },
    ]);
  });

  it('delivers an attachment-only reply (no text)', () => {
    const event = onlyAgentMessage(
      webhook.parse(
        edited('intercom-conversation-admin-replied.json', (json) => {
          firstPart(json).body = null;
        }),
      ),
    );
    expect(event.message.text).toBe('');
    expect(event.message.attachments).toHaveLength(2);
  });

  it('delivers every admin part of a notification, oldest first', () => {
    const events = webhook.parse(
      edited('intercom-conversation-admin-replied.json', (json) => {
        const first = firstPart(json);
        json.data.item.conversation_parts.conversation_parts = [
          { ...first, id: '1', body: 'um', attachments: [] },
          { ...first, id: '2', part_type: 'note', body: 'nota interna', attachments: [] },
          { ...first, id: '3', body: 'dois', attachments: [] },
        ];
      }),
    );
    expect(events.map((e) => (e.kind === 'agent.message' ? e.message.text : e.kind))).toEqual(['um', 'dois']);
  });

  it.each(['conversation.admin.snoozed', 'conversation.user.created', 'contact.user.created'])(
    'ignores topic %s',
    (topic) => {
      expect(
        webhook.parse(edited('intercom-conversation-admin-replied.json', (json) => (json.topic = topic))),
      ).toEqual([]);
    },
  );

  it.each([
    ['not JSON', 'this is not json'],
    ['an empty object', '{}'],
    ['JSON null', 'null'],
    ['another envelope type', '{"type":"event","topic":"conversation.admin.replied","data":{"item":{}}}'],
    [
      'a replied notification whose item is not a conversation',
      '{"type":"notification_event","topic":"conversation.admin.replied","data":{"item":{"type":"ticket","id":"1"}}}',
    ],
    [
      'a part without author',
      JSON.stringify({
        type: 'notification_event',
        topic: 'conversation.admin.replied',
        data: {
          item: {
            type: 'conversation',
            id: '1',
            conversation_parts: { conversation_parts: [{ id: '2', part_type: 'comment', body: 'x' }] },
          },
        },
      }),
    ],
  ])('throws PermanentError INTERCOM_BAD_WEBHOOK for %s', (_what, body) => {
    let thrown: unknown;
    try {
      webhook.parse(request(body));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PermanentError);
    expect((thrown as PermanentError).code).toBe('INTERCOM_BAD_WEBHOOK');
  });
});

describe('Intercom customer message content', () => {
  it('puts the text, then every file as a link, in the body, and the files as attachment_urls', () => {
    expect(
      partContent({
        id: 'm1',
        text: 'segue a foto',
        at: '2026-11-03T14:00:00Z',
        attachments: [
          { url: 'https://media.msging.net/a.jpg', mimeType: 'image/jpeg', name: 'a.jpg' },
          { url: 'https://media.msging.net/b.pdf', mimeType: 'application/pdf' },
        ],
      }),
    ).toEqual({
      body: 'segue a foto\na.jpg: https://media.msging.net/a.jpg\napplication/pdf: https://media.msging.net/b.pdf',
      attachmentUrls: ['https://media.msging.net/a.jpg', 'https://media.msging.net/b.pdf'],
    });
  });

  it('sends at most 10 attachment URLs (Intercom limit), every link still in the body', () => {
    const attachments = Array.from({ length: 12 }, (_, i) => ({
      url: `https://media.msging.net/${i}.png`,
      mimeType: 'image/png',
    }));
    const content = partContent({ id: 'm', text: '', at: '2026-11-03T14:00:00Z', attachments });
    expect(content.attachmentUrls).toHaveLength(10);
    expect(content.body.split('\n')).toHaveLength(12);
  });

  it('never sends an empty body', () => {
    expect(partContent({ id: 'm', text: '  ', at: '2026-11-03T14:00:00Z' }).body).toBe('(empty message)');
  });
});

describe('Intercom configuration', () => {
  const required = {
    INTERCOM_ACCESS_TOKEN: 'token',
    INTERCOM_CLIENT_SECRET: 'secret',
    INTERCOM_ADMIN_ID: '8823001',
  };

  it('fills the documented defaults', () => {
    expect(intercomConfigSchema.parse(required)).toEqual({
      ...required,
      INTERCOM_REGION: 'us',
      INTERCOM_API_VERSION: '2.15',
      INTERCOM_REQUESTS_PER_MINUTE: 10_000,
      INTERCOM_TIMEOUT_MS: 10_000,
      INTERCOM_CONTACT_ATTRIBUTES: [],
      INTERCOM_TEAMS: {},
    });
  });

  it.each([
    ['INTERCOM_ADMIN_ID', 'ana.souza@acme.com.br'],
    ['INTERCOM_REGION', 'br'],
    ['INTERCOM_API_VERSION', 'latest'],
    ['INTERCOM_BASE_URL', 'api.intercom.io'],
    ['INTERCOM_REQUESTS_PER_MINUTE', '0'],
  ])('rejects %s=%s', (key, value) => {
    const result = intercomConfigSchema.safeParse({ ...required, [key]: value });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([key]);
  });

  it('requires the token, the client secret and the admin id', () => {
    const result = intercomConfigSchema.safeParse({});
    expect(result.error?.issues.map((i) => i.path[0]).sort()).toEqual([
      'INTERCOM_ACCESS_TOKEN',
      'INTERCOM_ADMIN_ID',
      'INTERCOM_CLIENT_SECRET',
    ]);
  });
});
