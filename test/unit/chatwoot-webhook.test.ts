/**
 * Chatwoot webhooks against the fixtures' exact bytes (test/fixtures/chatwoot/, signed as lib/webhooks/trigger.rb
 * signs: sha256=HMAC(secret, "<X-Chatwoot-Timestamp>.<body>")): verify, then parse.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RawRequest } from '../../src/adapters/adapter';
import { appliedMessage, messageBody } from '../../src/adapters/chatwoot';
import { agentMessage, ChatwootWebhook, type ChatwootMessage } from '../../src/adapters/chatwoot/webhook';

const dir = path.resolve(__dirname, '../fixtures/chatwoot');
const signing = JSON.parse(readFileSync(path.join(dir, 'webhook-headers.json'), 'utf8')) as {
  secret: string;
  deliveries: Record<string, Record<string, string>>;
};
const webhook = new ChatwootWebhook(signing.secret, '7');

function request(fixture: string, headers = signing.deliveries[fixture]!, body?: Buffer): RawRequest {
  return {
    method: 'POST',
    path: '/webhooks/chatwoot',
    headers: { 'content-type': 'application/json', ...headers },
    body: body ?? readFileSync(path.join(dir, fixture)),
    receivedAt: new Date(),
  };
}

describe('chatwoot webhook: verify', () => {
  it.each(Object.keys(signing.deliveries))('accepts %s as signed, with the signed time', (fixture) => {
    const verification = webhook.verify(request(fixture));
    expect(verification).toEqual({
      ok: true,
      signedAt: new Date(Number(signing.deliveries[fixture]!['x-chatwoot-timestamp']) * 1000),
    });
  });

  it('refuses a tampered body, a wrong secret, another time and missing headers', () => {
    const fixture = 'message-created-outgoing.json';
    const genuine = readFileSync(path.join(dir, fixture));
    const tampered = Buffer.from(genuine.toString('utf8').replace('Vou verificar', 'Pague para'));
    expect(webhook.verify(request(fixture, undefined, tampered))).toMatchObject({ ok: false });
    expect(
      new ChatwootWebhook('another-secret-of-enough-length', '7').verify(request(fixture)),
    ).toMatchObject({
      ok: false,
    });
    const headers = signing.deliveries[fixture]!;
    const later = { ...headers, 'x-chatwoot-timestamp': String(Number(headers['x-chatwoot-timestamp']) + 1) };
    expect(webhook.verify(request(fixture, later))).toMatchObject({ ok: false });
    const { ['x-chatwoot-signature']: _s, ...unsigned } = headers;
    expect(webhook.verify(request(fixture, unsigned))).toMatchObject({ ok: false });
    const { ['x-chatwoot-timestamp']: _t, ...undated } = headers;
    expect(webhook.verify(request(fixture, undated))).toMatchObject({ ok: false });
    expect(
      webhook.verify(request(fixture, { ...headers, 'x-chatwoot-timestamp': 'yesterday' })),
    ).toMatchObject({
      ok: false,
    });
  });
});

describe('chatwoot webhook: parse', () => {
  const parse = (fixture: string) => webhook.parse(request(fixture));
  const ticket = { vendor: 'chatwoot', id: '1201' };
  const sessionId = '4f1c2a9e-6b3d-4e8a-9c71-2d5e8f0a1b3c';

  it("makes an agent's public reply an agent.message, with the session the conversation carries", () => {
    expect(parse('message-created-outgoing.json')).toEqual([
      {
        kind: 'agent.message',
        ticket,
        eventId: 'message:48017',
        sessionId,
        agent: { id: '2', name: 'Ana Souza' },
        message: {
          id: '48017',
          text: 'Olá Maria! Vou verificar o seu boleto.',
          at: '2026-12-07T13:05:00.000Z',
        },
      },
    ]);
  });

  it('never forwards a private note or the customer’s own (incoming) message', () => {
    expect(parse('message-created-private.json')).toEqual([]);
    expect(parse('message-created-incoming.json')).toEqual([]);
  });

  it("gives the agent's file as an attachment with its link, type, name and size", () => {
    const [event] = parse('message-created-attachment.json');
    expect(event).toMatchObject({
      kind: 'agent.message',
      eventId: 'message:48020',
      message: {
        text: 'Segue o boleto',
        attachments: [
          {
            url: expect.stringMatching(
              /^https:\/\/chat\.acme\.com\.br\/rails\/active_storage\/.*\/boleto\.pdf$/,
            ),
            mimeType: 'application/pdf',
            name: 'boleto.pdf',
            size: 48213,
          },
        ],
      },
    });
  });

  it('closes on conversation_status_changed to resolved', () => {
    expect(parse('conversation-status-changed-resolved.json')).toEqual([
      {
        kind: 'ticket.closed',
        ticket,
        eventId: 'resolved:1201:1796649000.654321',
        reason: 'resolved',
        agent: { id: '2', name: 'Ana Souza' },
        sessionId,
      },
    ]);
  });

  it('reports an assignee change as ticket.assigned and a team change as ticket.transferred, by name', () => {
    expect(parse('conversation-updated-assignee.json')).toEqual([
      {
        kind: 'ticket.assigned',
        ticket,
        eventId: 'assignee:1201:5:1796648900.25',
        agent: { id: '5', name: 'Bruno Tavares' },
        sessionId,
      },
    ]);
    expect(parse('conversation-updated-team.json')).toEqual([
      {
        kind: 'ticket.transferred',
        ticket,
        eventId: 'team:1201:11:1796648950.5',
        team: { id: '11', name: 'Financeiro' },
        sessionId,
      },
    ]);
  });

  it('makes an agent typing a reply a typing state, each delivery its own event; a note or the contact typing is left out', () => {
    const typing = { ...request('conversation-typing-on.json'), receivedAt: new Date(1796648690123) };
    expect(webhook.parse(typing)).toEqual([
      {
        kind: 'agent.typing',
        ticket,
        eventId: 'typing:1201:on:1796648690123',
        state: 'composing',
        sessionId,
      },
    ]);
    const text = readFileSync(path.join(dir, 'conversation-typing-on.json'), 'utf8');
    const off = Buffer.from(text.replace('"conversation_typing_on"', '"conversation_typing_off"'));
    expect(webhook.parse(request('x', {}, off))).toMatchObject([{ kind: 'agent.typing', state: 'paused' }]);
    const inNote = Buffer.from(text.replace('"is_private": false', '"is_private": true'));
    expect(webhook.parse(request('x', {}, inNote))).toEqual([]);
    const contact = Buffer.from(text.replace('"type": "user"', '"type": "contact"'));
    expect(webhook.parse(request('x', {}, contact))).toEqual([]);
  });

  it('leaves out events of another inbox, a status change to open, and events it does not use', () => {
    const other = new ChatwootWebhook(signing.secret, '8');
    expect(other.parse(request('message-created-outgoing.json'))).toEqual([]);
    const reopened = readFileSync(
      path.join(dir, 'conversation-status-changed-resolved.json'),
      'utf8',
    ).replace('"status": "resolved"', '"status": "open"');
    expect(webhook.parse(request('x', {}, Buffer.from(reopened)))).toEqual([]);
    expect(webhook.parse(request('x', {}, Buffer.from('{"event":"contact_updated","id":1}')))).toEqual([]);
  });

  it('refuses a body that is not JSON or has no event (the vendor gets 400)', () => {
    expect(() => webhook.parse(request('x', {}, Buffer.from('not json')))).toThrow(/not JSON/);
    expect(() => webhook.parse(request('x', {}, Buffer.from('{"id":1}')))).toThrow(/no "event"/);
    expect(() => webhook.parse(request('x', {}, Buffer.from('{"event":"message_created","id":1}')))).toThrow(
      /CHATWOOT|unexpected shape/,
    );
  });
});

describe('chatwoot messages from the API', () => {
  const ticket = { vendor: 'chatwoot', id: '1201' };
  const apiMessage = (over: Partial<ChatwootMessage>): ChatwootMessage => ({
    id: '1',
    content: 'oi',
    message_type: 1,
    private: false,
    created_at: 1796648700,
    ...over,
  });

  it('reads the enum message_type and Unix times of the API as the webhook names them', () => {
    expect(agentMessage(ticket, apiMessage({}), 'fallback')).toMatchObject({
      eventId: 'message:1',
      message: { text: 'oi', at: new Date(1796648700 * 1000).toISOString() },
    });
    expect(agentMessage(ticket, apiMessage({ message_type: 0 }), 'x')).toBeUndefined();
    expect(agentMessage(ticket, apiMessage({ message_type: 2 }), 'x')).toBeUndefined();
    expect(agentMessage(ticket, apiMessage({ private: true }), 'x')).toBeUndefined();
  });

  it('finds the message an earlier try made: the latest incoming one with this text, not older than the message', () => {
    const at = new Date(1796648700 * 1000).toISOString();
    const message = { id: 'm', text: 'segunda via', at };
    const incoming = (content: string, created: number) =>
      apiMessage({ id: String(created), content, message_type: 0, created_at: created });
    expect(appliedMessage([incoming('segunda via', 1796648701)], message)?.id).toBe('1796648701');
    // Older than the message: the customer wrote the same text before.
    expect(appliedMessage([incoming('segunda via', 1796648600)], message)).toBeUndefined();
    // Another text came after: not this one.
    expect(
      appliedMessage([incoming('segunda via', 1796648701), incoming('outra', 1796648702)], message),
    ).toBeUndefined();
    expect(appliedMessage([], message)).toBeUndefined();
  });

  it('lists the links of files that are not attached, and never sends an empty body', () => {
    expect(
      messageBody({
        id: 'm',
        text: 'veja',
        at: '2026-12-07T13:00:00Z',
        attachments: [
          { url: 'https://x/a.pdf', mimeType: 'application/pdf', name: 'a.pdf' },
          { url: 'https://x/b.jpg', mimeType: 'image/jpeg', uploadRef: 'message:9' },
        ],
      }),
    ).toBe('veja\na.pdf: https://x/a.pdf');
    expect(messageBody({ id: 'm', text: ' ', at: '2026-12-07T13:00:00Z' })).toBe('(empty message)');
  });
});
