import { externalIdFor, sessionIdFrom } from '../../src/adapters/zendesk/external-id';
import { createHmac } from 'node:crypto';
import type { RawRequest } from '../../src/adapters/adapter';
import { ZendeskWebhook } from '../../src/adapters/zendesk/webhook';
import { PermanentError } from '../../src/core/errors';
import type { AgentMessageEvent, HelpdeskEvent, TicketClosedEvent } from '../../src/core/model';
import { readFixture, readJsonFixture } from '../helpers/fixtures';

const SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';
const SIGNED_BODY = 'fixtures/vendors/zendesk-event-comment-added-public-agent.json';
const headers = readJsonFixture<Record<string, string>>('fixtures/vendors/zendesk-webhook-headers.json');

function request(body: Buffer | string, hdrs: Record<string, string | undefined> = headers): RawRequest {
  return {
    method: 'POST',
    path: '/webhooks/zendesk',
    headers: hdrs,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    receivedAt: new Date('2026-11-03T14:22:06Z'),
  };
}

function vendorFixture(name: string): RawRequest {
  return request(readFixture(`fixtures/vendors/${name}`));
}

function onlyAgentMessage(events: HelpdeskEvent[]): AgentMessageEvent {
  expect(events).toHaveLength(1);
  const [event] = events;
  if (event?.kind !== 'agent.message') throw new Error(`expected agent.message, got ${event?.kind}`);
  return event;
}

