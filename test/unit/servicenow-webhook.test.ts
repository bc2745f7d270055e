import { createHmac } from 'node:crypto';
import type { RawRequest } from '../../src/adapters/adapter';
import { ServiceNowWebhook } from '../../src/adapters/servicenow/webhook';
import { PermanentError } from '../../src/core/errors';
import type { AgentMessageEvent, HelpdeskEvent, TicketClosedEvent } from '../../src/core/model';
import { readFixture, readJsonFixture } from '../helpers/fixtures';

const SECRET = 'test-servicenow-push-secret';
const COMMENT = 'fixtures/vendors/servicenow-push-comment-added.json';
const RESOLVED = 'fixtures/vendors/servicenow-push-state-resolved.json';
const fixtureHeaders = readJsonFixture<Record<string, string>>(
  'fixtures/vendors/servicenow-push-headers.json',
);
/** As the HTTP edge hands them over: names in lower case. */
const headers = Object.fromEntries(Object.entries(fixtureHeaders).map(([k, v]) => [k.toLowerCase(), v]));
const options = { closedStates: ['6', '7', '8'], integrationUser: 'blip.integration' };

function request(body: Buffer | string, hdrs: Record<string, string | undefined> = headers): RawRequest {
  return {
    method: 'POST',
    path: '/webhooks/servicenow',
    headers: hdrs,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    receivedAt: new Date('2026-11-03T14:22:06Z'),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of a JSON fixture in tests
type Json = Record<string, any>;

/** A fixture body with some fields changed (parse tests; parse does not check signatures). */
function variant(rel: string, change: (body: Json) => void): RawRequest {
  const body = readJsonFixture<Json>(rel);
  change(body);
  return request(JSON.stringify(body));
}

function only<K extends HelpdeskEvent['kind']>(
  events: HelpdeskEvent[],
  kind: K,
): Extract<HelpdeskEvent, { kind: K }> {
  expect(events).toHaveLength(1);
  const [event] = events;
  if (event?.kind !== kind) throw new Error(`expected ${kind}, got ${event?.kind}`);
  return event as Extract<HelpdeskEvent, { kind: K }>;
}

describe('ServiceNowWebhook.verify', () => {
  const webhook = new ServiceNowWebhook(SECRET, options);
  const body = readFixture(COMMENT);
  const timestamp = headers['x-bridge-timestamp']!;

  it('accepts the exact fixture bytes signed with the test secret, and reports when they were signed', () => {
    expect(webhook.verify(request(body))).toEqual({ ok: true, signedAt: new Date(1793715725 * 1000) });
    expect(new Date(1793715725 * 1000).toISOString()).toBe('2026-11-03T14:22:05.000Z');
  });

  it('allows 15 minutes of skew: executeAsync deliveries can lag', () => {
    expect(webhook.maxSkewSeconds).toBe(900);
  });

  it('rejects a body that differs by one byte', () => {
    const tampered = Buffer.from(body);
    const at = tampered.indexOf('88231');
    tampered[at] = '9'.charCodeAt(0);
    expect(webhook.verify(request(tampered))).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('rejects the body re-serialised (the signature is over the raw bytes, \\u escapes included)', () => {
    const reserialised = JSON.stringify(JSON.parse(body.toString('utf8')));
    expect(reserialised).not.toBe(body.toString('utf8'));
    expect(webhook.verify(request(reserialised)).ok).toBe(false);
  });

  it('rejects the right body verified with a wrong secret', () => {
    expect(new ServiceNowWebhook(`${SECRET}x`, options).verify(request(body)).ok).toBe(false);
    // The Business Rule base64-encodes the secret only to hand it to generateMac, which decodes it again.
    expect(
      new ServiceNowWebhook(Buffer.from(SECRET).toString('base64'), options).verify(request(body)).ok,
    ).toBe(false);
  });

  it.each(['x-bridge-signature', 'x-bridge-timestamp'])('rejects a request without %s', (name) => {
    const result = webhook.verify(request(body, { ...headers, [name]: undefined }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/missing/i);
  });

  it('rejects a changed timestamp header (the timestamp is signed too)', () => {
    const result = webhook.verify(request(body, { ...headers, 'x-bridge-timestamp': '1793715726' }));
    expect(result).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it.each(['2026-11-03T14:22:05Z', '1793715725.5', '', '-1'])('rejects the timestamp %p', (ts) => {
    expect(webhook.verify(request(body, { ...headers, 'x-bridge-timestamp': ts })).ok).toBe(false);
  });

  it('rejects the signature without its v1= prefix, or with another version', () => {
    const bare = headers['x-bridge-signature']!.slice(3);
    expect(webhook.verify(request(body, { ...headers, 'x-bridge-signature': bare })).ok).toBe(false);
    expect(webhook.verify(request(body, { ...headers, 'x-bridge-signature': `v2=${bare}` })).ok).toBe(false);
  });

  it('rejects the right HMAC given as hex, or computed without the "." separator', () => {
    const hex = createHmac('sha256', SECRET).update(`${timestamp}.`).update(body).digest('hex');
    expect(webhook.verify(request(body, { ...headers, 'x-bridge-signature': `v1=${hex}` })).ok).toBe(false);
    const joined = createHmac('sha256', SECRET).update(timestamp).update(body).digest('base64');
    expect(webhook.verify(request(body, { ...headers, 'x-bridge-signature': `v1=${joined}` })).ok).toBe(
      false,
    );
  });

  it('accepts a fresh signature over other bytes, computed the documented way', () => {
    const other = '{"hello":"world"}';
    const ts = '1793716000';
    const sig = createHmac('sha256', SECRET).update(`${ts}.${other}`).digest('base64');
    const result = webhook.verify(
      request(other, { 'x-bridge-signature': `v1=${sig}`, 'x-bridge-timestamp': ts }),
    );
    expect(result).toEqual({ ok: true, signedAt: new Date(Number(ts) * 1000) });
  });
});

describe('ServiceNowWebhook.parse', () => {
  const webhook = new ServiceNowWebhook(SECRET, options);

  it('turns a new Additional comment into one agent.message, keyed by the journal entry', () => {
    const event: AgentMessageEvent = only(webhook.parse(request(readFixture(COMMENT))), 'agent.message');
    expect(event.eventId).toBe('journal:d41f8b2c6e0a4c7f9b3e5a1d7c2f8e60');
    expect(event.ticket).toEqual({
      vendor: 'servicenow',
      id: '9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c',
      number: 'INC0010234',
    });
    expect(event.agent).toEqual({ id: 'ana.souza', name: 'Ana Souza' });
    // The handoff session, read back from correlation_id: an event racing the open still finds its customer.
    expect(event.sessionId).toBe('7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31');
    expect(event.message).toEqual({
      id: 'd41f8b2c6e0a4c7f9b3e5a1d7c2f8e60',
      // journal.value (the \u escapes decoded), not journal.entry with its header line.
      text: 'Olá Maria! Localizei seu pedido 88231: ele saiu para entrega hoje às 9h e deve chegar até as 18h.',
      at: '2026-11-03T14:22:05Z',
    });
  });

  it('turns a state change into Resolved into ticket.closed, keyed by sys_id and sys_mod_count', () => {
    const event: TicketClosedEvent = only(webhook.parse(request(readFixture(RESOLVED))), 'ticket.closed');
    expect(event).toEqual({
      kind: 'ticket.closed',
      ticket: { vendor: 'servicenow', id: '9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c', number: 'INC0010234' },
      eventId: 'state:9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c:7',
      reason: 'resolved',
      agent: { id: 'ana.souza' },
      sessionId: '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31',
    });
  });

  it('turns an assignment push into ticket.transferred then ticket.assigned, with the display names', () => {
    const events = webhook.parse(
      variant(RESOLVED, (b) => {
        b.event_type = 'assignment.changed';
        b.event_id = '9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c:8:assignment';
        b.assignment = {
          assigned_to: { sys_id: '46d44a5ea9fe198100bfd4cbd3e6a2f0', name: 'Bruno Tavares' },
          assignment_group: { sys_id: '287ebd7da9fe198100f92cc8d1d2154e', name: 'Financeiro' },
        };
      }),
    );
    const ticket = { vendor: 'servicenow', id: '9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c', number: 'INC0010234' };
    const sessionId = '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31';
    expect(events).toEqual([
      {
        kind: 'ticket.transferred',
        ticket,
        eventId: 'group:9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c:287ebd7da9fe198100f92cc8d1d2154e',
        team: { id: '287ebd7da9fe198100f92cc8d1d2154e', name: 'Financeiro' },
        sessionId,
      },
      {
        kind: 'ticket.assigned',
        ticket,
        eventId: 'assigned:9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c:46d44a5ea9fe198100bfd4cbd3e6a2f0',
        agent: { id: '46d44a5ea9fe198100bfd4cbd3e6a2f0', name: 'Bruno Tavares' },
        sessionId,
      },
    ]);
  });

  it('tells nothing for an assignment push that only cleared the assignee', () => {
    const events = webhook.parse(
      variant(RESOLVED, (b) => {
        b.event_type = 'assignment.changed';
        b.assignment = { assigned_to: { sys_id: '', name: '' }, assignment_group: null };
      }),
    );
    expect(events).toEqual([]);
  });

  it('names no session when correlation_id is not one the bridge wrote', () => {
    const event = only(
      webhook.parse(variant(COMMENT, (b) => (b.record.correlation_id = 'CHG-42'))),
      'agent.message',
    );
    expect(event.sessionId).toBeUndefined();
  });

  it.each([
    ['7', 'closed'],
    ['8', 'canceled'],
  ])('closes on state %s too (%s)', (state, reason) => {
    const events = webhook.parse(variant(RESOLVED, (b) => (b.state.current = state)));
    expect(only(events, 'ticket.closed').reason).toBe(reason);
  });

  it('ignores other state changes (On Hold, back to In Progress)', () => {
    expect(webhook.parse(variant(RESOLVED, (b) => (b.state = { previous: '2', current: '3' })))).toEqual([]);
    expect(webhook.parse(variant(RESOLVED, (b) => (b.state = { previous: '6', current: '2' })))).toEqual([]);
  });

  it('uses the configured closed states (CSM cases close with 3)', () => {
    const cases = new ServiceNowWebhook(SECRET, { ...options, closedStates: ['3', '6', '7'] });
    const body = variant(RESOLVED, (b) => {
      b.table = 'sn_customerservice_case';
      b.state.current = '3';
    });
    expect(only(cases.parse(body), 'ticket.closed').reason).toBe('closed');
    expect(webhook.parse(body)).toEqual([]);
  });

  it('leaves the agent out when the bridge itself resolved the record', () => {
    const event = only(
      webhook.parse(variant(RESOLVED, (b) => (b.record.sys_updated_by = 'blip.integration'))),
      'ticket.closed',
    );
    expect(event.agent).toBeUndefined();
  });

  it('never forwards a work note', () => {
    expect(webhook.parse(variant(COMMENT, (b) => (b.journal.element = 'work_notes')))).toEqual([]);
  });

  it("never echoes the bridge's own comment (the customer's message)", () => {
    const own = variant(COMMENT, (b) => {
      b.journal.sys_created_by = 'blip.integration';
      b.journal.author_is_integration_user = true;
    });
    expect(webhook.parse(own)).toEqual([]);
  });

  it('drops its own comment even when the instance lacks blip_bridge.integration_user (flag false)', () => {
    const own = variant(COMMENT, (b) => (b.journal.sys_created_by = 'blip.integration'));
    expect(webhook.parse(own)).toEqual([]);
  });

  it('ignores an empty comment and an event type it does not know', () => {
    expect(webhook.parse(variant(COMMENT, (b) => (b.journal.value = '  ')))).toEqual([]);
    expect(webhook.parse(variant(COMMENT, (b) => (b.event_type = 'record.deleted')))).toEqual([]);
  });

  it.each([
    ['not JSON', () => request('{"contract":')],
    [
      'another contract',
      () => variant(COMMENT, (b) => (b.contract = 'blip-helpdesk-bridge/servicenow-push/v2')),
    ],
    ['no record', () => variant(COMMENT, (b) => delete b.record)],
    ['a comment without its journal', () => variant(COMMENT, (b) => delete b.journal)],
    [
      'a journal without author flag',
      () => variant(COMMENT, (b) => delete b.journal.author_is_integration_user),
    ],
    ['a state change without state', () => variant(RESOLVED, (b) => delete b.state)],
  ])('throws PermanentError on %s', (_what, body) => {
    expect(() => webhook.parse(body())).toThrow(PermanentError);
  });
});