describe('ZendeskWebhook.verify', () => {
  const webhook = new ZendeskWebhook(SECRET);
  const body = readFixture(SIGNED_BODY);
  const timestamp = headers['x-zendesk-webhook-signature-timestamp']!;

  it('accepts the exact fixture bytes signed with the test secret, and reports when they were signed', () => {
    const result = webhook.verify(request(body));
    expect(result).toEqual({ ok: true, signedAt: new Date('2026-11-03T14:22:05Z') });
  });

  it('rejects a body that differs by one byte', () => {
    const tampered = Buffer.from(body);
    const at = tampered.indexOf('88231');
    tampered[at] = '9'.charCodeAt(0);
    expect(tampered.equals(body)).toBe(false);
    expect(webhook.verify(request(tampered)).ok).toBe(false);
  });

  it('rejects the body re-serialised without its trailing newline (signature is over raw bytes)', () => {
    const reserialised = JSON.stringify(JSON.parse(body.toString('utf8')), null, 2);
    expect(webhook.verify(request(reserialised)).ok).toBe(false);
  });

  it('rejects the right body verified with a wrong secret', () => {
    expect(new ZendeskWebhook(`${SECRET}x`).verify(request(body)).ok).toBe(false);
    // The secret is used as a UTF-8 string key, not base64-decoded.
    expect(
      new ZendeskWebhook(Buffer.from(SECRET, 'base64').toString('latin1')).verify(request(body)).ok,
    ).toBe(false);
  });

  it.each(['x-zendesk-webhook-signature', 'x-zendesk-webhook-signature-timestamp'])(
    'rejects a request without %s',
    (name) => {
      const result = webhook.verify(request(body, { ...headers, [name]: undefined }));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/missing/i);
    },
  );

  it('rejects a changed timestamp header (the timestamp is signed too)', () => {
    const result = webhook.verify(
      request(body, { ...headers, 'x-zendesk-webhook-signature-timestamp': '2026-11-03T14:22:06Z' }),
    );
    expect(result).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('rejects an unreadable timestamp', () => {
    const result = webhook.verify(
      request(body, { ...headers, 'x-zendesk-webhook-signature-timestamp': 'yesterday' }),
    );
    expect(result.ok).toBe(false);
  });

  it('rejects the right HMAC given as hex instead of base64', () => {
    const hex = createHmac('sha256', SECRET).update(timestamp).update(body).digest('hex');
    expect(Buffer.from(hex, 'hex').toString('base64')).toBe(headers['x-zendesk-webhook-signature']);
    expect(webhook.verify(request(body, { ...headers, 'x-zendesk-webhook-signature': hex })).ok).toBe(false);
  });

  it('rejects a signature over body + timestamp (wrong order)', () => {
    const swapped = createHmac('sha256', SECRET).update(body).update(timestamp).digest('base64');
    expect(webhook.verify(request(body, { ...headers, 'x-zendesk-webhook-signature': swapped })).ok).toBe(
      false,
    );
  });

  it('accepts a fresh signature over other bytes, computed the documented way', () => {
    const other = Buffer.from('{"hello":"world"}');
    const ts = '2026-11-03T15:00:00Z';
    const sig = createHmac('sha256', SECRET)
      .update(ts + other.toString('utf8'))
      .digest('base64');
    const result = webhook.verify(
      request(other, { 'x-zendesk-webhook-signature': sig, 'x-zendesk-webhook-signature-timestamp': ts }),
    );
    expect(result.ok).toBe(true);
  });
});

describe('ZendeskWebhook.parse: event subscriptions', () => {
  const webhook = new ZendeskWebhook(SECRET);

  it('turns a public agent comment into one agent.message', () => {
    const event = onlyAgentMessage(
      webhook.parse(vendorFixture('zendesk-event-comment-added-public-agent.json')),
    );
    expect(event.eventId).toBe('comment:30764602215937');
    expect(event.ticket).toMatchObject({ vendor: 'zendesk', id: '48213' });
    expect(event.agent).toEqual({ id: '30764510028417', name: 'Ana Souza' });
    expect(event.message.id).toBe('30764602215937');
    expect(event.message.text).toBe(
      'Olá Maria! Localizei seu pedido 88231: ele saiu para entrega hoje às 9h e deve chegar até as 18h. Segue o comprovante em anexo.',
    );
    expect(event.message.at).toBe('2026-11-03T14:22:05.418233907Z');
  });

  it('drops a private note (internal, never reaches the customer)', () => {
    expect(webhook.parse(vendorFixture('zendesk-event-comment-added-private-note.json'))).toEqual([]);
  });

  it("drops the end user's own public comment (the bridge's echo)", () => {
    expect(webhook.parse(vendorFixture('zendesk-event-comment-added-public-end-user.json'))).toEqual([]);
  });

  it('turns status SOLVED into ticket.closed', () => {
    const events = webhook.parse(vendorFixture('zendesk-event-status-changed-solved.json'));
    expect(events).toEqual([
      {
        kind: 'ticket.closed',
        ticket: { vendor: 'zendesk', id: '48213' },
        eventId: 'status:7b3e5d21-0a8c-4f6e-9d14-b2c6a8e0f359',
        reason: 'solved',
        // external_id blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31 names the handoff session.
        sessionId: '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31',
      },
    ]);
  });

  it('ignores a status change that does not close the ticket', () => {
    const json = readJsonFixture<{ event: { current: string } }>(
      'fixtures/vendors/zendesk-event-status-changed-solved.json',
    );
    json.event.current = 'PENDING';
    expect(webhook.parse(request(JSON.stringify(json)))).toEqual([]);
  });

  it('turns attachment_linked_to_comment into an agent.message carrying the attachment', () => {
    const event = onlyAgentMessage(
      webhook.parse(vendorFixture('zendesk-event-attachment-linked-to-comment.json')),
    );
    expect(event.ticket.id).toBe('48213');
    expect(event.eventId).toBe('attachment:30764602216193');
    expect(event.message.text).toBe('');
    expect(event.message.attachments).toEqual([
      {
        url: 'https://acme-suporte.zendesk.com/attachments/token/Qm9x2Lr7TzK4vWc8Ys1NpA3eH/?name=comprovante-entrega-88231.pdf',
        mimeType: 'application/pdf',
        name: 'comprovante-entrega-88231.pdf',
      },
    ]);
  });

  it('drops an attachment the requester linked (their own upload)', () => {
    const json = readJsonFixture<{ detail: { actor_id: string; requester_id: string } }>(
      'fixtures/vendors/zendesk-event-attachment-linked-to-comment.json',
    );
    json.detail.actor_id = json.detail.requester_id;
    expect(webhook.parse(request(JSON.stringify(json)))).toEqual([]);
  });
});

describe('ZendeskWebhook.parse: assignment and group changes', () => {
  const webhook = new ZendeskWebhook(SECRET);
  /** The status fixture's envelope, as another event type with its own `event` (ids only, as Zendesk sends). */
  function eventOf(type: string, event: Record<string, unknown>): RawRequest {
    const json = readJsonFixture<Record<string, unknown>>(
      'fixtures/vendors/zendesk-event-status-changed-solved.json',
    );
    return request(JSON.stringify({ ...json, type: `zen:event-type:ticket.${type}`, event }));
  }

  it('turns agent_assignment_changed into ticket.assigned, the agent by id, with the session', () => {
    const events = webhook.parse(
      eventOf('agent_assignment_changed', { current: { id: '30764510099001' }, previous: null }),
    );
    expect(events).toEqual([
      {
        kind: 'ticket.assigned',
        ticket: { vendor: 'zendesk', id: '48213' },
        eventId: 'assignee:7b3e5d21-0a8c-4f6e-9d14-b2c6a8e0f359',
        agent: { id: '30764510099001' },
        sessionId: sessionIdFrom('blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31'),
      },
    ]);
  });

  it('turns group_assignment_changed into ticket.transferred (bare ids too, as the Events Connector shows them)', () => {
    const [event] = webhook.parse(
      eventOf('group_assignment_changed', { current: 30764498815001, previous: 1 }),
    );
    expect(event).toMatchObject({ kind: 'ticket.transferred', team: { id: '30764498815001' } });
    expect(event?.eventId).toBe('group:7b3e5d21-0a8c-4f6e-9d14-b2c6a8e0f359');
  });

  it('tells nothing when the ticket is unassigned (current null)', () => {
    expect(
      webhook.parse(eventOf('agent_assignment_changed', { current: null, previous: { id: '1' } })),
    ).toEqual([]);
    expect(webhook.parse(eventOf('group_assignment_changed', { current: { id: null } }))).toEqual([]);
  });
});

describe('ZendeskWebhook.parse: trigger payloads', () => {
  const webhook = new ZendeskWebhook(SECRET);

  it('turns the agent-public-comment trigger into an agent.message with the attachment', () => {
    const event = onlyAgentMessage(
      webhook.parse(vendorFixture('zendesk-trigger-payload-agent-public-comment.json')),
    );
    expect(event.eventId).toBe('comment:30764602215937');
    expect(event.ticket).toEqual({ vendor: 'zendesk', id: '48213', requesterId: '30764528193681' });
    expect(event.agent).toEqual({ id: '30764510028417', name: 'Ana Souza' });
    expect(event.message.text).toMatch(/^Olá Maria! Localizei seu pedido 88231/);
    expect(event.message.attachments).toEqual([
      expect.objectContaining({
        url: 'https://acme-suporte.zendesk.com/attachments/token/Qm9x2Lr7TzK4vWc8Ys1NpA3eH/?name=comprovante-entrega-88231.pdf',
        name: 'comprovante-entrega-88231.pdf',
      }),
    ]);
  });

  it('turns the solved trigger into the agent.message FIRST, then ticket.closed', () => {
    const events = webhook.parse(vendorFixture('zendesk-trigger-payload-ticket-solved.json'));
    expect(events.map((e) => e.kind)).toEqual(['agent.message', 'ticket.closed']);
    const closed = events[1] as TicketClosedEvent;
    expect(closed.ticket.id).toBe('48213');
    expect(closed.reason).toBe('solved');
    expect(closed.agent).toEqual({ id: '30764510028417', name: 'Ana Souza' });
    expect(closed.eventId).toContain('48213');
  });

  it('gives the same comment the same eventId on both paths, so dedupe works across them', () => {
    const subscription = onlyAgentMessage(
      webhook.parse(vendorFixture('zendesk-event-comment-added-public-agent.json')),
    );
    const commentTrigger = onlyAgentMessage(
      webhook.parse(vendorFixture('zendesk-trigger-payload-agent-public-comment.json')),
    );
    const solvedTrigger = webhook.parse(vendorFixture('zendesk-trigger-payload-ticket-solved.json'))[0];
    expect(commentTrigger.eventId).toBe(subscription.eventId);
    expect(solvedTrigger?.eventId).toBe(subscription.eventId);
    expect(commentTrigger.ticket.id).toBe(subscription.ticket.id);
  });

  it("leaves out the requester's own latest comment in a solved trigger, keeping the close", () => {
    const json = readJsonFixture<{ ticket: { requester_id: string }; comment: { author_id: string } }>(
      'fixtures/vendors/zendesk-trigger-payload-ticket-solved.json',
    );
    json.comment.author_id = json.ticket.requester_id;
    expect(webhook.parse(request(JSON.stringify(json))).map((e) => e.kind)).toEqual(['ticket.closed']);
  });
});

describe('ZendeskWebhook.parse: assignment triggers', () => {
  const webhook = new ZendeskWebhook(SECRET);

  it('turns the agent-assigned trigger into ticket.assigned with the name from the placeholder', () => {
    expect(webhook.parse(vendorFixture('zendesk-trigger-payload-agent-assigned.json'))).toEqual([
      {
        kind: 'ticket.assigned',
        ticket: { vendor: 'zendesk', id: '48213', requesterId: '30764528193681' },
        eventId: 'assignee:48213:30764510028417:2026-11-03T14:05Z',
        agent: { id: '30764510028417', name: 'Ana Souza' },
        sessionId: sessionIdFrom('blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31'),
      },
    ]);
  });

  it('turns the group-changed trigger into ticket.transferred, the group by its name', () => {
    const [event] = webhook.parse(vendorFixture('zendesk-trigger-payload-group-changed.json'));
    expect(event).toMatchObject({
      kind: 'ticket.transferred',
      eventId: 'group:48213:Financeiro:2026-11-03T14:04Z',
      team: { id: 'Financeiro', name: 'Financeiro' },
    });
  });

  it('tells nothing when the ticket was unassigned (empty placeholders)', () => {
    const json = readJsonFixture<{ assignee: { id: string; name: string } }>(
      'fixtures/vendors/zendesk-trigger-payload-agent-assigned.json',
    );
    json.assignee = { id: '', name: '' };
    expect(webhook.parse(request(JSON.stringify(json)))).toEqual([]);
  });
});

describe('ZendeskWebhook.parse: bad bodies', () => {
  const webhook = new ZendeskWebhook(SECRET);

  it.each([
    ['not JSON', 'this is not json'],
    ['truncated JSON', readFixture(SIGNED_BODY).subarray(0, 100)],
  ])('throws PermanentError for a body that is %s', (_what, body) => {
    expect(() => webhook.parse(request(body))).toThrow(PermanentError);
  });

  it.each([
    ['an empty object', '{}'],
    ['JSON null', 'null'],
    ['an array', '[1,2]'],
    ['an unknown bridge_event', '{"bridge_event":"ticket_deleted","ticket":{"id":"1"}}'],
    [
      'a comment_added event without comment',
      JSON.stringify({
        id: 'x',
        type: 'zen:event-type:ticket.comment_added',
        subject: 'zen:ticket:1',
        detail: { id: '1' },
        event: {},
      }),
    ],
  ])('throws PermanentError for a wrong-shape body: %s', (_what, body) => {
    let thrown: unknown;
    try {
      webhook.parse(request(body));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PermanentError);
    expect((thrown as PermanentError).code).toBe('ZENDESK_BAD_WEBHOOK');
  });
});

describe('Zendesk external ids', () => {
  it('round-trips a session id through the ticket external_id', () => {
    const session = '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31';
    expect(externalIdFor(session)).toBe('blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31');
    expect(sessionIdFrom(externalIdFor(session))).toBe(session);
  });

  it('does not take a foreign external_id for a session', () => {
    expect(sessionIdFrom('ORDER-88231')).toBeUndefined();
    expect(sessionIdFrom(null)).toBeUndefined();
    expect(sessionIdFrom('blip-123')).toBeUndefined();
  });
});
